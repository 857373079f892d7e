"""Failures stay inside their widget: the envelope's message and status, a Retry
that refetches only that widget's routes, a banner naming the route; a failed
secondary route leaves "—" and a note in an otherwise rendered widget."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.browser import PageLog, ServerProcess
from tests.support.overview import (
    API,
    ROUTES,
    WIDGETS,
    open_overview,
    states,
    unavailable,
    wait_settled,
)

FEES_DOWN = unavailable("Fees data is unavailable")


@pytest.fixture(scope="module")
def fresh_server(
    chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    """A server whose fees snapshot has never been loaded, so an upstream fault
    reaches the page (the session's server would answer from its snapshot)."""
    process = ServerProcess(tmp_path_factory.mktemp("fresh-server")).start()
    yield process
    process.stop()


def _only_503s(page_log: PageLog) -> None:
    """The browser logs each 503 it receives; nothing else may be logged."""
    assert page_log.page_errors == []
    assert page_log.blocked == []
    for line in page_log.console_errors:
        assert "status of 503" in line, page_log.console_errors


def _assert_fees_failed(page: Any, message: str) -> None:
    assert states(page) == {**dict.fromkeys(WIDGETS, "ready"), "fees": "error"}
    error = page.locator("#fees .message.error")
    assert error.locator(".text").inner_text() == message
    assert error.locator(".status").inner_text() == "HTTP 503 · SERVICE_UNAVAILABLE"
    banner = page.locator("#banner")
    assert banner.is_visible()
    assert banner.locator("[data-route]").all_inner_texts() == ["fees"]


def test_a_503_stays_in_its_widget_and_retry_refetches_only_it(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page.route(
        "**/api/v1/dashboard/fees*", lambda r: r.fulfill(status=503, json=FEES_DOWN)
    )
    open_overview(page, server)
    _assert_fees_failed(page, "Fees data is unavailable")
    page.unroute("**/api/v1/dashboard/fees*")
    before = len(page_log.paths(API))
    page.locator("#fees .retry").click()
    wait_settled(page)
    assert page_log.paths(API)[before:] == [ROUTES["fees"]]
    assert states(page) == dict.fromkeys(WIDGETS, "ready")
    assert page.locator("#banner").is_hidden()
    _only_503s(page_log)


def test_an_upstream_fault_reaches_the_page_and_retry_recovers(
    page: Any, fresh_server: ServerProcess, page_log: PageLog
) -> None:
    # Protocol reads the subgraph too: load it first, so only fees fails.
    assert fresh_server.get(ROUTES["protocol"]).status_code == 200
    fresh_server.set_faults({"subgraph": {"status": 503}})
    try:
        open_overview(page, fresh_server)
        _assert_fees_failed(page, "Fees data is unavailable")
    finally:
        fresh_server.clear_faults()
    page.locator("#fees .retry").click()
    wait_settled(page)
    assert states(page) == dict.fromkeys(WIDGETS, "ready")
    assert page.locator("#banner").is_hidden()
    _only_503s(page_log)


def test_a_failed_secondary_route_leaves_dashes_and_a_note(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    down = unavailable("Pipeline unit cost data is unavailable")
    page.route(
        "**/api/v1/dashboard/pricing", lambda r: r.fulfill(status=503, json=down)
    )
    open_overview(page, server)
    assert states(page) == dict.fromkeys(WIDGETS, "ready")
    prices = page.locator("#pipelines tbody tr.child td:nth-child(3)").all_inner_texts()
    assert prices
    assert set(prices) == {"—"}
    assert page.locator("#pipelines tbody tr.child").count() > 0
    note = page.locator("#pipelines-note [data-note=pricing]").inner_text()
    assert "Prices unavailable" in note
    assert "HTTP 503" in note
    assert page.locator("#banner [data-route]").all_inner_texts() == ["pricing"]

    page.unroute("**/api/v1/dashboard/pricing")
    before = len(page_log.paths(API))
    page.locator("#pipelines-note .retry").click()
    wait_settled(page)
    assert page_log.paths(API)[before:] == [ROUTES["pricing"]]
    assert "wei/" in " ".join(
        page.locator("#pipelines tbody tr.child td:nth-child(3)").all_inner_texts()
    )
    assert page.locator("#banner").is_hidden()
    _only_503s(page_log)


def test_an_empty_list_is_not_an_error(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page.route("**/api/v1/dashboard/orchestrators*", lambda r: r.fulfill(json=[]))
    open_overview(page, server)
    assert states(page)["orchestrators"] == "empty"
    text = page.locator("#orchestrators .message").inner_text()
    assert text == "No orchestrators in this window"
    assert page.locator("#banner").is_hidden()
    page_log.assert_clean()
