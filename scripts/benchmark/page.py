"""The page row: the Network Overview at `/` in Chromium (Playwright), from
navigation start to every `[data-widget]` element at `data-state="ready"`.

Cold loads each get a new browser context (empty HTTP cache); warm reloads
reload the last one. One unmeasured load first warms the server's snapshots, as
the cold start's unmeasured launch warms the page cache. Times are the page's own
clock (`performance.now()`, from navigation start), read by a MutationObserver
added before any of the page's scripts run. Reported, never asserted; a missing
page, browser or widget is reported as the reason there is no row.
"""

from __future__ import annotations

import dataclasses
import statistics
from functools import partial
from pathlib import Path
from typing import Any

import httpx

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--disable-gpu", "--disable-quic")
WIDTH, HEIGHT = 1440, 1000

# Resolves window.__pageReady with {first, all} (ms since navigation start) once
# every widget is ready, or {error} naming the widgets in the error state.
READY_PROBE = """
window.__pageReady = new Promise((resolve) => {
  let first = null;
  const check = () => {
    const widgets = [...document.querySelectorAll("[data-widget]")];
    const states = widgets.map((w) => w.dataset.state);
    if (first === null && states.includes("ready")) first = performance.now();
    const failed = widgets.filter((w) => w.dataset.state === "error");
    if (failed.length) {
      resolve({ error: "widgets in the error state: " +
        failed.map((w) => w.dataset.widget).join(", ") });
    } else if (widgets.length && states.every((s) => s === "ready")) {
      resolve({ first, all: performance.now(), widgets: widgets.length });
    }
  };
  new MutationObserver(check).observe(document, {
    subtree: true, childList: true, attributes: true, attributeFilter: ["data-state"],
  });
});
"""


@dataclasses.dataclass
class PageResult:
    cold_ms: list[float] = dataclasses.field(default_factory=list)
    cold_first_ms: list[float] = dataclasses.field(default_factory=list)
    warm_ms: list[float] = dataclasses.field(default_factory=list)
    widgets: int = 0
    unavailable: str | None = None  # why there is no row

    @property
    def cold(self) -> float:
        return statistics.median(self.cold_ms)

    @property
    def cold_first(self) -> float:
        return statistics.median(self.cold_first_ms)

    @property
    def warm(self) -> float:
        return statistics.median(self.warm_ms)


def page_absent(base_url: str, path: str = "/") -> str | None:
    """Why `path` (the Network Overview by default) is not a page, or None."""
    try:
        response = httpx.get(base_url + path, timeout=30.0)
    except httpx.HTTPError as exc:
        return f"page unreachable ({type(exc).__name__})"
    if response.status_code != 200:
        return f"page absent ({response.status_code})"
    if not response.headers.get("content-type", "").startswith("text/html"):
        return f"page absent (GET {path} is not HTML)"
    return None


def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"Chromium absent ({CHROMIUM}: apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright not installed (make install)"
    return None


def _load(page: Any, navigate: Any, timeout_ms: float) -> dict[str, Any]:
    navigate()
    result: dict[str, Any] = page.evaluate(
        "(ms) => Promise.race([window.__pageReady, new Promise((r) => "
        "setTimeout(() => r({error: 'not ready within ' + ms + ' ms'}), ms))])",
        timeout_ms,
    )
    return result


def measure_page(base_url: str, loads: int = 5, timeout: float = 30.0) -> PageResult:
    """`loads` cold loads and `loads` warm reloads of `base_url`/."""
    reason = page_absent(base_url) or _browser_missing()
    if reason is not None:
        return PageResult(unavailable=reason)
    from playwright.sync_api import sync_playwright

    result = PageResult()
    url = base_url + "/"
    timeout_ms = timeout * 1000
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        try:
            context = None
            for index in range(loads + 1):  # the first warms the server
                if context is not None:
                    context.close()
                context = browser.new_context(
                    viewport={"width": WIDTH, "height": HEIGHT}
                )
                context.add_init_script(READY_PROBE)
                page = context.new_page()
                load = _load(page, partial(page.goto, url), timeout_ms)
                if "error" in load:
                    return PageResult(unavailable=f"cold load: {load['error']}")
                if index:
                    result.cold_ms.append(load["all"])
                    result.cold_first_ms.append(load["first"])
                    result.widgets = load["widgets"]
            for _ in range(loads):
                load = _load(page, page.reload, timeout_ms)
                if "error" in load:
                    return PageResult(unavailable=f"warm reload: {load['error']}")
                result.warm_ms.append(load["all"])
        finally:
            browser.close()
    return result


def page_lines(page: PageResult) -> list[str]:
    """The page row as a Markdown table, or the reason there is none."""
    if page.unavailable is not None:
        return [f"Unavailable: {page.unavailable}. No page row."]
    runs = len(page.cold_ms)
    return [
        "| page | widgets | cold: first widget ready ms | cold: all widgets ready "
        "ms | warm reload: all widgets ready ms |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| GET / (Chromium, {WIDTH}x{HEIGHT}) "
        f"| {page.widgets} | {page.cold_first:,.0f} | {page.cold:,.0f} "
        f"| {page.warm:,.0f} |",
        "",
        f"Medians of {runs} cold loads (each in a new browser context, so an "
        f"empty HTTP cache) and {len(page.warm_ms)} warm reloads of the last, "
        "after one unmeasured load; from navigation start (`performance.now()`) "
        'to the last `[data-widget]` at `data-state="ready"`. Cold: '
        + ", ".join(f"{x:,.0f}" for x in page.cold_ms)
        + " ms; warm: "
        + ", ".join(f"{x:,.0f}" for x in page.warm_ms)
        + " ms.",
    ]
