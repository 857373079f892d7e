// @ts-check
/**
 * An element builder that only ever sets text: strings become text nodes, never
 * markup. Data from the API is untrusted, so nothing here parses HTML, and
 * attributes that could run code or load something (`on*`, `style`, `src`,
 * `srcdoc`) are refused; `href` must be a same-site path or an https URL.
 */

const SVG_NS = "http://www.w3.org/2000/svg";
const REFUSED = /^(on|style$|src$|srcdoc$|formaction$)/i;

/** @typedef {Node | string | number | null | undefined | false} Leaf */
/** @typedef {Leaf | Leaf[] | Leaf[][]} Child  nested lists are flattened */
/** @typedef {Record<string, string | number | boolean | null | undefined>} Attrs */

/**
 * @param {Element} el
 * @param {Attrs} attrs
 */
function setAttrs(el, attrs) {
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (REFUSED.test(name)) throw new Error(`refused attribute ${name}`);
    const text = value === true ? "" : String(value);
    if (name === "href" && !/^(\/(?!\/)|#|https:\/\/)/.test(text)) {
      throw new Error(`refused href ${text}`);
    }
    el.setAttribute(name, text);
  }
}

/**
 * @param {Element} el
 * @param {Child[]} children
 */
function append(el, children) {
  for (const child of children.flat(2)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(typeof child === "object" ? child : document.createTextNode(String(child)));
  }
}

/**
 * An HTML element: `h("td", { class: "num" }, "42")`.
 * @template {keyof HTMLElementTagNameMap} K
 * @param {K} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {HTMLElementTagNameMap[K]}
 */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * An SVG element (sparklines).
 * @param {string} tag
 * @param {Attrs} [attrs]
 * @param {...Child} children
 * @returns {SVGElement}
 */
export function svg(tag, attrs = {}, ...children) {
  const el = /** @type {SVGElement} */ (document.createElementNS(SVG_NS, tag));
  setAttrs(el, attrs);
  append(el, children);
  return el;
}

/**
 * Replace an element's children.
 * @param {Element} el
 * @param {...Child} children
 */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
}

/**
 * A required element by id.
 * @param {string} id
 * @returns {HTMLElement}
 */
export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`#${id} is missing`);
  return el;
}

/**
 * A required element under `root`.
 * @param {ParentNode} root
 * @param {string} selector
 * @returns {HTMLElement}
 */
export function one(root, selector) {
  const el = root.querySelector(selector);
  if (!(el instanceof HTMLElement)) throw new Error(`${selector} is missing`);
  return el;
}
