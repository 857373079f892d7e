// @ts-check
/**
 * Pure formatters, en-US and UTC whatever the browser's locale and zone, so the
 * page reads the same everywhere (and tests can compute the expected text).
 * Wei amounts are integer strings formatted exactly through BigInt.
 */

const INT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const ONE = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });
const USD = new Intl.NumberFormat("en-US", { style: "currency", currency: "USD", maximumFractionDigits: 0 });
const COMPACT = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
const COMPACT_USD = new Intl.NumberFormat("en-US", {
  style: "currency", currency: "USD", notation: "compact", maximumFractionDigits: 1,
});
const TIME = new Intl.DateTimeFormat("en-US", {
  hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZone: "UTC",
});
const DATE = new Intl.DateTimeFormat("en-US", {
  month: "short", day: "numeric", year: "numeric", timeZone: "UTC",
});
const SHORT_DATE = new Intl.DateTimeFormat("en-US", { month: "short", day: "numeric", timeZone: "UTC" });
const DASH = "—";

/** @param {unknown} n */
const finite = (n) => typeof n === "number" && Number.isFinite(n);

/** 12,345 (rounded). @param {unknown} n */
export const int = (n) => (finite(n) ? INT.format(/** @type {number} */ (n)) : DASH);

/** 95.7 @param {unknown} n */
export const one = (n) => (finite(n) ? ONE.format(/** @type {number} */ (n)) : DASH);

/** 95.7% @param {unknown} n */
export const percent = (n) => (finite(n) ? `${one(n)}%` : DASH);

/** $12,345 @param {unknown} n */
export const usd = (n) => (finite(n) ? USD.format(/** @type {number} */ (n)) : DASH);

/** $12.3K (chart axes) @param {unknown} n */
export const compactUsd = (n) => (finite(n) ? COMPACT_USD.format(/** @type {number} */ (n)) : DASH);

/** 31.5M @param {unknown} n */
export const compact = (n) => (finite(n) ? COMPACT.format(/** @type {number} */ (n)) : DASH);

/**
 * A change with its sign: "+4.2%", "-1.9 pp".
 * @param {unknown} n
 * @param {string} unit
 */
export function delta(n, unit = "%") {
  if (!finite(n)) return DASH;
  const v = /** @type {number} */ (n);
  const sign = v > 0 ? "+" : v < 0 ? "-" : "";
  const space = unit === "%" ? "" : " ";
  return `${sign}${one(Math.abs(v))}${space}${unit}`;
}

/**
 * An integer number of wei, exactly: "78,497,778"; null when it is not one.
 * @param {unknown} s
 */
export function wei(s) {
  if (typeof s !== "string" || !/^\d{1,78}$/.test(s)) return null;
  return BigInt(s).toLocaleString("en-US");
}

/** "21:24:05 UTC" @param {number} ms */
export const timeUtc = (ms) => `${TIME.format(ms)} UTC`;

/** "Jun 8, 2026" @param {number} seconds */
export const dateUtc = (seconds) => DATE.format(seconds * 1000);

/** "Jun 8" @param {number} seconds */
export const shortDateUtc = (seconds) => SHORT_DATE.format(seconds * 1000);

/**
 * An ISO time as "21:24:05 UTC", or a dash.
 * @param {unknown} iso
 */
export function isoTimeUtc(iso) {
  const ms = typeof iso === "string" ? Date.parse(iso) : NaN;
  return Number.isFinite(ms) ? timeUtc(ms) : DASH;
}

/** The host of a URL, or the text itself when it is not one. @param {string} url */
export function host(url) {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

export { DASH };
