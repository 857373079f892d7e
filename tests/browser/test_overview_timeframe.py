"""The timeframe: a change refetches the four routes that depend on it (and
aborts what it supersedes), keeps the old content until the new arrives, and is
kept in the URL and in localStorage."""

from __future__ import annotations

from typing import Any

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import API, fmt_int, open_overview, wait_settled


def _labels(page: Any) -> set[str]:
    tiles: list[str] = page.locator("[data-kpi] h3").all_inner_texts()
    spans: list[str] = page.locator("[data-tf]").all_inner_texts()
    return {t.split(" · ")[-1] for t in tiles} | set(spans)


def test_a_change_refetches_four_routes_and_is_kept(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    before = len(page_log.paths(API))
    page.select_option("#timeframe", "7d")
    wait_settled(page)
    assert sorted(page_log.paths(API)[before:]) == sorted(
        [
            API + "kpi?timeframe=168",
            API + "pipelines?timeframe=168&limit=200",
            API + "orchestrators?period=168h",
            API + "gpu-capacity?timeframe=168",
        ]
    )
    assert _labels(page) == {"7d"}
    assert page.url.endswith("/?timeframe=7d")
    assert page.evaluate("() => localStorage.getItem('naap.timeframe')") == "7d"

    page.goto(server.base_url + "/")  # no query: localStorage decides
    wait_settled(page)
    assert page.locator("#timeframe").input_value() == "7d"
    assert API + "kpi?timeframe=168" in page_log.paths(API)[before + 4 :]
    assert _labels(page) == {"7d"}
    page.goto(server.base_url + "/?timeframe=6h")  # a shared link wins
    wait_settled(page)
    assert _labels(page) == {"6h"}
    page_log.assert_clean()


def test_the_last_choice_wins_over_a_slow_earlier_answer(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    held: list[Any] = []
    page.route("**/api/v1/dashboard/kpi?timeframe=1", lambda route: held.append(route))
    open_overview(page, server)
    with page.expect_request("**/api/v1/dashboard/kpi?timeframe=1"):
        page.select_option("#timeframe", "1h")
    for _ in range(200):  # the route handler runs as Playwright's events arrive
        if held:
            break
        page.wait_for_timeout(10)
    assert len(held) == 1  # the 1 h KPI answer is held back
    page.select_option("#timeframe", "12h")
    wait_settled(page)
    assert _labels(page) == {"12h"}
    tile = page.locator("[data-kpi=sessions] .value").inner_text()
    # The superseded request was aborted: letting its answer through changes nothing.
    held[0].continue_()
    page.evaluate("() => new Promise((done) => requestAnimationFrame(() => done(0)))")
    assert _labels(page) == {"12h"}
    assert page.locator("[data-kpi=sessions] .value").inner_text() == tile
    kpi = server.get(API + "kpi?timeframe=12").json()
    assert tile == fmt_int(kpi["dailySessionCount"]["value"])
    assert held[0].request.failure is not None or held[0].request.response() is None
    page_log.assert_clean()
