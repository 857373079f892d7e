"""Property: whatever the polls, drops, overflows and reconnects (with
Last-Event-ID), every client rebuilds the list of the last poll from its events,
its sequence numbers only grow, and every snapshot's `streams` are the poll's
entries byte for byte.

The hub runs on a driven clock with an upstream that a seeded random walk moves
at each poll: streams start (some sharing a start time and gateway) and end,
change status, model or orchestrator, and their fps jitter a little or jump; ids
and times change every poll, as upstream.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.live.events import FPS_DEADBAND, FeedEvent, stream_keys
from app.live.hub import FeedHub, Polled
from app.live.subscriber import QUEUE_SIZE, Subscriber
from tests.support.live import ManualTimer, Rebuilt, assert_matches_rest

INTERVAL = 5.0
CLIENTS = 4


class World:
    """The upstream's job feed, moved by a seeded random walk at each poll."""

    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)
        self.counter = 0
        self.rows: list[dict[str, Any]] = [self.new_row() for _ in range(5)]
        self.failing = False
        self.served: list[dict[str, Any]] | None = None  # the last good poll

    def new_row(self) -> dict[str, Any]:
        self.counter += 1
        rng = self.rng
        minute = rng.randrange(6)  # few start times: keys collide sometimes
        return {
            "id": f"event-{self.counter}",
            "pipeline": "live-video-to-video",
            "model": rng.choice(["sdxl", "sd15"]),
            "status": "loading",
            "startedAt": f"2026-11-25T14:{minute:02d}:00Z",
            "gateway": rng.choice(["gw-a", "gw-b", None]),
            "orchestratorUrl": rng.choice(["https://o1", "https://o2"]),
            "inputFps": round(rng.uniform(28, 30), 2),
            "outputFps": rng.choice([None, round(rng.uniform(8, 20), 2)]),
            "lastSeen": f"t{self.counter}",
            "durationSeconds": float(self.counter),
            "runningFor": f"{self.counter}s",
        }

    def move(self) -> None:
        rng = self.rng
        rows = [r for r in self.rows if rng.random() > 0.15]
        rows += [self.new_row() for _ in range(rng.choice([0, 0, 1, 2]))]
        for r in rows:
            self.counter += 1
            r["id"] = f"event-{self.counter}"
            r["lastSeen"] = f"t{self.counter}"
            if rng.random() < 0.2:
                r["status"] = rng.choice(["online", "degraded_input", "loading"])
            if rng.random() < 0.05:
                r["orchestratorUrl"] = rng.choice(["https://o1", "https://o2"])
            if r["outputFps"] is not None:
                jump = rng.random() < 0.15
                r["outputFps"] = round(
                    max(
                        0.0, r["outputFps"] + rng.uniform(-1, 1) * (6 if jump else 0.6)
                    ),
                    2,
                )
        rng.shuffle(rows)
        self.rows = rows

    async def poll(self, limit: int, seen: float | None) -> Polled:
        if self.failing:
            return Polled(None, 0.0)
        self.served = [dict(r) for r in self.rows]
        return Polled(self.served, 1.8e9)


class Client:
    """One connection's worth of a client: its list, and whether it reads."""

    def __init__(self, subscriber: Subscriber) -> None:
        self.subscriber: Subscriber | None = subscriber
        self.list = Rebuilt()
        self.reading = True
        self.connection_seqs: list[int] = []

    def drain(self, world: World) -> None:
        subscriber = self.subscriber
        assert subscriber is not None
        while (item := subscriber._ready()) is not None:
            if not isinstance(item, FeedEvent):
                continue
            if self.connection_seqs:
                assert item.seq > self.connection_seqs[-1]  # strictly increasing
            self.connection_seqs.append(item.seq)
            if item.kind == "snapshot":
                assert world.served is not None
                streams = orjson.dumps(world.served)
                assert orjson.dumps(item.payload["streams"]) == streams
                assert b'"streams":' + streams in item.data
                self.list = Rebuilt()
            self.list.apply(item.kind, item.payload)


ACTIONS = st.lists(
    st.one_of(
        st.just(("poll", 0)),
        st.just(("fail", 0)),
        st.tuples(
            st.sampled_from(["drop", "resume", "stall", "read"]),
            st.integers(0, CLIENTS - 1),
        ),
    ),
    min_size=5,
    max_size=45,
)


@settings(
    max_examples=200,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(seed=st.integers(0, 2**32), actions=ACTIONS)
def test_every_client_rebuilds_the_last_poll(seed: int, actions: list[Any]) -> None:
    asyncio.run(_scenario(seed, actions))


async def _scenario(seed: int, actions: list[tuple[str, int]]) -> None:
    world = World(seed)
    timer = ManualTimer()
    hub = FeedHub(interval=INTERVAL, poll=world.poll, timer=timer, jitter=lambda: 0.5)
    clients = [Client(hub.subscribe(50)) for _ in range(CLIENTS)]
    await timer.settle()
    try:
        for action, index in actions:
            client = clients[index]
            if action in ("poll", "fail"):
                world.failing = action == "fail"
                world.move()
                await timer.advance(INTERVAL)
            elif action == "drop" and client.subscriber is not None:
                hub.unsubscribe(client.subscriber)
                client.subscriber = None
            elif action == "resume" and client.subscriber is None:
                client.subscriber = hub.subscribe(50, resume=client.list.seq)
                client.connection_seqs = []
                client.reading = True
            elif action == "stall":
                client.reading = False
            elif action == "read":
                client.reading = True
            for each in clients:
                if each.subscriber is not None and each.reading:
                    each.drain(world)
                    _check(each, world, hub)
    finally:
        await hub.aclose()


def _check(client: Client, world: World, hub: FeedHub) -> None:
    state = hub.feeds[50].state
    assert state is not None
    assert client.list.seq == state.seq
    assert client.list.stale == state.stale
    served = world.served or []
    assert_matches_rest(client.list.rows, served, stream_keys(served), FPS_DEADBAND)


def test_the_property_exercises_overflow_and_resumption() -> None:
    """The scenario reaches the paths it claims to: a stalled client overflows
    and is resynced; a short reconnect resumes from the ring, a long one gets a
    snapshot."""

    async def run() -> tuple[int, int, int]:
        world = World(7)
        timer = ManualTimer()
        hub = FeedHub(
            interval=INTERVAL, poll=world.poll, timer=timer, jitter=lambda: 0.5
        )
        stalled = Client(hub.subscribe(50))
        dropped = Client(hub.subscribe(50))
        await timer.settle()
        stalled.drain(world)  # its first snapshot; then it stops reading
        dropped.drain(world)
        last_seen = dropped.list.seq
        assert dropped.subscriber is not None
        hub.unsubscribe(dropped.subscriber)
        queued = []  # events queued for a reconnect, as it joins
        for n in range(4 * QUEUE_SIZE):
            world.rows.append(world.new_row())  # a delta every poll
            await timer.advance(INTERVAL)
            if n == 2:
                queued.append(len(hub.subscribe(50, resume=last_seen)._queue))
        queued.append(len(hub.subscribe(50, resume=last_seen)._queue))
        stalled.drain(world)
        await hub.aclose()
        assert stalled.subscriber is not None
        return stalled.subscriber.resyncs, queued[0], queued[1]

    resyncs, short, long = asyncio.run(run())
    assert resyncs >= 1
    assert short == 3  # replayed from the ring
    assert long == 0  # too many missed for the queue: a snapshot instead
