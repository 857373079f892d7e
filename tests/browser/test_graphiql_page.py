"""GraphiQL in a real browser: self-hosted, under its CSP, nothing external."""

from __future__ import annotations

from typing import Any

from tests.support.browser import PageLog, ServerProcess


def test_graphiql_loads_its_own_assets_and_runs_the_default_query(
    page: Any, server: ServerProcess, page_log: PageLog
) -> None:
    page.goto(server.base_url + "/graphql", wait_until="networkidle")
    page.locator(".graphiql-container").wait_for()
    page.locator(".graphiql-execute-button").click()
    page.locator(".result-window").get_by_text('"data"').wait_for()
    page_log.assert_clean()
    assert page_log.requests, "the page made no request"
