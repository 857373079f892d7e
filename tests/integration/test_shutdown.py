"""Graceful shutdown of a real server process started as `make run` starts it
(scripts/serve.py: uvicorn with a graceful-shutdown timeout), sent SIGTERM.

The analytics upstream is the simulator on a loopback port in this test's event
loop, made slow with a latency fault, so a dashboard MISS is a request in flight
for as long as the test wants.

- In flight at SIGTERM: the request completes (200), new connections are refused
  at once, the process exits soon after the request is answered.
- A request outlasting the timeout: cancelled; the process still exits within
  about the timeout.
- A background cache refresh outlasting it: cancelled by the app's lifespan, which
  drains refreshes within the same SHUTDOWN_TIMEOUT.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from simulator import Fault
from tests.support.loopback import (
    live_simulator,
    make_run_process,
    read_log,
)

# uvicorn (since 0.29) shuts down cleanly, then re-raises the signal it caught, so
# a supervisor sees "terminated by SIGTERM" rather than a plain exit 0.
SIGTERMED = -signal.SIGTERM
CLEAN_EXIT = ("Application shutdown complete.", "Finished server process")

KPI = "/api/v1/dashboard/kpi"
SLOW = 2.0  # seconds the upstream takes: the request in flight at SIGTERM
NEVER = 60.0  # an upstream answer that would outlast every timeout here
MARGIN = 3.0  # process exit and interpreter teardown, on a loaded CI machine


@dataclass
class Server:
    process: asyncio.subprocess.Process
    base_url: str
    log: Path

    async def exited_within(self, seconds: float) -> float:
        """Seconds until the process exited, cleanly, after SIGTERM."""
        began = time.perf_counter()
        try:
            async with asyncio.timeout(seconds):
                code = await self.process.wait()
        except TimeoutError:
            pytest.fail(
                f"still running {seconds} s after SIGTERM: {read_log(self.log)}"
            )
        took = time.perf_counter() - began
        log = read_log(self.log)
        assert code == SIGTERMED, log
        assert all(line in log for line in CLEAN_EXIT), log
        return took


@asynccontextmanager
async def server(
    tmp_path: Path, upstream: str, *, grace: int, **env: str
) -> AsyncIterator[Server]:
    """The app under uvicorn in its own process, as `make run` starts it."""
    async with make_run_process(
        tmp_path,
        upstream,
        SHUTDOWN_TIMEOUT=str(grace),
        # The app must not give up on the slow upstream before shutdown does.
        ANALYTICS_TIMEOUT=str(NEVER),
        REQUEST_DEADLINE=str(NEVER),
        **env,
    ) as (process, base_url, log):
        yield Server(process, base_url, log)


async def until(what: str, check: Callable[[], Awaitable[bool]], within: float) -> None:
    """Poll `check` until it holds (no fixed sleeps); fail after `within` seconds."""
    try:
        async with asyncio.timeout(within):
            while True:
                if await check():
                    return
                await asyncio.sleep(0.01)
    except TimeoutError:
        pytest.fail(f"not {what} within {within} s")


async def upstream_called(sim: Starlette, times: int = 1) -> None:
    """Wait until the app's request has reached the slow upstream."""

    async def reached() -> bool:
        count: int = sim.state.calls["dashboard/kpi"]
        return count >= times

    await until("called upstream", reached, 10)


async def refused(base_url: str) -> bool:
    """Whether a new connection goes unserved (a fresh client: no kept-alive
    socket): refused, or (when it reached the kernel's backlog just before the
    listening socket closed) accepted and then closed without an answer."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as fresh:
        try:
            await fresh.get("/healthz")
        except (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError):
            return True
    return False


@pytest.mark.slow
async def test_sigterm_lets_the_in_flight_request_finish_and_refuses_new_ones(
    tmp_path: Path,
) -> None:
    async with (
        live_simulator({"dashboard/kpi": Fault(latency=SLOW)}) as (sim, upstream),
        server(tmp_path, upstream, grace=10) as app,
        httpx.AsyncClient(base_url=app.base_url, timeout=30) as client,
    ):
        in_flight = asyncio.create_task(client.get(KPI))
        await upstream_called(sim)
        app.process.send_signal(signal.SIGTERM)
        signalled = time.perf_counter()
        await until("refusing connections", lambda: refused(app.base_url), SLOW)
        refused_while_in_flight = not in_flight.done()
        response = await in_flight
        answered_after = time.perf_counter() - signalled
        exit_after = await app.exited_within(10)

    assert refused_while_in_flight
    assert response.status_code == 200, response.text
    assert response.json()["timeframeHours"] == 24
    assert answered_after < SLOW + MARGIN
    assert exit_after < MARGIN  # once the last request is answered, not at 10 s
    assert await refused(app.base_url)


@pytest.mark.slow
async def test_sigterm_exits_within_the_timeout_when_a_request_outlasts_it(
    tmp_path: Path,
) -> None:
    async with (
        live_simulator({"dashboard/kpi": Fault(latency=NEVER)}) as (sim, upstream),
        server(tmp_path, upstream, grace=1) as app,
        httpx.AsyncClient(base_url=app.base_url, timeout=30) as client,
    ):
        in_flight = asyncio.create_task(client.get(KPI))
        await upstream_called(sim)
        app.process.send_signal(signal.SIGTERM)
        exit_after = await app.exited_within(1 + MARGIN)
        try:
            outcome: int | str = (await in_flight).status_code
        except httpx.TransportError as exc:  # the connection closed unanswered
            outcome = type(exc).__name__

    assert exit_after < 1 + MARGIN
    assert outcome != 200
    assert "timeout graceful shutdown exceeded" in read_log(app.log)


@pytest.mark.slow
async def test_sigterm_cancels_a_background_refresh_that_outlasts_the_timeout(
    tmp_path: Path,
) -> None:
    fresh = 0.5
    async with (
        live_simulator({}) as (sim, upstream),
        server(tmp_path, upstream, grace=1, DASHBOARD_FRESH=str(fresh)) as app,
        httpx.AsyncClient(base_url=app.base_url, timeout=30) as client,
    ):
        first = await client.get(KPI)
        await asyncio.sleep(fresh + 0.1)  # the entry turns stale (wall clock)
        sim.state.faults["dashboard/kpi"] = Fault(latency=NEVER)
        stale = await client.get(KPI)  # answered at once; a refresh starts
        await upstream_called(sim, 2)
        app.process.send_signal(signal.SIGTERM)
        exit_after = await app.exited_within(1 + MARGIN)

    assert [first.headers["x-cache"], stale.headers["x-cache"]] == ["MISS", "STALE"]
    assert exit_after < 1 + MARGIN
    assert "background cache refreshes cancelled" in read_log(app.log)
