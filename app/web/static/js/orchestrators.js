// @ts-check
/**
 * Orchestrators: a sortable table with a text filter (address, URI, pipeline)
 * and an explorer link for 0x addresses. URIs are shown as text, never links.
 */
import { h, fill, one, byId } from "./dom.js";
import { int, percent, isoTimeUtc, DASH } from "./format.js";
import { createTable } from "./table.js";
import { bodyOf } from "./api.js";

const ADDRESS = /^0x[0-9a-fA-F]{40}$/;
const EXPLORER = "https://explorer.livepeer.org/accounts/";

/** @typedef {NonNullable<import("./api.js").Body<"DashboardOrchestrators">>[number]} Orchestrator */

/** @param {Orchestrator} o */
function addressCell(o) {
  const address = String(o.address);
  if (!ADDRESS.test(address)) return address;
  const short = `${address.slice(0, 6)}…${address.slice(-4)}`;
  return h("a", { href: `${EXPLORER}${address}/orchestrating`, rel: "noopener noreferrer", target: "_blank",
    "data-address": address }, short);
}

/** @param {Orchestrator} o */
const searchText = (o) => [o.address, ...(o.uris ?? []), ...(o.pipelines ?? [])].join(" ").toLowerCase();

/** @type {import("./table.js").Column<Orchestrator>[]} */
const COLUMNS = [
  { key: "address", label: "Address", cell: addressCell, sort: (o) => String(o.address).toLowerCase() },
  { key: "uri", label: "Service URI", className: "wrap", cell: (o) => (o.uris?.length ? o.uris.join(" ") : DASH),
    sort: (o) => (o.uris?.[0] ?? "").toLowerCase() || null },
  { key: "sessions", label: "Sessions", numeric: true, cell: (o) => int(o.knownSessions), sort: (o) => o.knownSessions },
  { key: "success", label: "Success", numeric: true,
    cell: (o) => (o.knownSessions > 0 ? percent(o.successRatio) : DASH),
    sort: (o) => (o.knownSessions > 0 ? o.successRatio : null) },
  { key: "sla", label: "SLA", numeric: true, cell: (o) => int(o.slaScore), sort: (o) => o.slaScore ?? null },
  { key: "gpus", label: "GPUs", numeric: true, cell: (o) => int(o.gpuCount), sort: (o) => o.gpuCount },
  { key: "pipelines", label: "Pipelines", className: "wrap", cell: (o) => (o.pipelines ?? []).join(", ") || DASH },
  { key: "lastSeen", label: "Last seen", cell: (o) => isoTimeUtc(o.lastSeen), sort: (o) => o.lastSeen ?? null },
];

/** @param {HTMLElement} card */
export function create(card) {
  const body = one(card, ".body");
  const note = byId("orchestrators-note");
  const input = /** @type {HTMLInputElement} */ (byId("orchestrators-filter"));
  const table = createTable({ caption: "Orchestrators", columns: COLUMNS });
  /** @type {Orchestrator[]} */
  let all = [];

  function apply() {
    const needle = input.value.trim().toLowerCase();
    const shown = needle ? all.filter((o) => searchText(o).includes(needle)) : all;
    table.setRows(shown);
    note.textContent = needle ? `${shown.length} of ${all.length} orchestrators match` : "";
  }
  input.addEventListener("input", apply);

  return {
    routes: ["orchestrators"],
    primary: ["orchestrators"],
    /** @param {Record<string, import("./api.js").Result | undefined>} results */
    render(results) {
      const data = bodyOf(results.orchestrators, "DashboardOrchestrators");
      all = Array.isArray(data) ? data : [];
      if (all.length === 0) {
        note.textContent = "";
        fill(body, h("div", { class: "message empty" }, h("p", {}, "No orchestrators in this window")));
        return "empty";
      }
      if (table.element.parentNode !== body) fill(body, table.element);
      apply();
      return "ready";
    },
  };
}
