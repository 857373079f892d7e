"""The overview page against the OpenAPI document, by independent tools: TypeScript
types generated from the served /openapi.json by openapi-typescript, and the
page's `// @ts-check` modules checked against them by `tsc --noEmit`
(scripts/page_types.py; both pinned in scripts/typecheck, installed by make test).

The page reads every route's body through `bodyOf(result, "<operationId>")` and
builds its URLs with `routeUrl(path, query)`, so a field, an operation, a path or
a query parameter that the document stops promising fails the check, as the
second test shows by taking each away."""

from __future__ import annotations

import copy
import os
import shutil
from types import ModuleType
from typing import Any

import httpx
import pytest

from tests.support.fetcher import load_script


@pytest.fixture(scope="module")
def page_types() -> ModuleType:
    module = load_script("page_types")
    missing = module.missing_tools()
    if shutil.which("node") is None:
        missing.append("node (Node.js)")
    if missing:
        reason = f"not installed: {', '.join(missing)} (make test installs them)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return module


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    served: dict[str, Any] = response.json()
    return served


def tsc_errors(page_types: ModuleType, document: dict[str, Any]) -> tuple[int, str]:
    done = page_types.check_document(document)
    return done.returncode, done.stdout + done.stderr


def test_the_page_agrees_with_the_served_openapi_document(
    page_types: ModuleType, document: dict[str, Any]
) -> None:
    status, output = tsc_errors(page_types, document)
    assert status == 0, f"tsc found the page and /openapi.json apart:\n{output}"


def test_what_the_page_relies_on_going_missing_fails_the_check(
    page_types: ModuleType, document: dict[str, Any]
) -> None:
    broken = copy.deepcopy(document)
    paths = broken["paths"]
    # A field the KPI tiles read.
    kpi = paths["/api/v1/dashboard/kpi"]["get"]["responses"]["200"]
    schema = kpi["content"]["application/json"]["schema"]
    del schema["properties"]["successRate"]
    schema["required"].remove("successRate")
    # The operation the fees chart names.
    paths["/api/v1/dashboard/fees"]["get"]["operationId"] = "DashboardFeesRenamed"
    # A path the page requests.
    del paths["/api/v1/dashboard/pricing"]
    # A query parameter the page sends.
    orchestrators = paths["/api/v1/dashboard/orchestrators"]["get"]
    orchestrators["parameters"] = [
        p for p in orchestrators["parameters"] if p.get("name") != "period"
    ]

    status, output = tsc_errors(page_types, broken)

    assert status != 0
    lines = output.splitlines()

    def reported(file: str, *words: str) -> bool:
        return any(
            line.startswith(f"app/web/static/js/{file}(")
            and all(w in line for w in words)
            for line in lines
        )

    assert reported("kpi.js", "successRate"), output
    assert reported("fees.js", "DashboardFees"), output
    assert reported("main.js", "/api/v1/dashboard/pricing"), output
    assert reported("main.js", "period"), output
