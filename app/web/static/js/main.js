// @ts-check
/**
 * The page: requests each of the nine dashboard routes once, in parallel, and
 * renders each widget as soon as its own routes settle. A failed primary route
 * shows inside its widget (message, status, Retry of that widget's routes) and
 * in the banner. The timeframe (URL `?timeframe=`, then localStorage) refetches
 * only the routes that depend on it, aborting the requests it supersedes.
 */
import { getJSON, routeUrl, statusText } from "./api.js";
import { h, fill, byId, one } from "./dom.js";
import { timeUtc } from "./format.js";
import { pollingFeed, pushFeed } from "./feed-source.js";
import * as kpi from "./kpi.js";
import * as protocol from "./protocol.js";
import * as fees from "./fees.js";
import * as pipelines from "./pipelines.js";
import * as orchestrators from "./orchestrators.js";
import * as jobfeed from "./jobfeed.js";

/** @typedef {import("./api.js").Result} Result */
/** @typedef {import("./api.js").Failure} Failure */

/** Timeframe label -> hours. */
const TIMEFRAMES = /** @type {Record<string, number>} */ ({ "1h": 1, "6h": 6, "12h": 12, "24h": 24, "48h": 48, "7d": 168 });
const DEFAULT_TIMEFRAME = "24h";
const STORE_TIMEFRAME = "naap.timeframe";

/** Route name -> its URL for a number of hours (paths and parameters as /openapi.json has them). */
const ROUTES = /** @type {Record<string, (hours: number) => string>} */ ({
  kpi: (t) => routeUrl("/api/v1/dashboard/kpi", { timeframe: `${t}` }),
  pipelines: (t) => routeUrl("/api/v1/dashboard/pipelines", { timeframe: `${t}`, limit: "200" }),
  "pipeline-catalog": () => routeUrl("/api/v1/dashboard/pipeline-catalog"),
  orchestrators: (t) => routeUrl("/api/v1/dashboard/orchestrators", { period: `${t}h` }),
  protocol: () => routeUrl("/api/v1/dashboard/protocol"),
  "gpu-capacity": (t) => routeUrl("/api/v1/dashboard/gpu-capacity", { timeframe: `${t}` }),
  pricing: () => routeUrl("/api/v1/dashboard/pricing"),
  fees: () => routeUrl("/api/v1/dashboard/fees", { days: "180" }),
});
const BY_TIMEFRAME = new Set(["kpi", "pipelines", "orchestrators", "gpu-capacity"]);

/**
 * @typedef {object} WidgetParts
 * @property {string[]} routes
 * @property {string[]} primary
 * @property {(results: Record<string, Result | undefined>, ctx: { label: string, retry: (routes: string[]) => void }) => string} render
 */
/** @typedef {WidgetParts & { card: HTMLElement, token: number }} Widget */

/** @type {Map<string, Result>} */
const results = new Map();
/** @type {Map<string, AbortController>} */
const inFlight = new Map();

/** @param {string | null | undefined} value */
function parseTimeframe(value) {
  if (!value) return null;
  if (value in TIMEFRAMES) return value;
  const hours = Number(value);
  return Object.keys(TIMEFRAMES).find((k) => TIMEFRAMES[k] === hours) ?? null;
}

let timeframe =
  parseTimeframe(new URLSearchParams(location.search).get("timeframe")) ??
  parseTimeframe(localStorage.getItem(STORE_TIMEFRAME)) ??
  DEFAULT_TIMEFRAME;

/**
 * A message, the status and a Retry button, inside a card.
 * @param {Failure} failure
 * @param {() => void} retry
 */
function errorView(failure, retry) {
  const button = h("button", { type: "button", class: "retry" }, "Retry");
  button.addEventListener("click", retry);
  return h("div", { class: "message error", "data-code": failure.code },
    h("p", { class: "text" }, failure.message), h("p", { class: "status" }, statusText(failure)), button);
}

/**
 * Fetch one route, superseding an earlier request for it; null if superseded.
 * @param {string} name
 */
async function fetchRoute(name) {
  inFlight.get(name)?.abort();
  const controller = new AbortController();
  inFlight.set(name, controller);
  const result = await getJSON(ROUTES[name](TIMEFRAMES[timeframe]), { signal: controller.signal });
  if (result === null || inFlight.get(name) !== controller) return null;
  inFlight.delete(name);
  results.set(name, result);
  return result;
}

/**
 * (Re)load some of a widget's routes, then render it from all of them.
 * @param {Widget} w
 * @param {string[]} names
 */
async function load(w, names) {
  const token = ++w.token;
  const label = timeframe;
  w.card.setAttribute("aria-busy", "true");
  const got = await Promise.all(names.map(fetchRoute));
  if (token !== w.token || got.includes(null)) return;
  show(w, label);
}

/**
 * @param {Widget} w
 * @param {string} label
 */
function show(w, label) {
  const mine = Object.fromEntries(w.routes.map((n) => [n, results.get(n)]));
  const failed = w.primary.map((n) => mine[n]).find((r) => r && !r.ok);
  const body = one(w.card, ".body");
  if (failed && !failed.ok) {
    const broken = w.routes.filter((n) => results.get(n)?.ok === false);
    fill(body, errorView(failed, () => void load(w, broken)));
    for (const note of w.card.querySelectorAll(".note")) note.textContent = "";
    w.card.dataset.state = "error";
  } else {
    w.card.dataset.state = w.render(mine, { label, retry: (names) => void load(w, names) });
  }
  for (const span of w.card.querySelectorAll("[data-tf]")) span.textContent = label;
  w.card.setAttribute("aria-busy", "false");
  refreshChrome();
}

/** The header (simulated data, last update) and the banner of failing routes. */
function refreshChrome() {
  const all = [...results.values()];
  const good = all.filter((r) => r.ok).map((r) => /** @type {import("./api.js").Success} */ (r));
  byId("simulated").hidden = !good.some((r) => r.simulated);
  if (good.length) byId("updated").textContent = `Updated ${timeUtc(Math.min(...good.map((r) => r.dataTime)))}`;
  const failing = [...results].filter(([, r]) => !r.ok);
  const banner = byId("banner");
  banner.hidden = failing.length === 0;
  fill(
    banner,
    failing.length ? "Some data could not be loaded: " : null,
    failing.map(([name, r], i) => [
      i ? "; " : "",
      h("code", { "data-route": name }, name),
      ` (${statusText(/** @type {Failure} */ (r))})`,
    ]),
  );
}

/**
 * @param {string} id
 * @param {(card: HTMLElement) => WidgetParts} make
 * @returns {Widget}
 */
function widget(id, make) {
  const card = byId(id);
  return { ...make(card), card, token: 0 };
}

const widgets = [
  widget("kpi", kpi.create),
  widget("protocol", protocol.create),
  widget("fees", fees.create),
  widget("pipelines", pipelines.create),
  widget("orchestrators", orchestrators.create),
];

const select = /** @type {HTMLSelectElement} */ (byId("timeframe"));
select.value = timeframe;
select.addEventListener("change", () => {
  const next = parseTimeframe(select.value);
  if (!next || next === timeframe) return;
  timeframe = next;
  localStorage.setItem(STORE_TIMEFRAME, next);
  const url = new URL(location.href);
  url.searchParams.set("timeframe", next);
  history.replaceState(null, "", url);
  for (const w of widgets) {
    const names = w.routes.filter((n) => BY_TIMEFRAME.has(n));
    if (names.length) void load(w, names);
  }
});

for (const w of widgets) void load(w, w.routes);

// The job feed is pushed (pushFeed), polled when the stream fails; `?feed=poll`
// polls from the start (a network that holds event streams back, tests).
const polled = new URLSearchParams(location.search).get("feed") === "poll";
const feed = jobfeed.create(byId("feed"), {
  source: (handlers) => (polled ? pollingFeed(handlers) : pushFeed(handlers)),
  report(result) {
    results.set("job-feed", result);
    refreshChrome();
  },
  errorView,
});
feed.start();
