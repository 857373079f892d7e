"""The circuit breaker's state machine and the retry policy's parts, without sockets.

The breaker runs on an injected clock; tests/integration/test_upstream_faults.py
drives the same breaker and retries through real connections.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.edge.middleware import ObservabilityMiddleware
from app.ratelimit import RateLimiter
from app.upstream.breaker import BreakerOpen, CircuitBreaker
from app.upstream.resilience import (
    JITTER,
    current_deadline,
    jitter,
    request_deadline,
    retry_after,
)
from tests.support.app import make_settings
from tests.support.metrics import sample


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def breaker(clock: FakeClock, name: str = "test-up") -> CircuitBreaker:
    return CircuitBreaker(name, failures=3, reset=10.0, clock=clock)


def fail(b: CircuitBreaker, times: int = 1) -> None:
    for _ in range(times):
        b.record(False, probe=b.acquire())


def state(b: CircuitBreaker) -> str:
    # A function, not `b.state` inline: mypy would keep the first comparison's
    # narrowing across the clock moving.
    return b.state


def gauge(name: str) -> float:
    return sample("naap_upstream_breaker_state", upstream=name)


def test_breaker_stays_closed_below_threshold(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 2)

    assert state(b) == "closed"
    assert b.acquire() is False


def test_success_resets_the_consecutive_count(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 2)
    b.record(True, probe=b.acquire())
    fail(b, 2)

    assert state(b) == "closed"


def test_breaker_opens_after_consecutive_failures_and_fails_fast(
    clock: FakeClock,
) -> None:
    b = breaker(clock, "opens")
    fail(b, 3)

    assert state(b) == "open"
    assert gauge("opens") == 2
    with pytest.raises(BreakerOpen) as raised:
        b.acquire()
    assert raised.value.kind == "breaker_open"
    assert raised.value.code == "SERVICE_UNAVAILABLE"


def test_breaker_lets_exactly_one_probe_through_after_reset(clock: FakeClock) -> None:
    b = breaker(clock, "probe")
    fail(b, 3)
    clock.now += 9.9
    assert state(b) == "open"
    clock.now += 0.1

    assert state(b) == "half-open"
    assert b.acquire() is True
    assert gauge("probe") == 1
    with pytest.raises(BreakerOpen):
        b.acquire()  # a second caller while the probe is out


def test_successful_probe_closes(clock: FakeClock) -> None:
    b = breaker(clock, "closes")
    fail(b, 3)
    clock.now += 10
    b.record(True, probe=b.acquire())

    assert state(b) == "closed"
    assert gauge("closes") == 0
    fail(b, 2)  # and the count starts again from zero
    assert state(b) == "closed"


def test_failed_probe_reopens_for_a_full_period(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    fail(b)  # the probe

    assert state(b) == "open"
    clock.now += 9.9
    assert state(b) == "open"
    clock.now += 0.1
    assert state(b) == "half-open"


def test_probe_without_verdict_frees_the_slot(clock: FakeClock) -> None:
    b = breaker(clock)
    fail(b, 3)
    clock.now += 10
    b.record(None, probe=b.acquire())  # its caller was cancelled

    assert state(b) == "half-open"
    assert b.acquire() is True


def test_late_result_of_an_older_call_does_not_decide_while_open(
    clock: FakeClock,
) -> None:
    b = breaker(clock)
    early = b.acquire()  # started while closed
    fail(b, 3)
    b.record(True, probe=early)  # finishes after the breaker opened

    assert state(b) == "open"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        pytest.param(None, None, id="absent"),
        pytest.param("3", 3.0, id="seconds"),
        pytest.param(" 0 ", 0.0, id="zero"),
        pytest.param("Wed, 25 Nov 2026 14:30:20 GMT", 5.0, id="http-date"),
        pytest.param("Wed, 25 Nov 2026 14:30:00 GMT", 0.0, id="date-in-past"),
        pytest.param("soon", None, id="unreadable"),
        pytest.param("-1", None, id="negative"),
    ],
)
def test_retry_after_reads_seconds_and_http_dates(
    header: str | None, expected: float | None
) -> None:
    now = datetime(2026, 11, 25, 14, 30, 15, tzinfo=UTC)

    assert retry_after(header, now=now) == expected


def test_jitter_stays_in_its_window() -> None:
    waits = [jitter() for _ in range(200)]

    assert all(JITTER[0] <= w <= JITTER[1] for w in waits)
    assert len(set(waits)) > 1


async def test_deadline_is_scoped_to_its_block() -> None:
    assert current_deadline() is None
    loop = asyncio.get_running_loop()
    with request_deadline(5.0) as deadline:
        assert current_deadline() == deadline
        # Tasks created inside inherit it (resolvers run in such tasks).
        assert await loop.create_task(_read_deadline()) == deadline
    assert current_deadline() is None


async def _read_deadline() -> float | None:
    return current_deadline()


async def test_the_edge_middleware_gives_each_http_request_a_deadline() -> None:
    seen: list[float | None] = []

    async def endpoint(_request: Request) -> PlainTextResponse:
        seen.append(current_deadline())
        return PlainTextResponse("ok")

    settings = make_settings(request_deadline=7.0)
    app = ObservabilityMiddleware(
        Starlette(routes=[Route("/", endpoint)]),
        settings=settings,
        limiter=RateLimiter(settings),
        error_body=lambda _path, _error: b"{}",
        graphql_label=lambda scope, parts: "",
        deadline=settings.request_deadline,
    )
    loop = asyncio.get_running_loop()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as http:
        started = loop.time()
        await http.get("/")
        await http.get("/")

    assert len(seen) == 2
    assert all(d is not None and 6.5 < d - started <= 7.5 for d in seen)
    assert current_deadline() is None  # nothing leaked out of the request
