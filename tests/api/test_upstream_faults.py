"""The upstream fault suite, in process: what the simulator's faults show through
httpx.ASGITransport, route by route.

Every route whose required upstream call fails (HTTP 500, JSON of the wrong shape
for that endpoint, an answer slower than the deadline) answers the 503 envelope
with the short failure Cache-Control (the job feed: 200 with `queryFailed`).
Optional enrichments degrade instead (200, the short Cache-Control), failures and
degraded answers are not cached (the next request reaches the upstream again),
malformed rows are dropped, and a body over the cap is refused. Deadlines here are
`asyncio.timeout` deadlines, which work in process.

What needs a socket is in tests/integration/test_upstream_faults.py: each failure
classified (refused, hung, dripping, huge, redirected, 429, 5xx, bad bodies) on
both surfaces, deadlines, retries, Retry-After, the breaker, the memory bound.
Concurrent cold requests sharing one upstream call, and a 500 not being cached,
are the response cache's (tests/api/test_response_cache.py).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from app.upstream._http import JsonTransport
from simulator import Fault, create_simulator
from tests.support.app import Clock, serve
from tests.support.metrics import dropped_rows

Build = Callable[..., tuple[Starlette, Starlette]]

FAILURE_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=0"
SUCCESS_CACHE = "public, max-age=60, s-maxage=3600, stale-while-revalidate=7200"
SHORT_DEADLINE = {"analytics_timeout": 0.2, "subgraph_timeout": 0.2}
# A loose bound: the deadline (0.2 s) plus generous slack for a slow machine, far
# below the 2 s the slow fault would take if the deadline did not apply.
FAST = 1.9


@dataclass(frozen=True, slots=True)
class RouteCase:
    name: str
    path: str
    keys: tuple[str, ...]  # the simulator keys whose failure fails the route
    message: str  # the 503 message; "" for the job feed (in-band failure)
    wrong_shape: bytes  # valid JSON of the wrong shape for that upstream


ROUTE_CASES = (
    RouteCase(
        "kpi",
        "/api/v1/dashboard/kpi",
        ("dashboard/kpi",),
        "KPI data is unavailable",
        b'{"unexpected": true}',
    ),
    RouteCase(
        "pipelines",
        "/api/v1/dashboard/pipelines",
        ("dashboard/pipelines",),
        "Pipelines data is unavailable",
        b'{"unexpected": true}',
    ),
    RouteCase(
        "pipeline-catalog",
        "/api/v1/dashboard/pipeline-catalog",
        ("*",),
        "Pipeline catalog is unavailable",
        b'{"unexpected": true}',
    ),
    RouteCase(
        "orchestrators",
        "/api/v1/dashboard/orchestrators",
        ("dashboard/orchestrators",),
        "Orchestrators data is unavailable",
        b"{}",
    ),
    RouteCase(
        "protocol",
        "/api/v1/dashboard/protocol",
        ("subgraph",),
        "Protocol data is unavailable",
        b'{"unexpected": true}',
    ),
    RouteCase(
        "gpu-capacity",
        "/api/v1/dashboard/gpu-capacity",
        ("dashboard/gpu-capacity",),
        "GPU capacity data is unavailable",
        b"[]",
    ),
    RouteCase(
        "pricing",
        "/api/v1/dashboard/pricing",
        ("dashboard/pricing",),
        "Pipeline unit cost data is unavailable",
        b"{}",
    ),
    RouteCase(
        "fees",
        "/api/v1/dashboard/fees",
        ("subgraph",),
        "Fees data is unavailable",
        b"[]",
    ),
    RouteCase(
        "job-feed",
        "/api/v1/dashboard/job-feed",
        ("dashboard/job-feed",),
        "",
        b"{}",
    ),
)
ROUTES_BY_NAME = {case.name: case for case in ROUTE_CASES}

# A failed status, and a body of the wrong shape for the route's own endpoint (its
# parser's strictness), and an answer past the deadline. Truncated and HTML bodies
# fail in the transport before any route's parser: tests/integration covers them.
FAULT_KINDS: dict[str, Callable[[RouteCase], Fault]] = {
    "status-500": lambda _case: Fault(status=500),
    "wrong-shape": lambda case: Fault(body=case.wrong_shape),
    "slow": lambda _case: Fault(latency=2),
}

# Which simulator call counters a "*" fault is expected to hit for the catalog.
CATALOG_SOURCES = (
    "streaming/models",
    "requests/models",
    "dashboard/pricing",
    "dashboard/pipeline-catalog",
)


def assert_unavailable(response: httpx.Response, message: str) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": {"code": "SERVICE_UNAVAILABLE", "message": message}
    }
    assert response.headers["cache-control"] == FAILURE_CACHE


def assert_feed_failed(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    assert response.json() == {
        "streams": [],
        "clickhouseConfigured": True,
        "queryFailed": True,
    }
    assert response.headers["cache-control"] == FAILURE_CACHE


def assert_route_failed(case: RouteCase, response: httpx.Response) -> None:
    if case.message:
        assert_unavailable(response, case.message)
    else:
        assert_feed_failed(response)


@pytest.mark.parametrize("kind", list(FAULT_KINDS))
@pytest.mark.parametrize("case", ROUTE_CASES, ids=[c.name for c in ROUTE_CASES])
async def test_route_fails_cleanly_when_required_upstream_fails(
    faulty_app: Build, case: RouteCase, kind: str
) -> None:
    fault = FAULT_KINDS[kind](case)
    overrides = SHORT_DEADLINE if kind == "slow" else {}
    app, simulator = faulty_app(dict.fromkeys(case.keys, fault), **overrides)
    async with serve(app) as http:
        started = time.monotonic()
        response = await http.get(case.path)
        elapsed = time.monotonic() - started

    assert_route_failed(case, response)
    assert elapsed < FAST
    calls = simulator.state.calls
    hit = CATALOG_SOURCES if case.keys == ("*",) else case.keys
    assert all(calls[key] >= 1 for key in hit), calls


@pytest.mark.parametrize(
    ("poll_ms", "expected"),
    [
        pytest.param("10000", FAILURE_CACHE, id="poll-10s"),
        pytest.param(
            "4000",
            "public, max-age=0, s-maxage=2, stale-while-revalidate=0",
            id="poll-4s",
        ),
    ],
)
async def test_job_feed_failure_cache_control_follows_poll_interval(
    faulty_app: Build, poll_ms: str, expected: str
) -> None:
    app, _ = faulty_app({"dashboard/job-feed": Fault(status=500)})
    async with serve(app) as http:
        response = await http.get(
            "/api/v1/dashboard/job-feed", params={"pollMs": poll_ms}
        )

    assert response.status_code == 200
    assert response.json()["queryFailed"] is True
    assert response.headers["cache-control"] == expected


@pytest.mark.parametrize(
    ("fault", "overrides"),
    [
        pytest.param(Fault(status=500), {}, id="status-500"),
        pytest.param(Fault(body=b'{"trunc'), {}, id="truncated-json"),
        pytest.param(Fault(body=b'{"jsonrpc": "2.0"}'), {}, id="no-result"),
        pytest.param(Fault(latency=2), {"l1_rpc_timeout": 0.2}, id="slow"),
    ],
)
async def test_protocol_reports_zero_block_progress_when_only_rpc_fails(
    faulty_app: Build, fault: Fault, overrides: dict[str, Any]
) -> None:
    app, simulator = faulty_app({"rpc": fault}, **overrides)
    async with serve(app) as http:
        started = time.monotonic()
        response = await http.get("/api/v1/dashboard/protocol")
        elapsed = time.monotonic() - started

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["blockProgress"] == 0
    assert body["currentRound"] > 0
    assert body["totalBlocks"] > 0
    assert elapsed < FAST
    assert simulator.state.calls["rpc"] == 1


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault(status=500), id="status-500"),
        pytest.param(Fault(body=b'{"jsonrpc": "2.0"}'), id="no-result"),
    ],
)
async def test_block_progress_recovers_when_rpc_recovers(
    faulty_app: Build, fault: Fault
) -> None:
    app, simulator = faulty_app({"rpc": fault})
    async with serve(app) as http:
        without_block = await http.get("/api/v1/dashboard/protocol")
        simulator.state.faults.clear()
        with_block = await http.get("/api/v1/dashboard/protocol")

    assert without_block.json()["blockProgress"] == 0
    assert with_block.status_code == 200
    assert with_block.json()["blockProgress"] > 0
    assert simulator.state.calls["rpc"] == 2


@pytest.mark.parametrize(
    ("path", "failing"),
    [
        pytest.param(
            "/api/v1/dashboard/orchestrators",
            ("streaming/orchestrators", "requests/orchestrators"),
            id="orchestrators-without-inventories",
        ),
        pytest.param(
            "/api/v1/dashboard/pricing",
            ("streaming/models",),
            id="pricing-without-streaming-models",
        ),
        pytest.param(
            "/api/v1/dashboard/pipeline-catalog",
            ("dashboard/pipeline-catalog",),
            id="catalog-without-upstream-catalog",
        ),
    ],
)
async def test_degraded_result_is_served_with_short_cache_when_enrichment_fails(
    faulty_app: Build, path: str, failing: tuple[str, ...]
) -> None:
    app, simulator = faulty_app(dict.fromkeys(failing, Fault(status=500)))
    async with serve(app) as http:
        response = await http.get(path)

    assert response.status_code == 200, response.text
    body = response.json()
    assert isinstance(body, list)
    assert body, "a degraded result still carries the required data"
    assert response.headers["cache-control"] == FAILURE_CACHE
    assert all(simulator.state.calls[key] == 1 for key in failing)


@pytest.mark.parametrize(
    "fault",
    [
        pytest.param(Fault(status=500), id="status-500"),
        pytest.param(Fault(body=b'{"unexpected": true}'), id="wrong-shape"),
    ],
)
async def test_degraded_result_is_not_cached_when_enrichment_recovers(
    faulty_app: Build, fault: Fault
) -> None:
    failing = ("streaming/orchestrators", "requests/orchestrators")
    app, simulator = faulty_app(dict.fromkeys(failing, fault))
    async with serve(app) as http:
        degraded = await http.get("/api/v1/dashboard/orchestrators")
        simulator.state.faults.clear()
        complete = await http.get("/api/v1/dashboard/orchestrators")

    assert degraded.status_code == 200
    assert degraded.headers["cache-control"] == FAILURE_CACHE
    assert complete.status_code == 200
    assert complete.headers["cache-control"] == SUCCESS_CACHE
    assert all(simulator.state.calls[key] == 2 for key in failing)
    # The degraded answer was not stored, so the second request fetched everything
    # again (upstream results are shared only while in flight).
    assert simulator.state.calls["dashboard/orchestrators"] == 2
    # The inventories add last-seen times the degraded table could not have (and
    # the table has rows, so this `all` is not vacuously true).
    assert degraded.json()
    assert all(row["lastSeen"] is None for row in degraded.json())
    assert any(row["lastSeen"] is not None for row in complete.json())


@pytest.mark.parametrize(
    ("case", "key", "fault"),
    [
        pytest.param(
            ROUTES_BY_NAME["kpi"],
            "dashboard/kpi",
            Fault(body=b'{"trunc'),
            id="truncated-json",
        ),
        pytest.param(
            ROUTES_BY_NAME["kpi"],
            "dashboard/kpi",
            Fault(body=b'{"unexpected": true}'),
            id="wrong-shape",
        ),
        pytest.param(
            ROUTES_BY_NAME["orchestrators"],
            "dashboard/orchestrators",
            Fault(body=b"{}"),
            id="object-for-list",
        ),
        pytest.param(
            ROUTES_BY_NAME["fees"],
            "subgraph",
            # The Graph reports a failed query as HTTP 200 with `errors`.
            Fault(body=b'{"errors": [{"message": "indexer unavailable"}]}'),
            id="subgraph-errors",
        ),
    ],
)
async def test_failure_is_not_cached_when_upstream_recovers(
    faulty_app: Build, case: RouteCase, key: str, fault: Fault
) -> None:
    app, simulator = faulty_app({key: fault})
    async with serve(app) as http:
        failed = await http.get(case.path)
        simulator.state.faults.clear()
        recovered = await http.get(case.path)

    assert_unavailable(failed, case.message)
    assert recovered.status_code == 200, recovered.text
    assert recovered.headers["cache-control"] == SUCCESS_CACHE
    assert recovered.json()
    assert simulator.state.calls[key] == 2


async def test_job_feed_failure_is_not_cached_when_upstream_recovers(
    faulty_app: Build,
) -> None:
    app, simulator = faulty_app({"dashboard/job-feed": Fault(status=500)})
    async with serve(app) as http:
        failed = await http.get("/api/v1/dashboard/job-feed")
        simulator.state.faults.clear()
        recovered = await http.get("/api/v1/dashboard/job-feed")

    assert_feed_failed(failed)
    assert recovered.status_code == 200
    assert recovered.json()["queryFailed"] is False
    assert recovered.json()["streams"]
    assert simulator.state.calls["dashboard/job-feed"] == 2


# --- hand-written upstream bodies (httpx.MockTransport) ------------------------------


def orchestrator_row(address: str, uri: str, sessions: int) -> dict[str, Any]:
    return {
        "address": address,
        "serviceUri": uri,
        "knownSessions": sessions,
        "successSessions": sessions - 1,
        "successRatio": 95.5,
        "effectiveSuccessRate": 0.955,
        "noSwapRatio": 0.94,
        "slaScore": 95.04,
        "slaWindowStart": "2026-11-25T14:00:00Z",
        "pipelines": ["live-video-to-video"],
        "pipelineModels": [
            {"pipelineId": "live-video-to-video", "modelIds": ["streamdiffusion"]}
        ],
        "gpuCount": 4,
    }


def analytics_mock(bodies: dict[str, bytes]) -> httpx.MockTransport:
    """Serve `bodies[<path after /v1/>]` with 200; anything else is a 404."""

    def handler(request: httpx.Request) -> httpx.Response:
        key = request.url.path.removeprefix("/v1/")
        if key not in bodies:
            return httpx.Response(404, text="404 page not found\n")
        return httpx.Response(
            200, content=bodies[key], headers={"content-type": "application/json"}
        )

    return httpx.MockTransport(handler)


async def test_malformed_row_is_dropped_when_rest_of_list_is_good(
    settings: Settings, clock: Clock
) -> None:
    good_a = orchestrator_row("0xaaa", "https://a.example:8935", 10)
    good_b = orchestrator_row("0xbbb", "https://b.example:8935", 5)
    bad = orchestrator_row("0xccc", "https://c.example:8935", 7)
    del bad["knownSessions"]
    transport = analytics_mock(
        {
            "dashboard/orchestrators": orjson.dumps([good_a, bad, good_b]),
            "streaming/orchestrators": b"[]",
            "requests/orchestrators": b"[]",
        }
    )
    app = create_app(settings, transports={"analytics": transport}, clock=clock)
    before = dropped_rows("dashboard/orchestrators")
    async with serve(app) as http:
        response = await http.get("/api/v1/dashboard/orchestrators")

    assert response.status_code == 200, response.text
    assert [row["address"] for row in response.json()] == ["0xaaa", "0xbbb"]
    assert response.headers["cache-control"] == SUCCESS_CACHE
    assert dropped_rows("dashboard/orchestrators") == before + 1


async def test_pricing_is_empty_list_when_upstream_sends_null(
    settings: Settings, clock: Clock
) -> None:
    # The Go upstream serialises an empty slice as null; that is no rows.
    transport = analytics_mock(
        {
            "dashboard/pricing": b"null\n",
            "streaming/models": b"[]\n",
            "requests/models": b"[]\n",
        }
    )
    app = create_app(settings, transports={"analytics": transport}, clock=clock)
    async with serve(app) as http:
        response = await http.get("/api/v1/dashboard/pricing")

    assert response.status_code == 200, response.text
    assert response.json() == []
    assert response.headers["cache-control"] == SUCCESS_CACHE


# --- the body cap ---------------------------------------------------------------------


async def test_route_is_unavailable_when_upstream_body_exceeds_cap(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, clock: Clock
) -> None:
    cap = 1000
    simulator = create_simulator(seed=1, clock=clock)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=simulator), base_url="http://sim"
    ) as sim:
        raw = await sim.get("/v1/dashboard/kpi", params={"window": "24h"})
    assert len(raw.content) > cap  # the test needs a body over the cap

    # `max_body_bytes` defaults to DEFAULT_MAX_BODY_BYTES, bound when the function
    # was defined, so the keyword default itself is what has to change.
    defaults = JsonTransport.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "max_body_bytes", cap)
    app = create_app(settings, simulator=simulator, clock=clock)
    async with serve(app) as http:
        response = await http.get("/api/v1/dashboard/kpi")

    assert_unavailable(response, "KPI data is unavailable")


async def test_small_body_is_served_when_under_cap(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, clock: Clock
) -> None:
    # The control: under the same patched cap, a body that fits is served.
    defaults = JsonTransport.__init__.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "max_body_bytes", 1000)
    transport = analytics_mock(
        {
            "dashboard/pricing": b"null\n",
            "streaming/models": b"[]\n",
            "requests/models": b"[]\n",
        }
    )
    app = create_app(settings, transports={"analytics": transport}, clock=clock)
    async with serve(app) as http:
        response = await http.get("/api/v1/dashboard/pricing")

    assert response.status_code == 200
    assert response.json() == []
