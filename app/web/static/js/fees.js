// @ts-check
/**
 * Fees: weekly or daily volume in USD as a uPlot bar chart (y from 0, compact
 * USD axis, no points); hovering a bar puts its value in the headline, and a
 * toggle shows the data as a table. Without uPlot (the asset was not installed)
 * the card shows the table.
 */
import { h, fill, one } from "./dom.js";
import { usd, compactUsd, dateUtc, shortDateUtc, delta, one as oneDecimal } from "./format.js";
import { bodyOf } from "./api.js";

const CHART_HEIGHT = 220;

/**
 * @typedef {{ x: number, usd: number, eth: number }} Point
 * @typedef {"weekly" | "daily"} Mode
 * @typedef {NonNullable<import("./api.js").Body<"DashboardFees">>} Fees
 */

/**
 * @param {Fees} data
 * @param {Mode} mode
 * @returns {Point[]}
 */
export function points(data, mode) {
  if (mode === "weekly") {
    return (data.weeklyData ?? []).map((w) => ({ x: w.date, usd: w.weeklyVolumeUsd, eth: w.weeklyVolumeEth }));
  }
  return (data.dayData ?? []).map((d) => ({ x: d.dateS, usd: d.volumeUsd, eth: d.volumeEth }));
}

/** @param {string} name */
const cssVar = (name) => getComputedStyle(document.documentElement).getPropertyValue(name).trim();

/**
 * @param {HTMLElement} el
 * @param {Point[]} data
 * @param {(idx: number | null) => void} onHover
 */
function drawChart(el, data, onHover) {
  const U = /** @type {any} */ (globalThis).uPlot;
  const color = cssVar("--primary");
  const axis = cssVar("--chart-axis");
  const grid = cssVar("--chart-grid");
  const font = `12px ${getComputedStyle(document.body).fontFamily}`;
  const opts = {
    width: Math.max(200, el.clientWidth),
    height: CHART_HEIGHT,
    legend: { show: false },
    tzDate: (/** @type {number} */ ts) => U.tzDate(new Date(ts * 1000), "Etc/UTC"),
    cursor: { y: false, points: { show: false }, drag: { x: false, y: false, setScale: false } },
    scales: { y: { range: (/** @type {any} */ _u, /** @type {number} */ _min, /** @type {number} */ max) => [0, max > 0 ? max * 1.1 : 1] } },
    axes: [
      { stroke: axis, font, grid: { show: false }, ticks: { stroke: grid },
        values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((s) => shortDateUtc(s)) },
      { stroke: axis, font, size: 56, grid: { stroke: grid }, ticks: { show: false },
        values: (/** @type {any} */ _u, /** @type {number[]} */ splits) => splits.map((s) => compactUsd(s)) },
    ],
    series: [
      {},
      { label: "USD", fill: color, stroke: color, width: 0, points: { show: false },
        paths: U.paths.bars({ size: [0.7, 40], gap: 1 }) },
    ],
    hooks: { setCursor: [(/** @type {any} */ u) => onHover(u.cursor.idx ?? null)] },
  };
  const chart = new U(opts, [data.map((p) => p.x), data.map((p) => p.usd)], el);
  const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(200, el.clientWidth), height: CHART_HEIGHT }));
  resize.observe(el);
  return () => {
    resize.disconnect();
    chart.destroy();
  };
}

/**
 * @param {Point[]} data
 * @param {Mode} mode
 */
function dataTable(data, mode) {
  const caption = mode === "weekly" ? "Weekly fees" : "Daily fees";
  return h(
    "table",
    { "data-raw": mode },
    h("caption", { class: "sr-only" }, caption),
    h("thead", {}, h("tr", {}, h("th", { scope: "col" }, mode === "weekly" ? "Week of" : "Day"),
      h("th", { scope: "col", class: "num" }, "USD"), h("th", { scope: "col", class: "num" }, "ETH"))),
    h("tbody", {}, data.map((p) => h("tr", {}, h("td", {}, dateUtc(p.x)), h("td", { class: "num" }, usd(p.usd)),
      h("td", { class: "num" }, oneDecimal(p.eth))))),
  );
}

/** @param {HTMLElement} card */
export function create(card) {
  const body = one(card, ".body");
  const modeButtons = [...card.querySelectorAll("button[data-mode]")].map((b) => /** @type {HTMLButtonElement} */ (b));
  const rawButton = one(card, "button[data-raw]");
  const hasChart = typeof (/** @type {any} */ (globalThis).uPlot) === "function";
  /** @type {Mode} */
  let mode = "weekly";
  let raw = !hasChart;
  /** @type {Fees | null} */
  let fees = null;
  /** @type {(() => void) | null} */
  let destroy = null;
  rawButton.hidden = !hasChart;

  const value = h("span", { class: "value" });
  const caption = h("span", { class: "caption" });
  const headline = h("div", { class: "headline", "aria-live": "polite" }, value, caption);

  /** @param {Point[]} data @param {number | null} idx */
  function setHeadline(data, idx) {
    const p = idx === null ? undefined : data[idx];
    if (p) {
      value.textContent = usd(p.usd);
      caption.textContent = mode === "weekly" ? `Week of ${dateUtc(p.x)}` : dateUtc(p.x);
    } else if (mode === "weekly") {
      value.textContent = usd(fees?.oneWeekVolumeUsd);
      caption.textContent = `Last 7 days · ${delta(fees?.weeklyVolumeChangeUsd)}`;
    } else {
      value.textContent = usd(fees?.oneDayVolumeUsd);
      caption.textContent = `Last 24 hours · ${delta(fees?.volumeChangeUsd)}`;
    }
  }

  function draw() {
    destroy?.();
    destroy = null;
    if (!fees) return;
    const data = points(fees, mode);
    setHeadline(data, null);
    for (const b of modeButtons) b.setAttribute("aria-pressed", String(b.dataset.mode === mode));
    rawButton.setAttribute("aria-pressed", String(raw));
    if (raw) {
      const note = hasChart ? null : h("p", { class: "note" }, "Chart unavailable: showing the data.");
      const wrap = h("div", { class: "raw", tabindex: 0, role: "region", "aria-label": "Fees data" }, dataTable(data, mode));
      fill(body, headline, note, wrap);
      return;
    }
    const chartBox = h("div", { class: "chart", "data-points": data.length, role: "img",
      "aria-label": `${mode === "weekly" ? "Weekly" : "Daily"} fees in USD, ${data.length} bars` });
    fill(body, headline, chartBox);
    destroy = drawChart(chartBox, data, (idx) => setHeadline(data, idx));
  }

  for (const b of modeButtons) {
    b.addEventListener("click", () => {
      mode = /** @type {Mode} */ (b.dataset.mode);
      draw();
    });
  }
  rawButton.addEventListener("click", () => {
    raw = !raw;
    draw();
  });

  return {
    routes: ["fees"],
    primary: ["fees"],
    /** @param {Record<string, import("./api.js").Result | undefined>} results */
    render(results) {
      fees = bodyOf(results.fees, "DashboardFees") ?? null;
      draw();
      return "ready";
    },
  };
}
