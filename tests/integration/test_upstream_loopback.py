"""Upstream failures over real sockets: the simulator served by uvicorn on loopback.

`httpx.ASGITransport` ignores httpx's timeouts and cannot refuse a connection, so
the deadline, drip, refused-connection and status cases that depend on the network
stack run here against a real TCP server. Each upstream deadline is 0.5 s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from simulator import Fault, create_simulator
from tests.support.app import Clock, make_settings, serve
from tests.support.loopback import closed_port_url, serve_on_loopback

pytestmark = pytest.mark.slow

DEADLINE = 0.5
# The deadline plus slack for a slow machine; the faults below would take 30 s or
# more to answer if the deadline did not apply.
FAST = 1.5
FAILURE_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=0"


@dataclass(frozen=True, slots=True)
class LiveSimulator:
    app: Starlette
    base_url: str

    @property
    def faults(self) -> dict[str, Fault]:
        faults: dict[str, Fault] = self.app.state.faults
        return faults

    @property
    def calls(self) -> dict[str, int]:
        calls: dict[str, int] = self.app.state.calls
        return calls


def upstream_settings(base_url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "naap_api_server_url": f"{base_url}/v1",
        "subgraph_url": f"{base_url}/subgraph",
        "l1_rpc_url": f"{base_url}/rpc",
        "analytics_timeout": DEADLINE,
        "subgraph_timeout": DEADLINE,
        "l1_rpc_timeout": DEADLINE,
    }
    values.update(overrides)
    return make_settings(**values)


@pytest.fixture
async def live_simulator(clock: Clock) -> AsyncIterator[LiveSimulator]:
    sim = create_simulator(seed=1, clock=clock)
    async with serve_on_loopback(sim) as base_url:
        yield LiveSimulator(sim, base_url)


async def timed_get(http: httpx.AsyncClient, path: str) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await http.get(path)
    return response, time.monotonic() - started


def assert_unavailable(response: httpx.Response, message: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": {"code": "SERVICE_UNAVAILABLE", "message": message}
    }
    assert response.headers["cache-control"] == FAILURE_CACHE


@pytest.mark.parametrize(
    ("path", "keys", "check"),
    [
        pytest.param(
            "/api/v1/dashboard/kpi",
            ("dashboard/kpi",),
            lambda body: "successRate" in body,
            id="kpi",
        ),
        pytest.param(
            "/api/v1/dashboard/protocol",
            ("subgraph", "rpc"),
            lambda body: body["blockProgress"] > 0,
            id="protocol",
        ),
    ],
)
async def test_route_is_served_without_simulator_label_when_upstreams_are_real(
    live_simulator: LiveSimulator,
    clock: Clock,
    path: str,
    keys: tuple[str, ...],
    check: Callable[[Any], bool],
) -> None:
    app = create_app(upstream_settings(live_simulator.base_url), clock=clock)
    async with serve(app) as http:
        response = await http.get(path)

    assert response.status_code == 200, response.text
    assert check(response.json())
    assert "x-data-source" not in response.headers
    assert all(live_simulator.calls[key] == 1 for key in keys)


@pytest.mark.parametrize(
    ("path", "key", "fault", "message", "hits"),
    [
        pytest.param(
            "/api/v1/dashboard/kpi",
            "dashboard/kpi",
            Fault(latency=30),
            "KPI data is unavailable",
            1,
            id="kpi-slow",
        ),
        pytest.param(
            "/api/v1/dashboard/gpu-capacity",
            "dashboard/gpu-capacity",
            Fault(drip_bytes_per_s=5),
            "GPU capacity data is unavailable",
            1,
            id="gpu-capacity-drip",
        ),
        pytest.param(
            "/api/v1/dashboard/fees",
            "subgraph",
            Fault(latency=30),
            "Fees data is unavailable",
            1,
            id="fees-slow-subgraph",
        ),
        pytest.param(
            "/api/v1/dashboard/kpi",
            "dashboard/kpi",
            Fault(status=429),
            "KPI data is unavailable",
            1,
            id="kpi-429",
        ),
        pytest.param(
            "/api/v1/dashboard/pipelines",
            "dashboard/pipelines",
            Fault(status=502),
            "Pipelines data is unavailable",
            2,  # 502 is retried once
            id="pipelines-502",
        ),
    ],
)
async def test_route_is_unavailable_within_deadline_when_upstream_misbehaves(
    live_simulator: LiveSimulator,
    clock: Clock,
    path: str,
    key: str,
    fault: Fault,
    message: str,
    hits: int,
) -> None:
    live_simulator.faults[key] = fault
    app = create_app(upstream_settings(live_simulator.base_url), clock=clock)
    async with serve(app) as http:
        response, elapsed = await timed_get(http, path)

    assert_unavailable(response, message)
    assert elapsed < FAST
    assert live_simulator.calls[key] == hits


async def test_protocol_reports_zero_block_progress_when_rpc_is_slow(
    live_simulator: LiveSimulator, clock: Clock
) -> None:
    live_simulator.faults["rpc"] = Fault(latency=30)
    app = create_app(upstream_settings(live_simulator.base_url), clock=clock)
    async with serve(app) as http:
        response, elapsed = await timed_get(http, "/api/v1/dashboard/protocol")

    assert response.status_code == 200, response.text
    assert response.json()["blockProgress"] == 0
    assert response.json()["currentRound"] > 0
    assert elapsed < FAST


@pytest.mark.parametrize(
    ("path", "message"),
    [
        pytest.param("/api/v1/dashboard/kpi", "KPI data is unavailable", id="kpi"),
        pytest.param(
            "/api/v1/dashboard/protocol", "Protocol data is unavailable", id="protocol"
        ),
    ],
)
async def test_route_is_unavailable_fast_when_connection_is_refused(
    clock: Clock, path: str, message: str
) -> None:
    app = create_app(upstream_settings(closed_port_url()), clock=clock)
    async with serve(app) as http:
        response, elapsed = await timed_get(http, path)

    assert_unavailable(response, message)
    assert elapsed < FAST


async def test_job_feed_reports_query_failed_when_connection_is_refused(
    clock: Clock,
) -> None:
    app = create_app(upstream_settings(closed_port_url()), clock=clock)
    async with serve(app) as http:
        response, elapsed = await timed_get(http, "/api/v1/dashboard/job-feed")

    assert response.status_code == 200, response.text
    assert response.json() == {
        "streams": [],
        "clickhouseConfigured": True,
        "queryFailed": True,
    }
    assert response.headers["cache-control"] == FAILURE_CACHE
    assert elapsed < FAST
