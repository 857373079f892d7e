// @ts-check
/** Protocol: the current round, its block progress as a bar, total stake. */
import { h, fill, one } from "./dom.js";
import { int, compact } from "./format.js";
import { bodyOf } from "./api.js";

/** @param {HTMLElement} card */
export function create(card) {
  const body = one(card, ".body");
  return {
    routes: ["protocol"],
    primary: ["protocol"],
    /** @param {Record<string, import("./api.js").Result | undefined>} results */
    render(results) {
      const p = bodyOf(results.protocol, "DashboardProtocol");
      const done = Number(p?.blockProgress);
      const total = Number(p?.totalBlocks);
      const share = total > 0 && done >= 0 ? Math.min(1, done / total) : 0;
      const fillBar = h("span");
      fillBar.style.width = `${(share * 100).toFixed(1)}%`;
      fill(
        body,
        h(
          "div",
          { class: "stats" },
          h("div", { class: "stat", "data-stat": "round" }, h("h3", {}, "Current round"),
            h("p", { class: "value" }, int(p?.currentRound))),
          h(
            "div",
            { class: "stat", "data-stat": "blocks" },
            h("h3", { id: "round-progress" }, "Round progress"),
            h("p", {}, `${int(done)} of ${int(total)} blocks (${Math.floor(share * 100)}%)`),
            h(
              "div",
              {
                class: "bar",
                role: "progressbar",
                "aria-labelledby": "round-progress",
                "aria-valuemin": 0,
                "aria-valuemax": Number.isFinite(total) ? total : 0,
                "aria-valuenow": Number.isFinite(done) ? done : 0,
              },
              fillBar,
            ),
          ),
          h("div", { class: "stat", "data-stat": "staked" }, h("h3", {}, "Total staked"),
            h("p", { class: "value" }, `${compact(p?.totalStakedLPT)} LPT`)),
        ),
      );
      return "ready";
    },
  };
}
