"""The upstream fault suite over real sockets: every way an upstream can misbehave
that needs a network stack to show (httpx.ASGITransport ignores httpx's timeouts
and cannot refuse a connection).

A fault server (uvicorn on a loopback port) serves one behaviour per URL prefix:
`/<fault>/v1/dashboard/kpi`. Each app under test points `NAAP_API_SERVER_URL` at
one prefix, with short timeouts (analytics 1 s, request deadline 2 s), and is asked
for the KPI over REST and over GraphQL. Every fault (refused, hung, dripping,
50 MB, redirected to a good answer, 429, 500, a 502 retried once, HTML, truncated,
wrong types) must give the documented answer (REST: the 503 envelope; GraphQL: an
error with code SERVICE_UNAVAILABLE) within the deadline, be counted under its
kind, not be cached (each request reaches the upstream again), and never be a
500. Deadlines, retries, Retry-After, the circuit breaker and the memory bound are
checked against the same server, by counting the requests it received; and the
simulator itself, served over TCP, is a real upstream (no simulator label).

Route by route, in process: tests/api/test_upstream_faults.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
import tracemalloc
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from app.errors import UpstreamBadPayload, UpstreamStatusError, UpstreamTimeout
from app.main import create_app
from app.settings import Settings
from app.upstream._http import DEFAULT_MAX_BODY_BYTES, JsonTransport
from app.upstream.breaker import BreakerOpen, CircuitBreaker
from app.upstream.resilience import request_deadline
from simulator import create_simulator
from tests.support.app import Clock, make_settings, open_client, serve
from tests.support.loopback import closed_port_url, serve_on_loopback
from tests.support.metrics import errors, retries

pytestmark = pytest.mark.slow
log = logging.getLogger("tests.faults")

UPSTREAM_TIMEOUT = 1.0
DEADLINE = 2.0
# An upper bound, not a benchmark: slack for a loaded machine, still far below the
# 30 s (or forever) the faults would take without the deadline.
MARGIN = 1.5
MESSAGE = "KPI data is unavailable"
FAILURE_CACHE = "public, max-age=0, s-maxage=5, stale-while-revalidate=0"
KPI_PATH = "/api/v1/dashboard/kpi"
KPI_QUERY = '{ kpi(timeframe: "24") { timeframeHours successRate { value } } }'
HUGE_BYTES = 50 * 1024 * 1024


def _delta(value: float) -> dict[str, float]:
    return {"value": value, "delta": 0.0}


KPI_BODY = orjson.dumps(
    {
        "streaming": {
            "successRate": _delta(97.5),
            "orchestratorsObserved": _delta(41),
            "dailyUsageMins": _delta(1234.5),
            "dailySessionCount": _delta(321),
            "dailyNetworkFeesEth": _delta(0),
            "timeframeHours": 24,
        }
    }
)
# Valid JSON of the right outline, with a string where numbers belong.
WRONG_TYPES = orjson.dumps(
    {"streaming": {"successRate": "97.5%", "timeframeHours": "a day"}}
)

Behaviour = Callable[[Request, int], Awaitable[Response]]


async def ok(_request: Request, _hit: int) -> Response:
    return Response(KPI_BODY, media_type="application/json")


def status(code: int, retry_after: str | None = None) -> Behaviour:
    async def answer(_request: Request, _hit: int) -> Response:
        headers = {"retry-after": retry_after} if retry_after is not None else None
        problem = {"type": "about:blank", "status": code}
        return JSONResponse(problem, status_code=code, headers=headers)

    return answer


def then_ok(first: Behaviour) -> Behaviour:
    """`first` on the first request, a good answer after that."""

    async def answer(request: Request, hit: int) -> Response:
        return await (first if hit == 1 else ok)(request, hit)

    return answer


def body(content: bytes, media_type: str = "application/json") -> Behaviour:
    async def answer(_request: Request, _hit: int) -> Response:
        return Response(content, media_type=media_type)

    return answer


async def slow(request: Request, hit: int) -> Response:
    await asyncio.sleep(30)
    return await ok(request, hit)


async def drip(_request: Request, _hit: int) -> Response:
    async def one_byte_a_second() -> AsyncIterator[bytes]:
        for i in range(len(KPI_BODY)):
            yield KPI_BODY[i : i + 1]
            await asyncio.sleep(1)

    return StreamingResponse(one_byte_a_second(), media_type="application/json")


async def huge(_request: Request, _hit: int) -> Response:
    # Streamed (chunked, no Content-Length) from one reused chunk, so the server
    # side allocates almost nothing and the memory measured is the client's.
    chunk = b" " * 65536

    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(HUGE_BYTES // len(chunk)):
            yield chunk

    return StreamingResponse(chunks(), media_type="application/json")


async def redirect(_request: Request, _hit: int) -> Response:
    # To a good answer on the same server: following it would have succeeded.
    return Response(status_code=302, headers={"location": "/ok/v1/dashboard/kpi"})


@dataclass
class FaultServer:
    base_url: str
    behaviours: dict[str, Behaviour]
    hits: Counter[str] = field(default_factory=Counter)

    def url(self, fault: str) -> str:
        return f"{self.base_url}/{fault}/v1"


def fault_app(server: FaultServer) -> Starlette:
    async def handle(request: Request) -> Response:
        fault = request.path_params["fault"]
        server.hits[fault] += 1
        return await server.behaviours[fault](request, server.hits[fault])

    route = Route("/{fault}/v1/{path:path}", handle, methods=["GET", "POST"])
    return Starlette(routes=[route])


@pytest.fixture
async def faults() -> AsyncIterator[FaultServer]:
    server = FaultServer(
        "",
        {
            "ok": ok,
            "slow": slow,
            "drip": drip,
            "status-500": status(500),
            "status-429": status(429, retry_after="1"),
            "status-502": status(502),
            "html": body(b"<html><h1>Bad gateway</h1></html>", "text/html"),
            "truncated-json": body(KPI_BODY[: len(KPI_BODY) // 2]),
            "wrong-types": body(WRONG_TYPES),
            "huge": huge,
            "redirect": redirect,
        },
    )
    async with serve_on_loopback(fault_app(server)) as base_url:
        server.base_url = base_url
        yield server


@dataclass(frozen=True, slots=True)
class FaultCase:
    name: str
    kind: str  # the naap_upstream_errors_total label it is counted under
    hits: int = 1  # upstream requests per client request (0: nothing listens)
    attempts: int = 1  # 2 when the failure is retried
    refused: bool = False


FAULT_CASES = (
    FaultCase("refused", "connect", hits=0, attempts=2, refused=True),
    FaultCase("slow", "timeout"),
    FaultCase("drip", "timeout"),
    FaultCase("status-500", "status"),
    FaultCase("status-429", "status"),
    FaultCase("status-502", "status", hits=2, attempts=2),
    FaultCase("html", "bad_payload"),
    FaultCase("truncated-json", "bad_payload"),
    FaultCase("wrong-types", "bad_payload"),
    FaultCase("huge", "too_large"),
    FaultCase("redirect", "status"),
)


def app_settings(url: str, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "naap_api_server_url": url,
        "analytics_timeout": UPSTREAM_TIMEOUT,
        "upstream_connect_timeout": 0.5,
        "request_deadline": DEADLINE,
        # The fault matrix repeats each failure; the breaker has its own tests.
        "breaker_failures": 1000,
    }
    values.update(overrides)
    return make_settings(**values)


def case_url(faults: FaultServer, case: FaultCase) -> str:
    return f"{closed_port_url()}/v1" if case.refused else faults.url(case.name)


async def timed(
    request: Awaitable[httpx.Response],
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = await request
    return response, time.monotonic() - started


def rest(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return http.get(KPI_PATH)


def graphql(http: httpx.AsyncClient) -> Awaitable[httpx.Response]:
    return http.post("/graphql", json={"query": KPI_QUERY})


def assert_rest_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 503, response.text
    assert response.json() == {
        "error": {"code": "SERVICE_UNAVAILABLE", "message": MESSAGE}
    }
    assert response.headers["cache-control"] == FAILURE_CACHE


def assert_graphql_unavailable(response: httpx.Response) -> None:
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["data"] == {"kpi": None}
    [error] = document["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == MESSAGE
    assert response.headers["cache-control"] == FAILURE_CACHE


# --- the fault matrix -----------------------------------------------------------------


@pytest.mark.parametrize("case", FAULT_CASES, ids=[c.name for c in FAULT_CASES])
async def test_fault_is_unavailable_within_deadline_and_never_cached(
    faults: FaultServer, case: FaultCase
) -> None:
    app = create_app(app_settings(case_url(faults, case)))
    counted = errors("analytics", "dashboard/kpi", case.kind)
    async with serve(app) as http:
        first, first_s = await timed(rest(http))
        gql, gql_s = await timed(graphql(http))
        again, again_s = await timed(rest(http))

    assert_rest_unavailable(first)
    assert_graphql_unavailable(gql)
    assert_rest_unavailable(again)
    assert max(first_s, gql_s, again_s) < DEADLINE + MARGIN
    # Nothing was cached: each of the three requests went upstream again.
    assert faults.hits[case.name] == 3 * case.hits
    assert faults.hits["ok"] == 0  # the redirect was not followed
    assert errors("analytics", "dashboard/kpi", case.kind) == counted + 3 * (
        case.attempts
    )
    log.info(
        "fault %s: REST %d, GraphQL %s, %.2fs / %.2fs / %.2fs, upstream hits %d",
        case.name,
        first.status_code,
        gql.json()["errors"][0]["extensions"]["code"],
        first_s,
        gql_s,
        again_s,
        faults.hits[case.name],
    )


async def test_good_upstream_answers_kpi_on_both_surfaces(faults: FaultServer) -> None:
    # The control for the matrix: the same app and queries, a good upstream.
    app = create_app(app_settings(faults.url("ok")))
    async with serve(app) as http:
        response = await rest(http)
        document = (await graphql(http)).json()

    assert response.status_code == 200, response.text
    assert response.json()["successRate"]["value"] == 97.5
    assert document == {
        "data": {"kpi": {"timeframeHours": 24, "successRate": {"value": 97.5}}}
    }


async def test_no_request_hangs_when_every_fault_happens_at_once(
    faults: FaultServer,
) -> None:
    apps = [create_app(app_settings(case_url(faults, c))) for c in FAULT_CASES]
    opened = [await open_client(app) for app in apps]
    try:
        requests = [surface(http) for _, http in opened for surface in (rest, graphql)]
        # Every request is bounded by the deadline, so all of them finish in it.
        async with asyncio.timeout(DEADLINE + MARGIN):
            responses = await asyncio.gather(*requests)
    finally:
        for manager, http in opened:
            await http.aclose()
            await manager.__aexit__(None, None, None)

    assert len(responses) == 2 * len(FAULT_CASES)
    for rest_response, graphql_response in zip(
        responses[::2], responses[1::2], strict=True
    ):
        assert_rest_unavailable(rest_response)
        assert_graphql_unavailable(graphql_response)


async def test_memory_stays_bounded_by_cap_when_body_is_50_mb(
    faults: FaultServer,
) -> None:
    app = create_app(app_settings(faults.url("huge")))
    async with serve(app) as http:
        tracemalloc.start()
        try:
            response = await rest(http)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()

    assert_rest_unavailable(response)
    assert faults.hits["huge"] == 1
    # Reading the whole body would peak at 50 MB or more; the 16 MiB cap stops the
    # read, and the rest of the request fits in the 8 MiB of slack.
    assert DEFAULT_MAX_BODY_BYTES == 16 * 2**20
    assert peak < 24 * 2**20, peak
    log.info("50 MB body: peak traced memory %.1f MiB", peak / 2**20)


async def test_request_deadline_bounds_call_when_upstream_timeout_is_longer(
    faults: FaultServer,
) -> None:
    app = create_app(
        app_settings(faults.url("slow"), analytics_timeout=30.0, request_deadline=0.5)
    )
    before = errors("analytics", "dashboard/kpi", "deadline")
    async with serve(app) as http:
        response, elapsed = await timed(rest(http))
        document, gql_elapsed = await timed(graphql(http))

    assert_rest_unavailable(response)
    assert_graphql_unavailable(document)
    assert max(elapsed, gql_elapsed) < 0.5 + MARGIN
    assert errors("analytics", "dashboard/kpi", "deadline") == before + 2


# --- the request deadline, at the transport -------------------------------------------


@pytest.fixture
async def transport(faults: FaultServer) -> AsyncIterator[Callable[..., JsonTransport]]:
    built: list[JsonTransport] = []

    def build(**overrides: Any) -> JsonTransport:
        options: dict[str, Any] = {
            "name": "analytics",
            "base_url": faults.base_url,
            "timeout": UPSTREAM_TIMEOUT,
            "connect_timeout": 0.5,
        }
        options.update(overrides)
        http = JsonTransport(**options)
        built.append(http)
        return http

    yield build
    for http in built:
        await http.aclose()


def raw(body: Any) -> Any:
    return body


async def get(http: JsonTransport, fault: str, **params: str) -> Any:
    return await http.get(f"{fault}/v1/dashboard/kpi", params, parse=raw)


async def test_calls_share_one_deadline_and_none_starts_after_it(
    faults: FaultServer, transport: Callable[..., JsonTransport]
) -> None:
    http = transport(timeout=10.0)
    with request_deadline(0.3):
        started = time.monotonic()
        with pytest.raises(UpstreamTimeout):
            await get(http, "slow")
        with pytest.raises(UpstreamTimeout, match="deadline has passed"):
            await get(http, "ok")
        elapsed = time.monotonic() - started

    assert faults.hits == {"slow": 1}  # the second call never left the process
    assert elapsed < 0.3 + MARGIN


async def test_call_outside_a_request_gets_the_default_deadline(
    faults: FaultServer, transport: Callable[..., JsonTransport]
) -> None:
    http = transport(timeout=10.0, deadline=0.3)
    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await get(http, "slow")

    assert time.monotonic() - started < 0.3 + MARGIN


# --- retries --------------------------------------------------------------------------


@pytest.mark.parametrize("code", [502, 503, 504])
async def test_gateway_error_is_retried_once_then_served(
    faults: FaultServer, code: int
) -> None:
    name = f"{code}-then-ok"
    faults.behaviours[name] = then_ok(status(code))
    app = create_app(app_settings(faults.url(name)))
    before = retries("analytics")
    async with serve(app) as http:
        response = await rest(http)

    assert response.status_code == 200, response.text
    assert faults.hits[name] == 2
    assert retries("analytics") == before + 1


async def test_retry_waits_for_retry_after(faults: FaultServer) -> None:
    faults.behaviours["wait-1s"] = then_ok(status(503, retry_after="1"))
    # A deadline with room for a slow first attempt on a loaded machine: with 2 s,
    # a first attempt that took 1 s left the retry 6 ms (it failed a CI run).
    deadline = 2 * DEADLINE
    app = create_app(app_settings(faults.url("wait-1s"), request_deadline=deadline))
    async with serve(app) as http:
        response, elapsed = await timed(rest(http))

    assert response.status_code == 200, response.text
    assert faults.hits["wait-1s"] == 2
    assert 1.0 <= elapsed < deadline + MARGIN


async def test_no_retry_when_retry_after_exceeds_time_left(
    faults: FaultServer,
) -> None:
    faults.behaviours["wait-10s"] = then_ok(status(503, retry_after="10"))
    app = create_app(app_settings(faults.url("wait-10s")))
    before = retries("analytics")
    async with serve(app) as http:
        response, elapsed = await timed(rest(http))

    assert_rest_unavailable(response)
    assert faults.hits["wait-10s"] == 1
    assert retries("analytics") == before
    assert elapsed < 1.0  # it gave up at once instead of sleeping 10 s


@pytest.mark.parametrize(
    "first",
    [
        pytest.param(status(429, retry_after="0"), id="429"),
        pytest.param(status(500), id="500"),
        pytest.param(body(b"<html></html>", "text/html"), id="html"),
    ],
)
async def test_other_failures_are_not_retried(
    faults: FaultServer, first: Behaviour
) -> None:
    faults.behaviours["once"] = then_ok(first)
    app = create_app(app_settings(faults.url("once")))
    before = retries("analytics")
    async with serve(app) as http:
        response = await rest(http)

    assert_rest_unavailable(response)
    assert faults.hits["once"] == 1
    assert retries("analytics") == before


async def test_no_retry_when_retries_are_off(faults: FaultServer) -> None:
    faults.behaviours["503-once"] = then_ok(status(503))
    app = create_app(app_settings(faults.url("503-once"), upstream_retries=0))
    async with serve(app) as http:
        response = await rest(http)

    assert_rest_unavailable(response)
    assert faults.hits["503-once"] == 1


async def test_refused_connection_is_retried_once() -> None:
    app = create_app(app_settings(f"{closed_port_url()}/v1"))
    before = retries("analytics")
    async with serve(app) as http:
        response, elapsed = await timed(rest(http))

    assert_rest_unavailable(response)
    assert retries("analytics") == before + 1
    assert elapsed < DEADLINE + MARGIN


# --- the circuit breaker --------------------------------------------------------------


async def test_breaker_opens_fails_fast_and_closes_after_probe(
    faults: FaultServer,
) -> None:
    failing = True

    async def flaky(request: Request, hit: int) -> Response:
        return await (status(500) if failing else ok)(request, hit)

    faults.behaviours["flaky"] = flaky
    app = create_app(
        app_settings(faults.url("flaky"), breaker_failures=3, breaker_reset=0.5)
    )
    analytics = app.state.services.analytics
    async with serve(app) as http:
        for _ in range(3):
            assert_rest_unavailable(await rest(http))
        assert analytics.state == "open"
        refused, refused_s = await timed(rest(http))
        assert faults.hits["flaky"] == 3  # the open breaker kept the call home
        assert_graphql_unavailable(await graphql(http))
        assert faults.hits["flaky"] == 3

        failing = False
        await asyncio.sleep(0.6)
        assert analytics.state == "half-open"
        probe = await rest(http)

    assert_rest_unavailable(refused)
    assert refused_s < 0.5
    assert probe.status_code == 200, probe.text
    assert faults.hits["flaky"] == 4
    assert analytics.state == "closed"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_only_one_probe_reaches_upstream_when_half_open(
    faults: FaultServer, transport: Callable[..., JsonTransport]
) -> None:
    gate = asyncio.Event()

    async def gated(request: Request, hit: int) -> Response:
        await gate.wait()
        return await ok(request, hit)

    faults.behaviours["gated"] = gated
    clock = FakeClock()
    breaker = CircuitBreaker("analytics", failures=2, reset=5.0, clock=clock)
    http = transport(breaker=breaker)

    def state() -> str:  # not inline: mypy would carry one check's narrowing on
        return breaker.state

    for _ in range(2):
        with pytest.raises(UpstreamStatusError):
            await get(http, "status-500")
    assert state() == "open"
    clock.now += 5.0
    assert state() == "half-open"

    # Distinct parameters, so the in-flight sharing cannot merge the calls.
    calls = [asyncio.create_task(get(http, "gated", n=str(n))) for n in range(10)]
    await asyncio.sleep(0.2)  # all ten have asked the breaker by now
    gate.set()
    results = await asyncio.gather(*calls, return_exceptions=True)

    assert faults.hits["gated"] == 1
    assert sum(isinstance(r, BreakerOpen) for r in results) == 9
    assert sum(isinstance(r, dict) for r in results) == 1
    assert state() == "closed"


@pytest.mark.parametrize(
    ("fault", "error", "opens"),
    [
        pytest.param("status-500", UpstreamStatusError, True, id="500"),
        pytest.param("status-429", UpstreamStatusError, True, id="429"),
        pytest.param("slow", UpstreamTimeout, True, id="timeout"),
        pytest.param("html", UpstreamBadPayload, False, id="html"),
        pytest.param("wrong-types", UpstreamBadPayload, False, id="wrong-types"),
        pytest.param("redirect", UpstreamStatusError, False, id="redirect"),
        pytest.param("huge", UpstreamBadPayload, False, id="too-large"),
    ],
)
async def test_breaker_counts_only_failures_of_the_upstream_itself(
    transport: Callable[..., JsonTransport],
    fault: str,
    error: type[Exception],
    opens: bool,
) -> None:
    breaker = CircuitBreaker("analytics", failures=2, reset=60.0)
    http = transport(breaker=breaker)

    def parse_kpi(body: Any) -> Any:
        if not isinstance(body, dict) or not isinstance(
            body.get("streaming", {}).get("timeframeHours"), int
        ):
            raise UpstreamBadPayload("wrong shape", upstream="analytics")
        return body

    for n in range(2):
        with pytest.raises(error):
            await http.get(f"{fault}/v1/dashboard/kpi", {"n": str(n)}, parse=parse_kpi)

    assert breaker.state == ("open" if opens else "closed")


async def test_breaker_is_per_upstream(faults: FaultServer) -> None:
    settings = app_settings(
        faults.url("status-500"), breaker_failures=1, breaker_reset=60
    )
    app = create_app(settings)
    services = app.state.services
    async with serve(app) as http:
        assert_rest_unavailable(await rest(http))
        protocol = await http.get("/api/v1/dashboard/protocol")

    assert services.analytics.state == "open"
    assert services.subgraph.state == "closed"
    assert protocol.status_code == 200, protocol.text


# --- the simulator as a real upstream ------------------------------------------------


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
    clock: Clock,
    path: str,
    keys: tuple[str, ...],
    check: Callable[[Any], bool],
) -> None:
    sim = create_simulator(seed=1, clock=clock)
    async with serve_on_loopback(sim) as base_url:
        settings = make_settings(
            naap_api_server_url=f"{base_url}/v1",
            subgraph_url=f"{base_url}/subgraph",
            l1_rpc_url=f"{base_url}/rpc",
        )
        async with serve(create_app(settings, clock=clock)) as http:
            response = await http.get(path)

    assert response.status_code == 200, response.text
    assert check(response.json())
    assert "x-data-source" not in response.headers
    assert all(sim.state.calls[key] == 1 for key in keys)
