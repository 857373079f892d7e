// @ts-check
/**
 * KPI tiles: success rate, orchestrators, usage minutes and sessions, the last
 * two with an hourly sparkline (one SVG bar per hour).
 */
import { h, svg, fill, one } from "./dom.js";
import { int, percent, delta } from "./format.js";
import { bodyOf } from "./api.js";

const SPARK_HEIGHT = 30;

/**
 * @typedef {NonNullable<import("./api.js").Body<"DashboardKPI">>} Kpi
 * @typedef {Kpi["successRate"]} Metric
 * @typedef {NonNullable<Kpi["hourlyUsage"]>[number]} Bucket
 */
/** @type {Metric} */
const UNKNOWN = { value: NaN, delta: NaN };

/**
 * @param {string} title
 * @param {Bucket[] | null | undefined} buckets
 */
function sparkline(title, buckets) {
  const list = Array.isArray(buckets) ? buckets : [];
  const max = Math.max(0, ...list.map((b) => (Number.isFinite(b.value) ? b.value : 0)));
  const bars = list.map((b, i) => {
    const height = max > 0 ? Math.max(0.5, (b.value / max) * SPARK_HEIGHT) : 0.5;
    return svg("rect", { x: i + 0.12, y: SPARK_HEIGHT - height, width: 0.76, height });
  });
  return svg(
    "svg",
    {
      class: "spark",
      viewBox: `0 0 ${Math.max(1, list.length)} ${SPARK_HEIGHT}`,
      preserveAspectRatio: "none",
      role: "img",
      "aria-label": `${title}, ${list.length} hourly bars`,
      "data-bars": list.length,
    },
    bars,
  );
}

/**
 * @param {unknown} n
 * @param {string} unit
 */
function change(n, unit) {
  const cls = typeof n === "number" && n > 0 ? "up" : typeof n === "number" && n < 0 ? "down" : null;
  return h("p", { class: "delta" }, h("span", { class: cls }, delta(n, unit)), " vs previous");
}

/**
 * @param {string} key
 * @param {string} title
 * @param {string} value
 * @param {Node} trend
 * @param {Node | null} chart
 */
const tile = (key, title, value, trend, chart) =>
  h("div", { class: "tile", "data-kpi": key }, h("h3", {}, title), h("p", { class: "value" }, value), trend, chart);

/** @param {HTMLElement} card */
export function create(card) {
  const body = one(card, ".body");
  return {
    routes: ["kpi"],
    primary: ["kpi"],
    /**
     * @param {Record<string, import("./api.js").Result | undefined>} results
     * @param {{ label: string }} ctx
     */
    render(results, { label }) {
      const data = bodyOf(results.kpi, "DashboardKPI");
      const rate = data?.successRate ?? UNKNOWN;
      const observed = data?.orchestratorsObserved ?? UNKNOWN;
      const usage = data?.dailyUsageMins ?? UNKNOWN;
      const sessions = data?.dailySessionCount ?? UNKNOWN;
      fill(
        body,
        h(
          "div",
          { class: "tiles" },
          tile("successRate", `Success rate · ${label}`, percent(rate.value),
            change(rate.delta, "pp"), null),
          tile("orchestrators", `Orchestrators · ${label}`, int(observed.value),
            change(observed.delta, "%"), null),
          tile("usage", `Usage minutes · ${label}`, int(usage.value), change(usage.delta, "%"),
            sparkline("Usage minutes per hour", data?.hourlyUsage)),
          tile("sessions", `Sessions · ${label}`, int(sessions.value), change(sessions.delta, "%"),
            sparkline("Sessions per hour", data?.hourlySessions)),
        ),
      );
      return "ready";
    },
  };
}
