"""The API reference at /docs in a real browser: every route of /openapi.json
rendered under the page's strict CSP, with no console error and no request off
this server; "Try it out" calls this server; axe finds nothing serious or
critical; DOCS=false makes it a 404."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.support import axe
from tests.support.browser import PageLog, ServerProcess

KPI = "#operations-Dashboard-DashboardKPI"


def open_docs(page: Any, server: ServerProcess) -> None:
    page.goto(server.base_url + "/docs")
    page.locator(".opblock").first.wait_for()


def try_kpi(page: Any) -> Any:
    """Expand the KPI route, Try it out with timeframe=12, Execute; the answer."""
    operation = page.locator(KPI)
    operation.locator(".opblock-summary-control").click()
    operation.get_by_role("button", name="Try it out").click()
    operation.locator("tr[data-param-name='timeframe'] input").fill("12")
    with page.expect_response(lambda r: "/api/v1/dashboard/kpi" in r.url) as answer:
        operation.get_by_role("button", name="Execute").click()
    operation.locator(".live-responses-table").wait_for()
    return answer.value


@pytest.fixture(scope="module")
def server_without_docs(
    chromium: Any, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServerProcess]:
    workdir: Path = tmp_path_factory.mktemp("browser-server-no-docs")
    process = ServerProcess(workdir, DOCS="false").start()
    yield process
    process.stop()


@pytest.fixture
def axe_page(chromium: Any, server: ServerProcess) -> Iterator[Any]:
    """A page whose CSP is bypassed, so axe's script tag can be injected."""
    axe.require_axe()
    context = chromium.new_context(
        viewport={"width": 1440, "height": 1000}, bypass_csp=True
    )
    page = context.new_page()
    PageLog().watch(context, page)  # still nothing off loopback
    yield page
    context.close()


def test_docs_renders_every_route_of_the_openapi_document(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    document = server.get("/openapi.json").json()
    expected = sorted(
        (method.upper(), path)
        for path, operations in document["paths"].items()
        for method in operations
    )
    open_docs(page, server)
    page.wait_for_function(
        "n => document.querySelectorAll('.opblock').length >= n", arg=len(expected)
    )
    shown = page.eval_on_selector_all(
        ".opblock",
        """blocks => blocks.map(b => [
            b.querySelector('.opblock-summary-method').textContent,
            b.querySelector('.opblock-summary-path').dataset.path,
        ])""",
    )
    assert sorted(map(tuple, shown)) == expected
    page_log.assert_clean()
    origins = {urlsplit(r.url).netloc for r in page_log.requests}
    assert origins == {urlsplit(server.base_url).netloc}
    assert "/openapi.json" in page_log.paths()


def test_docs_shows_parameters_responses_examples_and_tries_routes_here(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    open_docs(page, server)
    answer = try_kpi(page)
    operation = page.locator(KPI)
    names = operation.locator("tr[data-param-name]").evaluate_all(
        "rows => rows.map(r => r.dataset.paramName)"
    )
    assert {"timeframe", "pipeline", "model_id", "refresh"} <= set(names)
    codes = operation.locator(".responses-table tr.response").evaluate_all(
        "rows => rows.map(r => r.dataset.code)"
    )
    assert {"200", "400", "503"} <= set(codes)
    example = operation.locator("tr.response[data-code='200'] .example").first
    assert '"timeframeHours"' in example.inner_text()
    assert answer.status == 200
    assert urlsplit(answer.url).netloc == urlsplit(server.base_url).netloc
    assert answer.json() == server.get("/api/v1/dashboard/kpi?timeframe=12").json()
    live = operation.locator(".live-responses-table")
    assert live.locator(".response-col_status").last.inner_text().strip() == "200"
    assert "curl -X 'GET'" in operation.locator(".curl-command").inner_text()
    page_log.assert_clean()


def test_docs_has_no_serious_or_critical_axe_violations(
    axe_page: Any, server: ServerProcess
) -> None:
    found = {}
    open_docs(axe_page, server)
    found["loaded"] = axe.violations(axe_page)
    try_kpi(axe_page)
    found["route tried"] = axe.violations(axe_page)
    axe_page.locator(".btn.authorize").click()
    axe_page.locator(".modal-ux").wait_for()
    found["authorize dialog"] = axe.violations(axe_page)
    assert found == {"loaded": [], "route tried": [], "authorize dialog": []}


def test_graphiql_links_the_api_reference(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page.goto(server.base_url + "/graphql")
    page.get_by_role("link", name="REST API reference").click()
    page.wait_for_url("**/docs")
    page.locator(".opblock").first.wait_for()
    page_log.assert_clean()


def test_docs_is_a_404_when_switched_off(
    page: Any, server_without_docs: ServerProcess
) -> None:
    response = page.goto(server_without_docs.base_url + "/docs")
    assert response.status == 404
    assert response.json()["error"]["code"] == "NOT_FOUND"
    assert server_without_docs.get("/docs/assets/docs.js").status_code == 404
    assert server_without_docs.get("/openapi.json").status_code == 200
