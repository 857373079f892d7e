// @ts-check
/**
 * Live Job Feed: a sortable table of the streams, poll-interval buttons
 * (5/15/30/90 s, remembered) and a LIVE marker. Its data comes from a
 * FeedSource (feed-source.js); it shows three states apart: the upstream query
 * failed (`queryFailed`), an HTTP error (the rows stay, marked stale since the
 * last good update), and no active streams.
 */
import { h, fill, one, byId } from "./dom.js";
import { host, isoTimeUtc, one as oneDecimal, timeUtc, DASH } from "./format.js";
import { bodyOf, statusText } from "./api.js";
import { createTable } from "./table.js";

const INTERVALS = [5000, 15000, 30000, 90000];
const DEFAULT_INTERVAL = 15000;
const STORE_INTERVAL = "naap.feedInterval";

/**
 * @typedef {NonNullable<import("./api.js").Body<"DashboardJobFeed">>} JobFeed
 * @typedef {JobFeed["streams"][number]} Stream
 */

/** @param {string} status */
function stateClass(status) {
  if (status === "online" || status === "running") return status;
  if (status.startsWith("degraded")) return "degraded";
  if (["failed", "offline", "error"].includes(status)) return "failed";
  return "other";
}

/** @type {import("./table.js").Column<Stream>[]} */
const COLUMNS = [
  { key: "stream", label: "Pipeline / model", className: "wrap",
    cell: (s) => h("span", {}, s.pipeline, h("span", { class: "sub" }, s.model ?? DASH)),
    sort: (s) => `${s.pipeline}\n${s.model ?? ""}` },
  { key: "status", label: "State", cell: (s) => h("span", { class: `pill state ${stateClass(String(s.status))}` }, String(s.status)),
    sort: (s) => String(s.status) },
  { key: "orchestrator", label: "Orchestrator", className: "wrap", cell: (s) => (s.orchestratorUrl ? host(s.orchestratorUrl) : DASH),
    sort: (s) => (s.orchestratorUrl ? host(s.orchestratorUrl) : null) },
  { key: "running", label: "Running", numeric: true, cell: (s) => s.runningFor ?? DASH, sort: (s) => s.durationSeconds ?? null },
  { key: "fps", label: "FPS", numeric: true, cell: (s) => oneDecimal(s.outputFps), sort: (s) => s.outputFps ?? null },
];

function storedInterval() {
  const saved = Number(localStorage.getItem(STORE_INTERVAL));
  return INTERVALS.includes(saved) ? saved : DEFAULT_INTERVAL;
}

/**
 * @typedef {object} FeedContext
 * @property {(handlers: { intervalMs: number, onResult: (r: import("./api.js").Result) => void,
 *   onSchedule: (next: { at: number, failures: number }) => void }) => import("./feed-source.js").FeedSource} source
 * @property {(result: import("./api.js").Result) => void} report    header and banner
 * @property {(failure: import("./api.js").Failure, retry: () => void) => Node} errorView
 */

/**
 * @param {HTMLElement} card
 * @param {FeedContext} ctx
 */
export function create(card, ctx) {
  const body = one(card, ".body");
  const note = byId("feed-note");
  const live = byId("feed-live");
  const table = createTable({ caption: "Live jobs", columns: COLUMNS });
  const buttons = [...card.querySelectorAll("button[data-interval]")].map((b) => /** @type {HTMLButtonElement} */ (b));
  /** @type {Stream[]} */
  let rows = [];
  let lastGood = 0;
  let nextAt = 0;
  let interval = storedInterval();

  const source = ctx.source({
    intervalMs: interval,
    onResult: show,
    onSchedule: (next) => {
      nextAt = next.at;
      card.dataset.nextPoll = String(next.at);
    },
  });

  function pressButtons() {
    for (const b of buttons) b.setAttribute("aria-pressed", String(Number(b.dataset.interval) === interval));
  }
  for (const b of buttons) {
    b.addEventListener("click", () => {
      interval = Number(b.dataset.interval);
      localStorage.setItem(STORE_INTERVAL, String(interval));
      pressButtons();
      source.setInterval(interval);
    });
  }
  pressButtons();

  /** @param {string} state @param {string} feed */
  function mark(state, feed) {
    card.dataset.state = state;
    card.dataset.feed = feed;
    card.setAttribute("aria-busy", "false");
  }

  function showRows() {
    if (table.element.parentNode !== body) fill(body, table.element);
    table.setRows(rows);
  }

  let updates = 0;

  /** @param {import("./api.js").Result} result */
  function show(result) {
    card.dataset.updates = String(++updates);
    ctx.report(result);
    const feed = bodyOf(result, "DashboardJobFeed");
    if (result.ok && feed?.queryFailed !== true) {
      rows = Array.isArray(feed?.streams) ? feed.streams : [];
      lastGood = Date.now();
      live.hidden = false;
      table.element.classList.remove("stale");
      note.textContent = "";
      if (rows.length) showRows();
      else fill(body, h("div", { class: "message empty" }, h("p", {}, "No active streams")));
      mark("ready", rows.length ? "live" : "empty");
      return;
    }
    live.hidden = true;
    const retry = nextAt ? ` Retrying at ${timeUtc(nextAt)}.` : "";
    if (result.ok) {
      note.textContent = `The job feed's upstream query failed: live jobs are unavailable.${retry}`;
      if (rows.length) table.element.classList.add("stale");
      else fill(body, h("div", { class: "message error" }, h("p", { class: "text" }, "Live jobs are unavailable (queryFailed)")));
      mark("ready", "query-failed");
      return;
    }
    if (rows.length) {
      note.textContent = `Stale since ${timeUtc(lastGood)}: ${result.message} (${statusText(result)}).${retry}`;
      table.element.classList.add("stale");
      mark("ready", "stale");
      return;
    }
    note.textContent = "";
    fill(body, ctx.errorView(result, () => source.refresh()));
    mark("error", "error");
  }

  return {
    start: () => source.start(),
    stop: () => source.stop(),
  };
}
