"""Interactions: sorting (`aria-sort` and row order), the orchestrator filter,
the fees chart's weekly/daily toggle, its hover headline and its raw table, and
the table the fees card falls back to without uPlot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import (
    ROUTES,
    fmt_int,
    fmt_usd,
    open_overview,
)


def _column(page: Any, card: str, index: int) -> list[str]:
    texts: list[str] = page.locator(
        f"#{card} tbody tr:not(.child) td:nth-child({index})"
    ).all_inner_texts()
    return [t.strip() for t in texts]


def _date(seconds: int) -> str:
    day = datetime.fromtimestamp(seconds, UTC)
    return f"{day:%b} {day.day}, {day.year}"


def test_sorting_and_filtering_the_orchestrators(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    rows = server.get(ROUTES["orchestrators"]).json()
    open_overview(page, server)
    sessions = page.locator("#orchestrators th:has(button[data-sort=sessions])")
    assert sessions.get_attribute("aria-sort") == "none"
    sessions.locator("button").click()
    assert sessions.get_attribute("aria-sort") == "descending"
    by_sessions = sorted(rows, key=lambda o: -o["knownSessions"])
    assert _column(page, "orchestrators", 3) == [
        fmt_int(o["knownSessions"]) for o in by_sessions
    ]
    sessions.locator("button").click()
    assert sessions.get_attribute("aria-sort") == "ascending"
    assert _column(page, "orchestrators", 3) == [
        fmt_int(o["knownSessions"])
        for o in sorted(rows, key=lambda o: o["knownSessions"])
    ]
    address = page.locator("#orchestrators th:has(button[data-sort=address])")
    address.locator("button").click()
    assert address.get_attribute("aria-sort") == "ascending"
    assert sessions.get_attribute("aria-sort") == "none"
    shown = page.locator("#orchestrators tbody a[data-address]").evaluate_all(
        "(links) => links.map((a) => a.dataset.address)"
    )
    assert shown == sorted(shown, key=str.lower)
    assert len(shown) == len(rows)

    needle = "halcyon"
    expected = [
        o
        for o in rows
        if needle in " ".join([o["address"], *o["uris"], *o["pipelines"]]).lower()
    ]
    assert 0 < len(expected) < len(rows)
    page.fill("#orchestrators-filter", needle.upper())
    assert page.locator("#orchestrators tbody tr").count() == len(expected)
    assert page.locator("#orchestrators-note").inner_text() == (
        f"{len(expected)} of {len(rows)} orchestrators match"
    )
    page.fill("#orchestrators-filter", "")
    assert page.locator("#orchestrators tbody tr").count() == len(rows)
    page_log.assert_clean()


def test_sorting_pipelines_keeps_models_under_their_pipeline(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    mins = page.locator("#pipelines th:has(button[data-sort=mins])")
    assert mins.get_attribute("aria-sort") == "descending"
    name = page.locator("#pipelines th:has(button[data-sort=name])")
    name.locator("button").click()
    assert name.get_attribute("aria-sort") == "ascending"
    names = _column(page, "pipelines", 1)
    assert names == sorted(names, key=str.lower)
    classes = page.locator("#pipelines tbody tr").evaluate_all(
        "(rows) => rows.map((r) => r.className)"
    )
    assert classes[0] == ""  # a pipeline, then its models
    assert "child" in classes
    page_log.assert_clean()


def test_the_fees_chart_toggles_hovers_and_shows_its_table(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    fees = server.get(ROUTES["fees"]).json()
    open_overview(page, server)
    chart = page.locator("#fees .chart")
    assert chart.get_attribute("data-points") == str(len(fees["weeklyData"]))
    weekly = {
        (fmt_usd(w["weeklyVolumeUsd"]), f"Week of {_date(w['date'])}")
        for w in fees["weeklyData"]
    }
    box = chart.locator("canvas").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.5)
    headline = (
        page.locator("#fees .headline .value").inner_text(),
        page.locator("#fees .headline .caption").inner_text(),
    )
    assert headline in weekly

    page.locator("#fees button[data-mode=daily]").click()
    assert (
        page.locator("#fees button[data-mode=daily]").get_attribute("aria-pressed")
        == "true"
    )
    assert chart.get_attribute("data-points") == str(len(fees["dayData"]))
    page.locator("#fees button[data-raw]").click()
    assert page.locator("#fees table[data-raw=daily] tbody tr").count() == len(
        fees["dayData"]
    )
    page.locator("#fees button[data-mode=weekly]").click()
    rows = page.locator("#fees table[data-raw=weekly] tbody tr")
    assert rows.count() == len(fees["weeklyData"])
    assert rows.first.locator("td").nth(1).inner_text() == fmt_usd(
        fees["weeklyData"][0]["weeklyVolumeUsd"]
    )
    page.locator("#fees button[data-raw]").click()
    assert page.locator("#fees .chart canvas").count() == 1
    page_log.assert_clean()


def test_without_uplot_the_fees_card_shows_its_table(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    fees = server.get(ROUTES["fees"]).json()
    page.route("**/static/vendor/uPlot.iife.min.js", lambda r: r.fulfill(body=""))
    open_overview(page, server)
    assert page.locator("#fees").get_attribute("data-state") == "ready"
    assert page.locator("#fees .chart").count() == 0
    assert page.locator("#fees table[data-raw=weekly] tbody tr").count() == len(
        fees["weeklyData"]
    )
    assert page.locator("#fees button[data-raw]").is_hidden()
    assert "Chart unavailable" in page.locator("#fees .body").inner_text()
    page_log.assert_clean()
