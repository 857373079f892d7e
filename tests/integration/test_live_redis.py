"""Push across workers (CACHE_URL): one poller per feed for the whole deployment.

In process: two app instances sharing Redis and the simulator, on one driven
clock: their listeners and REST polls cost one upstream call per interval in
all, and the follower's listeners get the leader's events. Across processes (two
uvicorn workers on loopback, the simulator on a port of its own): only the
leader polls; killed, its lease lapses and the other worker takes over within
15 s; the dead leader's clients reconnect there with Last-Event-ID and resume.

Needs TEST_REDIS_URL (tests/support/redis_db.py).
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
import redis.asyncio as redis
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.live.events import FPS_DEADBAND
from app.live.redis_bus import ACQUIRE_EVERY, LEASE_MS, RedisRelay
from app.main import create_app
from app.settings import Settings
from tests.support.app import ROOT, Clock
from tests.support.live import (
    JOB_FEED,
    JOB_FEED_CALLS,
    STREAM,
    Rebuilt,
    assert_matches_rest,
    drive,
    eventually,
)
from tests.support.loopback import (
    free_port,
    live_simulator,
    read_log,
    run_checked,
    wait_until_serve,
)
from tests.support.sse_sockets import SocketStream
from tests.support.streams import StreamClient

pytestmark = pytest.mark.slow

INTERVAL = 5.0
LEASE = 1500  # ms, in process: a lease that lapses soon (the real one is 10 s)
TAKEOVER_BOUND = 15.0  # seconds: a dead leader is replaced within this


def test_a_dead_leader_is_replaced_within_15_s_by_construction() -> None:
    assert LEASE_MS / 1000 + ACQUIRE_EVERY <= TAKEOVER_BOUND


async def test_two_app_instances_share_one_upstream_call_per_interval(
    settings: Settings, simulator: Starlette, clock: Clock, redis_test_url: str
) -> None:
    shared = settings.model_copy(update={"cache_url": redis_test_url})
    apps = [create_app(shared, simulator=simulator, clock=clock) for _ in range(2)]
    timer = drive(apps[0], clock)
    for app in apps[1:]:
        services = app.state.services
        services.live.timer = timer
        services.live.jitter = lambda: 0.5
        services.snapshots.clock = timer.wall
    async with AsyncExitStack() as stack:
        asgis = [
            (await stack.enter_async_context(LifespanManager(app))).app for app in apps
        ]
        rests = [
            await stack.enter_async_context(
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=asgi), base_url="http://test"
                )
            )
            for asgi in asgis
        ]
        clients = [
            await StreamClient(asgi, STREAM).open() for asgi in asgis for _ in range(20)
        ]
        await timer.settle()
        relays = [app.state.services.live.relay for app in apps]
        await eventually(lambda: sum(len(r.leading) for r in relays) == 1)
        for client in clients:
            await client.until_events(1)
        first = simulator.state.calls[JOB_FEED_CALLS]
        assert first == 1
        for interval in range(1, 7):
            for rest in rests:  # REST on either worker reads the shared snapshot
                await timer.advance(INTERVAL / 3)
                assert (await rest.get(JOB_FEED)).headers["x-cache"] == "HIT"
            await timer.advance(INTERVAL / 3)
            assert simulator.state.calls[JOB_FEED_CALLS] == first + interval
        leader = next(a for a, r in zip(apps, relays, strict=True) if r.leading)
        state = leader.state.services.live.feeds[50].state
        for client in clients:  # the follower's listeners got every event too
            await client.until_seq(state.seq)
            rebuilt = Rebuilt()
            rebuilt.apply_sse(client.events)
            assert_matches_rest(rebuilt.rows, state.streams, state.keys, FPS_DEADBAND)
        for client in clients:
            await client.close()
    async with redis.Redis.from_url(redis_test_url) as check:
        assert await check.keys("naap:live:lease:*") == []  # released at shutdown


async def test_a_dead_leaders_lease_lapses_and_a_follower_takes_over(
    settings: Settings, simulator: Starlette, clock: Clock, redis_test_url: str
) -> None:
    """In process, with a short lease: the leader's poller dies without releasing
    its lease; the lease lapses, the follower takes over from the stored state
    and its listeners carry on by deltas."""
    shared = settings.model_copy(update={"cache_url": redis_test_url})
    apps = [create_app(shared, simulator=simulator, clock=clock) for _ in range(2)]
    timer = drive(apps[0], clock)
    relays = []
    for app in apps:
        services = app.state.services
        await services.live.relay.aclose()
        services.live.relay = RedisRelay(redis_test_url, lease_ms=LEASE)
        services.live.timer = timer
        services.live.jitter = lambda: 0.5
        services.snapshots.clock = timer.wall
        relays.append(services.live.relay)
    async with AsyncExitStack() as stack:
        asgis = [
            (await stack.enter_async_context(LifespanManager(app))).app for app in apps
        ]
        leader_client = await StreamClient(asgis[0], STREAM).open()
        await timer.settle()
        await eventually(lambda: bool(relays[0].leading))
        follower_client = await StreamClient(asgis[1], STREAM).open()
        await timer.settle()
        await follower_client.until_events(1)
        await leader_client.until_events(1)
        dead = apps[0].state.services.live

        async def lost() -> None:  # a crash releases nothing
            return None

        relays[0]._release_lease = lambda feed: lost()
        for task in [t for tasks in dead._tasks.values() for t in tasks]:
            task.cancel()
        await eventually(lambda: not dead.feeds)
        await asyncio.sleep(LEASE / 1000 + 0.3)  # real time: the lease lapses
        before = simulator.state.calls[JOB_FEED_CALLS]
        for _ in range(8):
            await timer.advance(INTERVAL)
        await eventually(lambda: bool(relays[1].leading))
        assert relays[1].takeovers == 1
        assert simulator.state.calls[JOB_FEED_CALLS] > before
        state = apps[1].state.services.live.feeds[50].state
        await follower_client.until_seq(state.seq)
        rebuilt = Rebuilt()
        rebuilt.apply_sse(follower_client.events)  # no gap: seq only grows
        assert rebuilt.snapshots == 1
        assert_matches_rest(rebuilt.rows, state.streams, state.keys, FPS_DEADBAND)
        await leader_client.close()  # its stream ended with its worker's poller
        await follower_client.close()


async def test_without_redis_each_worker_polls_for_itself(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    """CACHE_URL names a Redis nobody answers: the hub polls in this process and
    its listeners get their events all the same."""
    down = settings.model_copy(update={"cache_url": "redis://127.0.0.1:1/0"})
    app = create_app(down, simulator=simulator, clock=clock)
    timer = drive(app, clock)
    async with LifespanManager(app) as manager:
        client = await StreamClient(manager.app, STREAM).open()
        await timer.settle()
        await client.until_events(1)
        for _ in range(3):
            await timer.advance(INTERVAL)
        assert simulator.state.calls[JOB_FEED_CALLS] == 4
        assert not app.state.services.live.relay.leading
        await client.close()


# --- two worker processes -----------------------------------------------------
class Worker:
    def __init__(
        self, process: asyncio.subprocess.Process, base_url: str, log: Path
    ) -> None:
        self.process = process
        self.base_url = base_url
        self.log = log

    async def polls(self) -> int:
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as http:
            text = (await http.get("/metrics")).text
        return int(
            sum(
                float(value)
                for value in re.findall(
                    r"^naap_live_polls_total\{[^}]*\} (\S+)$", text, re.M
                )
            )
        )


async def start_worker(env: dict[str, str], tmp_path: Path) -> Worker:
    port = free_port()
    log = tmp_path / f"worker-{port}.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "scripts/serve.py",
            cwd=ROOT,
            env={**env, "PORT": str(port)},
            stdout=sink,
            stderr=asyncio.subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    await wait_until_serve(process, base_url, log)
    return Worker(process, base_url, log)


@pytest.fixture
async def workers(
    redis_test_url: str, tmp_path: Path
) -> AsyncIterator[tuple[list[Worker], Starlette]]:
    async with live_simulator({}) as (sim, upstream):
        env = {
            **os.environ,
            "APP_ENV": "development",
            "LOG_LEVEL": "warning",
            "HOST": "127.0.0.1",
            "CACHE_URL": redis_test_url,
            "JOB_FEED_PUSH_INTERVAL": "2",
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            "NAAP_API_SERVER_URL": f"{upstream}/v1",
            "SUBGRAPH_URL": f"{upstream}/subgraph",
            "L1_RPC_URL": f"{upstream}/rpc",
        }
        await run_checked(sys.executable, "scripts/migrate.py", env=env)
        started = await asyncio.gather(*(start_worker(env, tmp_path) for _ in range(2)))
        try:
            yield list(started), sim
        finally:
            for worker in started:
                if worker.process.returncode is None:
                    worker.process.terminate()
                    await worker.process.wait()


async def test_across_worker_processes_one_polls_and_another_takes_over(
    workers: tuple[list[Worker], Starlette],
) -> None:
    started, sim = workers
    streams = {
        w.base_url: [await SocketStream.open(w.base_url, STREAM) for _ in range(5)]
        for w in started
    }
    for group in streams.values():
        for stream in group:
            await stream.until_data_events(1)

    async def polls() -> list[int]:
        return [await w.polls() for w in started]

    async with asyncio.timeout(30):
        while max(await polls()) < 3:  # noqa: ASYNC110  (another process's state)
            await asyncio.sleep(0.2)
    counts = await polls()
    leader, follower = (
        (started[0], started[1]) if counts[0] else (started[1], started[0])
    )
    assert sorted(counts)[0] == 0, counts  # the follower never polled
    calls = sim.state.calls[JOB_FEED_CALLS]
    assert calls in (max(counts), max(counts) + 1), (calls, counts)  # + one in flight

    # The leader dies without a word: its lease must lapse.
    stranded = streams[leader.base_url]
    last_ids = [max(int(e.id) for e in s.events if e.id) for s in stranded]
    leader.process.send_signal(signal.SIGKILL)
    await leader.process.wait()
    killed = time.monotonic()
    async with asyncio.timeout(TAKEOVER_BOUND + 5):
        while await follower.polls() == 0:  # noqa: ASYNC110  (another process's)
            await asyncio.sleep(0.1)
    took = time.monotonic() - killed
    assert took <= TAKEOVER_BOUND, (
        f"takeover after {took:.1f} s\n{read_log(follower.log)}"
    )

    # The dead leader's clients come back to the survivor where they left off.
    fresh = await SocketStream.open(follower.base_url, STREAM)
    await fresh.until_data_events(1)
    current = fresh.events[-1].json()
    for stream, last_id in zip(stranded, last_ids, strict=True):
        rebuilt = Rebuilt()
        rebuilt.apply_sse(stream.events)  # what the client held when it was cut
        back = await SocketStream.open(
            follower.base_url, STREAM, headers=[("Last-Event-ID", str(last_id))]
        )
        while rebuilt.seq is not None and rebuilt.seq < current["seq"]:
            event = await back.next_event()
            assert event is not None
            if event.id is not None:
                rebuilt.apply(event.event, event.json())
        if rebuilt.seq == current["seq"]:
            assert set(rebuilt.rows) == set(current["keys"])
        back.close()
    fresh.close()
    for group in streams.values():
        for stream in group:
            stream.close()
