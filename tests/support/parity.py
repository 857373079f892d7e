"""The parity cases: for each dashboard route, a GraphQL query of the same data
in another shape, and the check that both surfaces answer from one snapshot."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.applications import Starlette

from simulator import Fault
from tests.support.app import Clock, serve

BASE = "/api/v1/dashboard"


def whole(body: Any) -> Any:
    return body


@dataclass(frozen=True)
class Case:
    """A route, a GraphQL document for the same data, and for each of its root
    aliases the part of the REST body it must equal."""

    route: str
    query: str
    views: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    # Data that does not move with the clock: this upstream answer replaces the
    # real one between the two requests instead (endpoint, body).
    upstream: tuple[str, bytes] | None = None


CASES = {
    "kpi": Case(
        f"{BASE}/kpi?timeframe=12",
        """{ k: kpi(window: "12h") {
              successRate { value delta } orchestratorsObserved { value }
              dailyUsageMins { value } hourlyUsage { hour value } timeframeHours
              requests { ai_batch { avg_duration_ms success_rate } byoc { total_jobs } }
        } }""",
        {"k": whole},
    ),
    "pipelines": Case(
        f"{BASE}/pipelines?limit=5&timeframe=48",
        """{ overview: pipelinesOverview(limit: 5, timeframe: "48h") {
              streaming { name mins sessions modelMins { model mins } }
              requests { by_pipeline { pipeline total_jobs } }
            }
            rows: pipelines(limit: 5, timeframe: "48") { name avgFps color } }""",
        {"overview": whole, "rows": lambda body: body["streaming"]},
    ),
    "pipeline-catalog": Case(
        f"{BASE}/pipeline-catalog",
        "{ catalog: pipelineCatalog { id name models } }",
        {"catalog": whole},
        upstream=(
            "dashboard/pipeline-catalog",
            b'[{"id": "new-pipeline", "name": "New", "models": ["m"], "regions": []}]',
        ),
    ),
    "orchestrators": Case(
        f"{BASE}/orchestrators?period=2d",
        """{ o: orchestrators(period: "48h") {
              address knownSessions successRatio slaScore lastSeen gpuCount
        } }""",
        {"o": whole},
    ),
    "protocol": Case(
        f"{BASE}/protocol",
        "{ p: protocol { blockProgress currentRound } }",
        {"p": whole},
    ),
    "gpu-capacity": Case(
        f"{BASE}/gpu-capacity?timeframe=12",
        """{ g: gpuCapacity(timeframe: "72") {
              totalGPUs activeGPUs availableCapacity models { model count }
        } }""",
        {"g": whole},
    ),
    "pricing": Case(
        f"{BASE}/pricing",
        "{ prices: pricing { pipeline model price capacity outputPerDollar } }",
        {"prices": whole},
        upstream=("dashboard/pricing", b"[]"),
    ),
    "fees": Case(
        f"{BASE}/fees",
        """query Fees($days: Int) { f: fees(days: $days) {
              totalUsd oneDayVolumeUsd oneDayVolumeEth volumeChangeUsd
              dayData { dateS volumeEth volumeUsd } weeklyData { date weeklyVolumeEth }
        } }""",
        {"f": whole},
    ),
    "job-feed": Case(
        f"{BASE}/job-feed?pollMs=5000",
        """{ feed: jobFeed(limit: 50) {
              streams { id status inputFps outputFps startedAt runningFor }
              queryFailed
        } }""",
        {"feed": whole},
    ),
}


def assert_same(graphql: Any, rest: Any, where: str = "") -> None:
    """Every value GraphQL selected equals the REST body's at the same place."""
    if isinstance(graphql, dict):
        assert isinstance(rest, dict), where
        for key, value in graphql.items():
            assert key in rest, f"{where}.{key}"
            assert_same(value, rest[key], f"{where}.{key}")
    elif isinstance(graphql, list):
        assert isinstance(rest, list), where
        assert len(graphql) == len(rest), where
        for index, (one, other) in enumerate(zip(graphql, rest, strict=True)):
            assert_same(one, other, f"{where}[{index}]")
    else:
        assert graphql == rest, f"{where}: {graphql!r} != {rest!r}"
        assert type(graphql) is type(rest), where


async def ask_rest(http: httpx.AsyncClient, case: Case) -> Any:
    response = await http.get(case.route)
    assert response.status_code == 200, response.text
    return response.json()


async def ask_graphql(http: httpx.AsyncClient, case: Case) -> dict[str, Any]:
    response = await http.post("/graphql", json={"query": case.query})
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def move_upstream_on(case: Case, clock: Clock, simulator: Starlette) -> None:
    clock.advance(minutes=10)
    if case.upstream is not None:
        endpoint, body = case.upstream
        simulator.state.faults[endpoint] = Fault(body=body)


async def check_parity(
    first: Starlette,
    second: Starlette,
    simulator: Starlette,
    clock: Clock,
    name: str,
    order: str,
) -> None:
    """Ask the first surface of `order` on `first`, move the upstream on, ask the
    other surface on `second` (the same app, or another instance sharing its
    store); assert both agree and that the upstream really moved."""
    case = CASES[name]
    async with serve(first) as one, serve(second) as other:
        if order == "rest-first":
            rest = await ask_rest(one, case)
            move_upstream_on(case, clock, simulator)
            graphql = await ask_graphql(other, case)
        else:
            graphql = await ask_graphql(one, case)
            move_upstream_on(case, clock, simulator)
            rest = await ask_rest(other, case)
        separator = "&" if "?" in case.route else "?"
        moved = await one.get(f"{case.route}{separator}refresh=1")

    for alias, view in case.views.items():
        assert_same(graphql[alias], view(rest), alias)
    # The upstream's data did move: a read that bypasses the snapshot sees it.
    assert moved.status_code == 200
    assert moved.json() != rest
