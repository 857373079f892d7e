"""The Network Overview page on a healthy server: what every widget shows equals
the REST bodies, each route is asked once, nothing leaves loopback, nothing is
logged as an error, and data is text, never markup."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import (
    API,
    JOB_FEED_REST,
    ROUTES,
    WIDGETS,
    fmt_int,
    fmt_percent,
    fmt_usd,
    fmt_wei,
    open_overview,
    states,
)

PAINTED = """() => {
  const canvas = document.querySelector("#fees .chart canvas");
  const { width, height } = canvas;
  const data = canvas.getContext("2d").getImageData(0, 0, width, height).data;
  let painted = 0;
  for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
  return { painted, area: width * height };
}"""


def _texts(page: Any, selector: str) -> list[str]:
    texts: list[str] = page.locator(selector).all_inner_texts()
    return [t.strip() for t in texts]


def _check_kpi(page: Any, kpi: dict[str, Any]) -> None:
    def value(key: str) -> str:
        text: str = page.locator(f"[data-kpi={key}] .value").inner_text()
        return text

    assert value("successRate") == fmt_percent(kpi["successRate"]["value"])
    assert value("orchestrators") == fmt_int(kpi["orchestratorsObserved"]["value"])
    assert value("usage") == fmt_int(kpi["dailyUsageMins"]["value"])
    assert value("sessions") == fmt_int(kpi["dailySessionCount"]["value"])
    for key, series in (("usage", "hourlyUsage"), ("sessions", "hourlySessions")):
        bars = page.locator(f"[data-kpi={key}] svg.spark rect")
        assert bars.count() == len(kpi[series]) > 0


def _check_pipelines(page: Any, body: dict[str, Any]) -> None:
    usage = {p["name"]: p for p in body["pipelines"]["streaming"]}
    catalog = {c["id"]: c["models"] for c in body["pipeline-catalog"]}
    names = set(usage) | set(catalog)
    models = {
        name: {m["model"] for m in usage.get(name, {}).get("modelMins") or []}
        | set(catalog.get(name, []))
        for name in names
    }
    rows = page.locator("#pipelines tbody tr:not(.child)")
    assert rows.count() == len(names)
    children = page.locator("#pipelines tbody tr.child")
    assert children.count() == sum(len(m) for m in models.values())
    prices = {
        (p["pipeline"], p["model"]): f"{fmt_wei(p['avgWeiPerUnit'])} wei/{p['unit']}"
        for p in body["pricing"]
    }
    shown = _texts(page, "#pipelines tbody tr.child td:nth-child(3)")
    assert set(prices.values()) & set(shown), "no model row shows its price"
    top = max(usage.values(), key=lambda p: p["mins"])
    first = page.locator("#pipelines tbody tr").first.locator("td")
    assert first.nth(0).inner_text().strip() == top["name"]
    assert first.nth(3).inner_text().strip() == fmt_int(top["mins"])


def test_every_widget_shows_the_numbers_of_its_routes(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    assert states(page) == dict.fromkeys(WIDGETS, "ready")
    # The same snapshots the page read (the test server keeps them fresh).
    body = {
        name: server.get(JOB_FEED_REST if name == "job-feed" else path).json()
        for name, path in ROUTES.items()
    }

    _check_kpi(page, body["kpi"])
    protocol = body["protocol"]
    assert page.locator("[data-stat=round] .value").inner_text() == fmt_int(
        protocol["currentRound"]
    )
    blocks = page.locator("[data-stat=blocks]").inner_text()
    assert (
        f"{fmt_int(protocol['blockProgress'])} of {fmt_int(protocol['totalBlocks'])}"
        in blocks
    )

    fees = body["fees"]
    chart = page.locator("#fees .chart")
    assert chart.get_attribute("data-points") == str(len(fees["weeklyData"]))
    assert page.locator("#fees .headline .value").inner_text() == fmt_usd(
        fees["oneWeekVolumeUsd"]
    )
    canvas = page.evaluate(PAINTED)
    assert canvas["painted"] > canvas["area"] // 20, canvas

    _check_pipelines(page, body)

    orchestrators = body["orchestrators"]
    assert page.locator("#orchestrators tbody tr").count() == len(orchestrators) > 0
    first = page.locator("#orchestrators tbody tr").first.locator("td")
    assert first.nth(2).inner_text().strip() == fmt_int(
        orchestrators[0]["knownSessions"]
    )

    streams = body["job-feed"]["streams"]
    assert page.locator("#feed tbody tr").count() == len(streams) > 0
    assert page.locator("#feed-live").is_visible()
    assert page.locator("#simulated").is_visible()
    assert page.locator("#updated").inner_text().endswith(" UTC")
    page_log.assert_clean()


def test_each_route_is_requested_once_and_nothing_leaves_loopback(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_overview(page, server)
    assert sorted(page_log.paths(API)) == sorted(ROUTES.values())
    origins = {
        f"{urlsplit(r.url).scheme}://{urlsplit(r.url).netloc}"
        for r in page_log.requests
    }
    assert origins == {server.base_url}
    # The explorer links go elsewhere, but only when followed.
    assert page.locator("#orchestrators a[href^='https://']").count() > 0
    assert page_log.blocked == []
    page_log.assert_clean()


def test_healthy_loads_log_no_console_or_page_errors(
    open_page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    for options in (
        {"color_scheme": "light"},
        {"viewport": {"width": 800, "height": 900}},
    ):
        page = open_page(**options)
        open_overview(page, server, "?timeframe=7d")
        assert states(page) == dict.fromkeys(WIDGETS, "ready")
        page.reload()
        open_overview(page, server)
    assert page_log.requests
    page_log.assert_clean()


def test_markup_in_an_orchestrator_uri_renders_as_text(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    rows = server.get(ROUTES["orchestrators"]).json()
    uri = '<img src=x onerror="window.__pwned = 1"><b>bold</b>https://x.example'
    rows[0]["uris"] = [uri]
    rows[0]["address"] = "<i>not-an-address</i>"
    rows[0]["pipelines"] = ["<script>window.__pwned = 2</script>"]
    page.route("**/api/v1/dashboard/orchestrators*", lambda r: r.fulfill(json=rows))
    open_overview(page, server)
    cells = page.locator("#orchestrators tbody tr").first.locator("td")
    assert cells.nth(0).inner_text() == "<i>not-an-address</i>"
    assert cells.nth(1).inner_text() == uri
    assert cells.nth(6).inner_text() == "<script>window.__pwned = 2</script>"
    assert page.locator("#orchestrators tbody :is(img, b, i, script)").count() == 0
    assert page.evaluate("() => window.__pwned") is None
    page_log.assert_clean()
