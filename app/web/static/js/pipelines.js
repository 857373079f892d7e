// @ts-check
/**
 * Pipelines & GPUs: a row per pipeline (usage and catalog), its models under it
 * (catalog ∪ usage) with GPUs, price in wei per unit and minutes. Usage is the
 * primary route; when the catalog, GPU capacity or pricing fails, its cells show
 * "—", a note says so, and the rest renders.
 */
import { h, fill, one, byId } from "./dom.js";
import { int, wei, DASH } from "./format.js";
import { bodyOf, statusText } from "./api.js";
import { createTable } from "./table.js";

const PALETTE = ["#6366f1", "#10b981", "#f59e0b", "#3b82f6", "#ec4899", "#14b8a6", "#a855f7", "#84cc16"];
const HEX = /^#[0-9a-fA-F]{6}$/;
const SECONDARY = /** @type {const} */ ({
  "pipeline-catalog": "Catalog unavailable: only models with usage are listed",
  "gpu-capacity": "GPU counts unavailable",
  pricing: "Prices unavailable",
});

/**
 * @typedef {object} Row
 * @property {string} name
 * @property {string | null} color        pipelines only
 * @property {number | null} gpus         null: unknown (GPU capacity failed)
 * @property {string | null | undefined} price   undefined: not a model row
 * @property {number} mins
 * @property {number} sessions
 * @property {Row[]} children
 */

/** @param {Row} r */
function nameCell(r) {
  if (r.color === null) return r.name;
  const swatch = h("span", { class: "swatch", "aria-hidden": "true" });
  swatch.style.background = r.color;
  return h("span", {}, swatch, r.name);
}

/** @type {import("./table.js").Column<Row>[]} */
const COLUMNS = [
  { key: "name", label: "Pipeline / model", className: "wrap", cell: nameCell, sort: (r) => r.name.toLowerCase() },
  { key: "gpus", label: "GPUs", numeric: true, cell: (r) => (r.gpus === null ? DASH : int(r.gpus)), sort: (r) => r.gpus },
  { key: "price", label: "Price (wei/unit)", numeric: true, className: "wrap", cell: (r) => (r.price === undefined ? "" : r.price ?? DASH) },
  { key: "mins", label: "Mins", numeric: true, cell: (r) => int(r.mins), sort: (r) => r.mins },
];

/**
 * A list body, [] when it is not one; null when the route failed.
 * @template T
 * @param {import("./api.js").Result | undefined} result
 * @param {T[] | null | undefined} body
 * @returns {T[] | null}
 */
const list = (result, body) => (result?.ok ? (Array.isArray(body) ? body : []) : null);

/**
 * @param {Record<string, import("./api.js").Result | undefined>} results
 * @returns {Row[]}
 */
export function buildRows(results) {
  const usage = bodyOf(results.pipelines, "DashboardPipelines")?.streaming ?? [];
  const catalogResult = results["pipeline-catalog"];
  const catalog = list(catalogResult, bodyOf(catalogResult, "DashboardPipelineCatalog")) ?? [];
  const capacityResult = results["gpu-capacity"];
  const capacity = capacityResult?.ok
    ? bodyOf(capacityResult, "DashboardGPUCapacity")?.pipelineGPUs ?? []
    : null;
  const pricing = list(results.pricing, bodyOf(results.pricing, "DashboardPricing"));

  /** @type {Map<string, number>} */
  const gpus = new Map();
  for (const p of capacity ?? []) {
    gpus.set(p.name, p.gpus);
    for (const m of p.models ?? []) gpus.set(`${p.name}\n${m.model}`, m.gpus);
  }
  /** @type {Map<string, string | null>} */
  const prices = new Map();
  for (const p of pricing ?? []) {
    const amount = wei(p.avgWeiPerUnit);
    prices.set(`${p.pipeline}\n${p.model}`, amount === null ? null : `${amount} wei/${p.unit}`);
  }
  const catalogModels = new Map(catalog.map((c) => [c.id, Array.isArray(c.models) ? c.models : []]));
  const names = [...usage.map((u) => u.name)];
  for (const c of catalog) if (!names.includes(c.id)) names.push(c.id);

  return names.map((name, index) => {
    const u = usage.find((x) => x.name === name);
    const used = new Map((u?.modelMins ?? []).map((m) => [m.model, m]));
    const models = [...used.keys()];
    for (const m of catalogModels.get(name) ?? []) if (!used.has(m)) models.push(m);
    const own = u?.color ?? "";
    const color = HEX.test(own) ? own : PALETTE[index % PALETTE.length];
    return {
      name,
      color,
      gpus: capacity === null ? null : gpus.get(name) ?? 0,
      price: undefined,
      mins: u?.mins ?? 0,
      sessions: u?.sessions ?? 0,
      children: models.map((model) => ({
        name: model,
        color: null,
        gpus: capacity === null ? null : gpus.get(`${name}\n${model}`) ?? 0,
        price: pricing === null ? null : prices.get(`${name}\n${model}`) ?? null,
        mins: used.get(model)?.mins ?? 0,
        sessions: used.get(model)?.sessions ?? 0,
        children: [],
      })),
    };
  });
}

/**
 * @param {HTMLElement} card
 */
export function create(card) {
  const body = one(card, ".body");
  const note = byId("pipelines-note");
  const table = createTable({
    caption: "Pipelines and their models",
    columns: COLUMNS,
    sort: { key: "mins", dir: "descending" },
    children: (r) => r.children,
  });

  return {
    routes: ["pipelines", "pipeline-catalog", "gpu-capacity", "pricing"],
    primary: ["pipelines"],
    /**
     * @param {Record<string, import("./api.js").Result | undefined>} results
     * @param {{ retry: (routes: string[]) => void }} ctx
     */
    render(results, { retry }) {
      const failed = Object.keys(SECONDARY).filter((k) => results[k] && !results[k]?.ok);
      fill(
        note,
        failed.map((k) => {
          const r = /** @type {import("./api.js").Failure} */ (results[k]);
          return h("span", { "data-note": k }, `${SECONDARY[/** @type {keyof SECONDARY} */ (k)]} (${k}: ${statusText(r)}). `);
        }),
        failed.length ? retryButton(() => retry(failed)) : null,
      );
      const rows = buildRows(results);
      if (rows.length === 0) {
        fill(body, h("div", { class: "message empty" }, h("p", {}, "No pipelines in this window")));
        return "empty";
      }
      if (table.element.parentNode !== body) fill(body, table.element);
      table.setRows(rows);
      return "ready";
    },
  };
}

/** @param {() => void} onClick */
function retryButton(onClick) {
  const button = h("button", { type: "button", class: "retry" }, "Retry");
  button.addEventListener("click", onClick);
  return button;
}
