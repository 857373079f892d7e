"""A REST route and a GraphQL query of the same data agree, whichever comes first.

For each of the nine dashboard routes: one surface is asked, the simulator's clock
(the upstream's data) moves on, then the other surface is asked with a query of a
different shape (other argument spellings, aliases, a subset of fields). Both
answers must carry identical values: they come from one snapshot. Each case
proves it can fail: a bypassing read afterwards sees the upstream's new data.
Runs on the in-process store and on Redis (TEST_REDIS_URL).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from simulator import Fault, create_simulator
from tests.conftest import Clock, serve
from tests.redisutil import flushed_redis_url

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


@pytest.fixture(params=["memory", "redis"])
async def parity_app(
    request: pytest.FixtureRequest, settings: Any, clock: Clock
) -> tuple[Starlette, Starlette]:
    overrides: dict[str, Any] = {}
    if request.param == "redis":
        overrides["cache_url"] = await flushed_redis_url()
    simulator = create_simulator(seed=1, clock=clock)
    app = create_app(
        settings.model_copy(update=overrides), simulator=simulator, clock=clock
    )
    return app, simulator


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


@pytest.mark.parametrize("order", ["rest-first", "graphql-first"])
@pytest.mark.parametrize("name", list(CASES))
async def test_rest_and_graphql_agree_when_upstream_moves_between_them(
    parity_app: tuple[Starlette, Starlette], clock: Clock, name: str, order: str
) -> None:
    app, simulator = parity_app
    case = CASES[name]
    async with serve(app) as http:
        if order == "rest-first":
            rest = await ask_rest(http, case)
            move_upstream_on(case, clock, simulator)
            graphql = await ask_graphql(http, case)
        else:
            graphql = await ask_graphql(http, case)
            move_upstream_on(case, clock, simulator)
            rest = await ask_rest(http, case)
        separator = "&" if "?" in case.route else "?"
        moved = await http.get(f"{case.route}{separator}refresh=1")

    for alias, view in case.views.items():
        assert_same(graphql[alias], view(rest), alias)
    # The upstream's data did move: a read that bypasses the snapshot sees it.
    assert moved.status_code == 200
    assert moved.json() != rest
