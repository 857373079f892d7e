"""The page's quality bars: axe-core finds nothing in dark, light and error
states; the keyboard reaches every control with a visible focus; a phone-sized
screen never scrolls sideways; a cold load keeps its budgets; and screenshots of
the ready and error states for people to look at."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.axe import run_axe
from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import (
    ROUTES,
    WIDGETS,
    open_overview,
    states,
    unavailable,
)

CLS_OBSERVER = """
window.__cls = 0;
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    if (!entry.hadRecentInput) window.__cls += entry.value;
  }
}).observe({ type: "layout-shift", buffered: true });
"""
TWO_FRAMES = """() => new Promise(
  (done) => requestAnimationFrame(() => requestAnimationFrame(done)))"""
# Each control gets a number; Tab reports which one has focus and how it shows.
NUMBER_CONTROLS = """() => {
  const controls = [...document.querySelectorAll(
    "a[href], button, select, input, [tabindex='0']")];
  const shown = controls.filter((el) => el.checkVisibility());
  shown.forEach((el, i) => { el.dataset.k = String(i); });
  return shown.length;
}"""
FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const outline = style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 1;
  return { k: el.dataset.k ?? null, tag: el.tagName, outline };
}"""
STREAM = "/api/v1/dashboard/job-feed/stream"
BUDGET = {"kib": 100, "own_js_kib_gz": 40, "requests": 15, "dom": 1200, "cls": 0.02}


def _fail_with(body: dict[str, Any]) -> Any:
    return lambda route: route.fulfill(status=503, json=body)


def _error_state(page: Any) -> None:
    """Fees and pricing down, the job feed down before its first answer."""
    for route, message in (
        ("fees*", "Fees data is unavailable"),
        ("pricing", "Pipeline unit cost data is unavailable"),
        ("job-feed**", "Job feed is unavailable"),  # its stream, then its polls
    ):
        page.route(f"**/api/v1/dashboard/{route}", _fail_with(unavailable(message)))


def test_axe_finds_no_violations_in_dark_light_and_error_states(
    open_page: Any, server: ServerProcess, page_log: PageLog, axe: Path
) -> None:
    found = {}
    for name, options in (("dark", {}), ("light", {"color_scheme": "light"})):
        page = open_page(**options)
        open_overview(page, server)
        found[name] = run_axe(page, axe)
    page = open_page()
    _error_state(page)
    open_overview(page, server)
    assert states(page)["fees"] == "error"
    assert states(page)["feed"] == "error"
    found["error"] = run_axe(page, axe)
    assert found == {"dark": [], "light": [], "error": []}
    assert page_log.page_errors == []


def test_tab_reaches_every_control_with_a_visible_focus(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    controls = page.evaluate(NUMBER_CONTROLS)
    assert controls > 40
    reached: set[str] = set()
    invisible: list[str] = []
    for _ in range(controls + 5):
        page.keyboard.press("Tab")
        focused = page.evaluate(FOCUSED)
        if focused["k"] is None:
            break  # past the last control
        reached.add(focused["k"])
        if not focused["outline"]:
            invisible.append(f"{focused['tag']} #{focused['k']}")
    assert reached == {str(i) for i in range(controls)}
    assert invisible == []
    page_log.assert_clean()


def test_a_phone_screen_never_scrolls_sideways(
    open_page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page = open_page(viewport={"width": 390, "height": 844}, is_mobile=True)
    open_overview(page, server)
    assert states(page) == dict.fromkeys(WIDGETS, "ready")
    widths = page.evaluate(
        "() => ({ page: document.documentElement.scrollWidth, view: innerWidth,"
        "  table: document.querySelector('#orchestrators .body').scrollWidth,"
        "  card: document.querySelector('#orchestrators .body').clientWidth })"
    )
    assert widths["page"] <= widths["view"] == 390
    assert widths["table"] > widths["card"]  # the table scrolls inside its card
    page_log.assert_clean()


def test_a_cold_load_keeps_its_budgets(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page.add_init_script(CLS_OBSERVER)
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    sent: dict[str, str] = {}
    done: dict[str, int] = {}
    cdp.on(
        "Network.requestWillBeSent",
        lambda e: (
            sent.update({e["requestId"]: e["request"]["url"]})
            if STREAM not in e["request"]["url"]  # it never finishes, by design
            else None
        ),
    )
    cdp.on(
        "Network.loadingFinished",
        lambda e: done.update({e["requestId"]: e["encodedDataLength"]}),
    )
    open_overview(page, server)
    page.evaluate(TWO_FRAMES)
    for _ in range(100):  # the last loadingFinished events may trail the render
        if set(done) >= set(sent):
            break
        page.wait_for_timeout(10)
    own_js = sum(
        int(
            server.get(path, headers={"accept-encoding": "gzip"}).headers[
                "content-length"
            ]
        )
        for path in page_log.paths("/static/js/")
    )
    api = page_log.paths("/api/")
    measured = {
        "kib": round(sum(done.values()) / 1024, 1),
        "own_js_kib_gz": round(own_js / 1024, 1),
        "requests": len(page_log.requests) - len(api),
        "dom": page.evaluate("() => document.getElementsByTagName('*').length"),
        "cls": round(page.evaluate("() => window.__cls"), 4),
    }
    print(f"\ncold load: {measured}, plus {len(api)} API requests")  # noqa: T201
    assert sorted(api) == sorted(ROUTES.values())
    assert set(done) >= set(sent), [sent[k] for k in set(sent) - set(done)]
    for name, limit in BUDGET.items():
        assert measured[name] <= limit, (name, measured)
    page_log.assert_clean()


def test_screenshots_of_the_ready_and_error_states(
    open_page: Any, server: ServerProcess, artifacts: Path
) -> None:
    page = open_page()
    open_overview(page, server)
    page.screenshot(path=artifacts / "overview-ready.png", full_page=True)
    readme = page.screenshot(path=artifacts / "overview-readme.png")
    assert len(readme) < 300_000
    page = open_page()
    _error_state(page)
    open_overview(page, server)
    page.screenshot(path=artifacts / "overview-error.png", full_page=True)
    for name in ("overview-ready.png", "overview-error.png"):
        assert (artifacts / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
