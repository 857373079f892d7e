"""The job-feed stream over real sockets (uvicorn on a loopback port, in this
process): clients that stop reading cost bounded memory and get a snapshot, never
a gap; listeners are let go as soon as their connections close; and connecting
and disconnecting by the hundred does not grow the process.

Memory is this process's resident set (server and clients share it; the clients
read into small buffers). The hub's clock is driven, so each `advance` is one
poll of the feed."""

from __future__ import annotations

import asyncio
import gc
import os
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.live.hub import Polled
from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock
from tests.support.live import STREAM, ManualTimer, drive
from tests.support.loopback import serve_on_loopback
from tests.support.sse_sockets import SocketStream

pytestmark = pytest.mark.slow

INTERVAL = 5.0
MIB = 1024 * 1024
ROWS = 38  # rows whose every poll changes them all: a ~17 KB delta


def rss() -> int:
    """This process's resident set, in bytes, after a full collection."""
    gc.collect()
    with open("/proc/self/statm") as statm:
        resident = int(statm.read().split()[1])
    return resident * os.sysconf("SC_PAGE_SIZE")


class Churn:
    """A job feed whose every row changes status at every poll."""

    def __init__(self, timer: ManualTimer) -> None:
        self.timer = timer
        self.polls = 0

    async def __call__(self, limit: int, seen: float | None) -> Polled:
        self.polls += 1
        rows = [
            {
                "id": f"event-{n}-{self.polls}",
                "pipeline": "live-video-to-video",
                "model": "streamdiffusion-sdxl",
                "status": f"state-{self.polls}",
                "startedAt": f"2026-11-25T14:{n // 60:02d}:{n % 60:02d}.000Z",
                "gateway": "gateway-use1.livepeer-sim.example",
                "orchestratorUrl": f"https://node{n}.orchestrators.example:8935",
                "inputFps": 29.97,
                "outputFps": 14.51,
                "lastSeen": "2026-11-25T14:30:00.000Z",
                "durationSeconds": 1234.567,
                "runningFor": "20m 34s",
            }
            for n in range(ROWS)
        ]
        return Polled(rows, self.timer.wall())


class Served:
    def __init__(self, app: Starlette, base_url: str, timer: ManualTimer) -> None:
        self.app = app
        self.base_url = base_url
        self.timer = timer
        self.hub = app.state.services.live

    async def open(self, count: int, **options: Any) -> list[SocketStream]:
        streams = await asyncio.gather(
            *(SocketStream.open(self.base_url, STREAM, **options) for _ in range(count))
        )
        return list(streams)


@pytest.fixture
async def served(
    settings: Settings, simulator: Starlette, clock: Clock
) -> AsyncIterator[Served]:
    app = create_app(settings, simulator=simulator, clock=clock)
    timer = drive(app, clock)
    async with (
        LifespanManager(app) as manager,
        serve_on_loopback(manager.app) as base_url,
    ):
        yield Served(app, base_url, timer)


async def listeners(served: Served, count: int, within: float) -> None:
    async with asyncio.timeout(within):
        while served.hub.listeners != count:  # noqa: ASYNC110  (no event to await)
            await asyncio.sleep(0.01)


def check_no_gap(events: Sequence[Any], published: list[int]) -> int:
    """Each delta follows the event published before it, or a snapshot restarts
    the list; returns how many snapshots the client got."""
    order = {seq: index for index, seq in enumerate(published)}
    snapshots = 0
    previous: int | None = None
    for event in events:
        if event.id is None:
            continue
        seq = int(event.id)
        if event.event == "snapshot":
            snapshots += 1
        else:
            assert previous is not None, "a delta before any snapshot"
            assert order[seq] == order.get(previous, -2) + 1, (previous, seq)
        previous = seq
    return snapshots


async def test_stalled_clients_cost_no_memory_and_resync_with_a_snapshot(
    served: Served,
) -> None:
    churn = Churn(served.timer)
    served.hub.poll = churn
    reader = (await served.open(1, keep_data=False))[0]
    stalled = await served.open(10, small_buffers=True, keep_data=False)
    await served.timer.settle()
    for stream in [reader, *stalled]:
        await stream.until_data_events(1)  # the first snapshot; then they stop
    published = [served.hub.feeds[50].state.seq]  # the first snapshot's

    async def flow(polls: int) -> None:
        for _ in range(polls):
            await served.timer.advance(INTERVAL)
            published.append(served.hub.feeds[50].state.seq)
            await reader.until_id(published[-1])  # the one reading client keeps up

    await flow(100)  # the ring fills, the stalled clients' buffers fill
    size = len(served.hub.feeds[50].ring[-1].sse)
    assert 15_000 < size < 20_000
    before = rss()
    await flow(400)
    grown = rss() - before
    assert grown <= 5 * MIB, f"{grown / MIB:.1f} MiB for 400 events of {size:,} bytes"
    for stream in stalled:  # reading again: a snapshot, then deltas in order
        await stream.until_id(published[-1])
        snapshots = check_no_gap(stream.events, published)
        assert snapshots >= 2, "the stalled client never resynced"
        stream.close()
    assert check_no_gap(reader.events, published) == 1
    reader.close()


async def test_listeners_are_let_go_within_2_s_and_500_connections_leave_no_trace(
    served: Served,
) -> None:
    sizes = []
    for _ in range(6):
        streams = await served.open(500, keep_data=False)
        await served.timer.settle()
        await asyncio.gather(*(s.until_data_events(1) for s in streams))
        await listeners(served, 500, within=2.0)
        for stream in streams:
            stream.close()
        await listeners(served, 0, within=2.0)
        assert served.app.state.services.streams.used == 0
        sizes.append(rss())
    settled = sizes[1]
    for size in sizes[2:]:
        assert abs(size - settled) <= 0.03 * settled, [s / MIB for s in sizes]
