// @ts-check
/**
 * Where the job feed's updates come from: the one seam between the feed widget
 * and its transport, two FeedSources. `pushFeed` (the page's): server-sent
 * events from the job-feed stream, the list rebuilt from its snapshot, delta and
 * status events and handed over as a job-feed answer; a dropped stream
 * reconnects after 1, then 2 s; after 3 failed connections in a row, or at once
 * when the server refuses the stream (503: its cap, a shutdown), it polls
 * instead and tries push again every 20 s, the first event of a new stream
 * ending the polling; a hidden page holds no stream. `pollingFeed`: a setTimeout
 * chain that never overlaps, pauses while the document is hidden, and after a
 * failure retries after min(interval, 1/2/5/10/15/30 s).
 */
import { bodyOf, getJSON, openStream } from "./api.js";

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
export const healthy = (result) => result.ok && bodyOf(result, "DashboardJobFeed")?.queryFailed !== true;

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

// --- push ---------------------------------------------------------------------

export const STREAM_PATH = "/api/v1/dashboard/job-feed/stream";
/** Failed connections in a row before the widget polls instead. */
export const MAX_FAILURES = 3;
/** While polling, how often push is tried again (ms; off the polls' 5/15/30/90 s). */
export const PUSH_RETRY_MS = 20_000;

/**
 * The stream's events (its OpenAPI entry describes them in prose: text/event-stream
 * has no JSON schema there); `stream` is exactly a job-feed entry.
 * @typedef {NonNullable<import("./api.js").Body<"DashboardJobFeed">>} JobFeed
 * @typedef {JobFeed["streams"][number]} Entry
 * @typedef {{ seq: number, keys: string[], streams: Entry[], stale: boolean, lastSuccessAt: string | null }} SnapshotEvent
 * @typedef {{ seq: number, added: { key: string, stream: Entry }[], updated: { key: string, stream: Entry }[], removed: string[] }} DeltaEvent
 * @typedef {{ seq: number, stale: boolean, lastSuccessAt: string | null }} StatusEvent
 */

/**
 * The job feed pushed, falling back to `pollingFeed` (see the module's comment).
 * @param {PollOptions & { streamPath?: string }} options
 * @returns {FeedSource}
 */
export function pushFeed({ intervalMs, onResult, onSchedule, doc = document, streamPath = STREAM_PATH }) {
  const poller = pollingFeed({ intervalMs, onResult, onSchedule, doc });
  let running = false;
  let polling = false; // the fallback is on
  let failures = 0;
  /** @type {(() => void) | null} */
  let closeStream = null;
  /** @type {ReturnType<typeof setTimeout> | null} */
  let timer = null;
  /** The list as the events built it: stream key -> the REST entry. */
  /** @type {Map<string, Entry>} */
  let rows = new Map();
  let seq = 0;
  let stale = false;
  /** @type {string | null} */
  let lastSuccessAt = null;

  function deliver() {
    /** @type {JobFeed} the same body as the poll's */
    const data = { streams: [...rows.values()], clickhouseConfigured: true, queryFailed: stale };
    onResult({
      ok: true,
      status: 200,
      data,
      simulated: false, // an event stream has no X-Data-Source: the other routes tell
      dataTime: lastSuccessAt ? Date.parse(lastSuccessAt) : Date.now(),
    });
  }

  /** A stream works: no more failures, no more polling. */
  function working() {
    failures = 0;
    if (polling) {
      polling = false;
      poller.stop();
    }
  }

  const handlers = {
    /** @param {SnapshotEvent} d */
    snapshot(d) {
      working();
      rows = new Map(d.keys.map((key, i) => [key, d.streams[i]]));
      seq = d.seq;
      stale = d.stale;
      lastSuccessAt = d.lastSuccessAt;
      deliver();
    },
    /** @param {DeltaEvent} d */
    delta(d) {
      if (d.seq <= seq) return;
      seq = d.seq;
      for (const key of d.removed) rows.delete(key);
      for (const change of d.updated) rows.set(change.key, change.stream);
      if (d.added.length) {
        rows = new Map([...d.added.map(({ key, stream }) => /** @type {const} */ ([key, stream])), ...rows]);
      }
      deliver();
    },
    /** @param {StatusEvent} d */
    status(d) {
      if (d.seq <= seq) return;
      seq = d.seq;
      stale = d.stale;
      lastSuccessAt = d.lastSuccessAt;
      deliver();
    },
  };

  function clearTimer() {
    if (timer !== null) clearTimeout(timer);
    timer = null;
  }

  /** @param {number} ms */
  function later(ms) {
    clearTimer();
    timer = setTimeout(connect, ms);
    if (!polling) onSchedule?.({ at: Date.now() + ms, failures });
  }

  function connect() {
    clearTimer();
    closeStream?.();
    closeStream = null;
    if (!running || doc.hidden) return;
    closeStream = openStream(streamPath, handlers, ({ refused }) => {
      closeStream = null;
      failures += 1;
      if (polling) {
        later(PUSH_RETRY_MS); // push still fails: keep polling
      } else if (refused || failures >= MAX_FAILURES) {
        polling = true;
        poller.start();
        later(PUSH_RETRY_MS);
      } else {
        later(BACKOFF_S[failures - 1] * 1000);
      }
    });
  }

  function onVisibility() {
    if (!running) return;
    if (doc.hidden) {
      clearTimer();
      closeStream?.();
      closeStream = null;
    } else if (closeStream === null && timer === null) {
      connect(); // polling, if on, resumes by itself
    }
  }

  return {
    start() {
      if (running) return;
      running = true;
      doc.addEventListener("visibilitychange", onVisibility);
      connect();
    },
    stop() {
      running = false;
      clearTimer();
      closeStream?.();
      closeStream = null;
      if (polling) {
        polling = false;
        poller.stop();
      }
      doc.removeEventListener("visibilitychange", onVisibility);
    },
    setInterval(ms) {
      poller.setInterval(ms); // the fallback's cadence
    },
    refresh() {
      if (polling) {
        poller.refresh();
      } else {
        failures = 0;
        connect();
      }
    },
  };
}
