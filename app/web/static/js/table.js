// @ts-check
/**
 * Sortable tables: a header button per sortable column, `aria-sort` on its
 * `<th>`, and rows (with optional child rows, sorted within their parent)
 * rebuilt from data. Sorting survives `setRows`, so a poll keeps the order.
 */
import { h, fill } from "./dom.js";

/**
 * @template T
 * @typedef {object} Column
 * @property {string} key
 * @property {string} label
 * @property {(row: T) => Node | string} cell
 * @property {(row: T) => string | number | null} [sort]   absent: not sortable
 * @property {boolean} [numeric]
 * @property {string} [className]
 */

/**
 * @template T
 * @typedef {object} TableOptions
 * @property {string} caption                  for screen readers
 * @property {Column<T>[]} columns
 * @property {{ key: string, dir: "ascending" | "descending" }} [sort]
 * @property {(row: T) => T[]} [children]      rows shown under a row
 * @property {(row: T) => string} [rowClass]
 */

/**
 * @param {string | number | null} a
 * @param {string | number | null} b
 */
function compare(a, b) {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === "number" && typeof b === "number") return a - b;
  return String(a).localeCompare(String(b), "en-US", { sensitivity: "base" });
}

/**
 * @template T
 * @param {TableOptions<T>} options
 */
export function createTable(options) {
  const { columns } = options;
  let sort = options.sort ?? null;
  /** @type {T[]} */
  let rows = [];
  const tbody = h("tbody");
  /** @type {Map<string, HTMLTableCellElement>} */
  const heads = new Map();
  const headRow = h("tr");
  for (const column of columns) {
    const cls = [column.numeric ? "num" : "", column.className ?? ""].join(" ").trim() || null;
    const th = h("th", { scope: "col", class: cls });
    if (column.sort) {
      const button = h("button", { type: "button", "data-sort": column.key }, column.label);
      button.addEventListener("click", () => toggle(column.key));
      th.append(button);
    } else {
      th.append(column.label);
    }
    heads.set(column.key, th);
    headRow.append(th);
  }
  const table = h("table", {}, h("caption", { class: "sr-only" }, options.caption), h("thead", {}, headRow), tbody);

  /** @param {string} key */
  function toggle(key) {
    const column = columns.find((c) => c.key === key);
    const first = column?.numeric ? "descending" : "ascending";
    const other = first === "ascending" ? "descending" : "ascending";
    sort = { key, dir: sort?.key === key && sort.dir === first ? other : first };
    render();
  }

  /** @param {T[]} list */
  function sorted(list) {
    const column = sort && columns.find((c) => c.key === sort?.key);
    if (!sort || !column?.sort) return list;
    const get = column.sort;
    const sign = sort.dir === "ascending" ? 1 : -1;
    return list
      .map((row, index) => ({ row, index, value: get(row) }))
      .sort((a, b) => {
        // Missing values last in either direction; ties keep the data's order.
        if (a.value === null || b.value === null) return compare(a.value, b.value) || a.index - b.index;
        return sign * compare(a.value, b.value) || a.index - b.index;
      })
      .map((x) => x.row);
  }

  /**
   * @param {T} row
   * @param {boolean} child
   */
  function renderRow(row, child) {
    const extra = options.rowClass ? options.rowClass(row) : "";
    const cls = [child ? "child" : "", extra].join(" ").trim() || null;
    return h(
      "tr",
      { class: cls },
      columns.map((c) => {
        const cellClass = [c.numeric ? "num" : "", c.className ?? ""].join(" ").trim() || null;
        return h("td", { class: cellClass }, c.cell(row));
      }),
    );
  }

  function render() {
    for (const [key, th] of heads) {
      if (columns.find((c) => c.key === key)?.sort) {
        th.setAttribute("aria-sort", sort?.key === key ? sort.dir : "none");
      }
    }
    /** @type {HTMLTableRowElement[]} */
    const out = [];
    for (const row of sorted(rows)) {
      out.push(renderRow(row, false));
      if (options.children) for (const kid of sorted(options.children(row))) out.push(renderRow(kid, true));
    }
    fill(tbody, out);
  }

  return {
    element: table,
    /** @param {T[]} next */
    setRows(next) {
      rows = next;
      render();
    },
  };
}
