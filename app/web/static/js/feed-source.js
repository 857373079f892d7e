// @ts-check
/**
 * Where the job feed's updates come from: the one seam between the feed widget
 * and its transport. Today a poller: a setTimeout chain that never overlaps,
 * pauses while the document is hidden, and after a failure retries after
 * min(interval, 1/2/5/10/15/30 s). A push source (server-sent events) can take
 * its place by implementing the same FeedSource.
 */
import { getJSON } from "./api.js";

/** After the nth failure in a row, retry within this many seconds. */
export const BACKOFF_S = [1, 2, 5, 10, 15, 30];

/**
 * @typedef {object} FeedSource
 * @property {() => void} start
 * @property {() => void} stop
 * @property {(ms: number) => void} setInterval   the cadence, in ms
 * @property {() => void} refresh                  fetch now (Retry)
 */

/**
 * @typedef {object} PollOptions
 * @property {number} intervalMs
 * @property {(result: import("./api.js").Result) => void} onResult
 * @property {(next: { at: number, failures: number }) => void} [onSchedule]
 * @property {string} [path]
 * @property {Document} [doc]
 */

/**
 * A healthy answer is a 200 whose upstream query did not fail.
 * @param {import("./api.js").Result} result
 */
export const healthy = (result) => result.ok && result.data?.queryFailed !== true;

/**
 * Poll the job-feed route (never with refresh=1: the cache decides freshness).
 * @param {PollOptions} options
 * @returns {FeedSource}
 */
export function pollingFeed({ intervalMs, onResult, onSchedule, path = "/api/v1/dashboard/job-feed", doc = document }) {
  let interval = intervalMs;
  let failures = 0;
  let running = false;
  let inFlight = false;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  let dueAt = 0;
  /** @type {AbortController | null} */
  let controller = null;

  const delay = () => (failures ? Math.min(interval, BACKOFF_S[Math.min(failures, BACKOFF_S.length) - 1] * 1000) : interval);

  function clear() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  /** @param {number} ms */
  function schedule(ms) {
    clear();
    dueAt = Date.now() + ms;
    onSchedule?.({ at: dueAt, failures });
    if (!running || doc.hidden) return; // resumed by visibilitychange
    timer = setTimeout(poll, ms);
  }

  async function poll() {
    timer = null;
    if (!running || inFlight) return;
    inFlight = true;
    controller = new AbortController();
    const result = await getJSON(`${path}?pollMs=${interval}`, { signal: controller.signal });
    inFlight = false;
    if (!running || result === null) return;
    failures = healthy(result) ? 0 : failures + 1;
    schedule(delay());
    onResult(result);
  }

  function onVisibility() {
    if (!running) return;
    if (doc.hidden) {
      clear();
    } else if (timer === null && !inFlight) {
      const wait = dueAt - Date.now();
      if (wait > 0) schedule(wait);
      else void poll();
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      doc.addEventListener("visibilitychange", onVisibility);
      if (doc.hidden) schedule(0);
      else void poll();
    },
    stop() {
      running = false;
      clear();
      controller?.abort();
      doc.removeEventListener("visibilitychange", onVisibility);
    },
    setInterval(ms) {
      interval = ms;
      if (running && !inFlight) schedule(delay());
    },
    refresh() {
      if (running && !inFlight) {
        clear();
        void poll();
      }
    },
  };
}
