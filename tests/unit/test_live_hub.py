"""The feed hub on a driven clock with a fake poll: polling, lingering, backoff,
bounded queues and resync, Last-Event-ID resumption, pings and shutdown."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from app.live.events import FeedEvent
from app.live.feed import RING_SIZE
from app.live.hub import BACKOFF, LINGER, PING_EVERY, FeedClosed, FeedHub, Polled
from app.live.subscriber import PING, QUEUE_SIZE, Subscriber
from app.settings import Settings
from tests.support.live import ManualTimer, Rebuilt, feed_entry

INTERVAL = 5.0


class Upstream:
    """The hub's poll: the current rows, or a failure; counts its calls and when
    they happened (the timer's clock)."""

    def __init__(self, timer: ManualTimer) -> None:
        self.timer = timer
        self.rows = [feed_entry(1), feed_entry(2)]
        self.failing = False
        self.raising = False
        self.calls: list[float] = []

    async def __call__(self, limit: int, seen: float | None) -> Polled:
        self.calls.append(self.timer.now)
        if self.raising:
            raise RuntimeError("the read itself failed")
        if self.failing:
            return Polled(None, self.timer.wall())
        return Polled([dict(r) for r in self.rows], self.timer.wall())


@pytest.fixture
def timer() -> ManualTimer:
    return ManualTimer()


@pytest.fixture
def upstream(timer: ManualTimer) -> Upstream:
    return Upstream(timer)


@pytest.fixture
async def hub(timer: ManualTimer, upstream: Upstream) -> AsyncIterator[FeedHub]:
    hub = FeedHub(interval=INTERVAL, poll=upstream, timer=timer, jitter=lambda: 0.5)
    yield hub
    await hub.aclose()


def drain(subscriber: Subscriber) -> list[FeedEvent]:
    """What the listener has ready now (without waiting)."""
    ready = []
    while (item := subscriber._ready()) is not None:
        if item is not PING:
            assert isinstance(item, FeedEvent)
            ready.append(item)
    return ready


async def test_the_first_listener_starts_one_poll_and_gets_its_snapshot(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    first = hub.subscribe(50)
    await timer.settle()
    listeners = [first, *(hub.subscribe(50) for _ in range(49))]
    assert upstream.calls == [0.0]
    for listener in listeners:
        [snapshot] = drain(listener)
        assert snapshot.kind == "snapshot"
        assert snapshot is listeners[0].snapshot()  # encoded once, shared


async def test_listeners_share_one_poll_per_interval(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    for _ in range(20):
        hub.subscribe(50)
    hub.subscribe(10)  # another feed polls for itself
    await timer.settle()
    await timer.advance(4 * INTERVAL)
    assert upstream.calls == [0.0, 0.0, 5.0, 5.0, 10.0, 10.0, 15.0, 15.0, 20.0, 20.0]


async def test_a_feed_stops_polling_30_s_after_its_last_listener_left(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    listener = hub.subscribe(50)
    await timer.advance(INTERVAL)
    hub.unsubscribe(listener)
    await timer.advance(LINGER - 1)
    back = hub.subscribe(50)  # within the linger: the same feed, no new poll
    assert hub.feeds[50].subscribers == {back}
    hub.unsubscribe(back)
    left = timer.now
    await timer.advance(LINGER)
    stopped = len(upstream.calls)
    assert upstream.calls[-1] < left + LINGER
    await timer.advance(10 * LINGER)
    assert len(upstream.calls) == stopped
    assert hub.feeds == {}


async def test_failed_polls_back_off_and_say_stale(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    listener = hub.subscribe(50)
    await timer.settle()
    drain(listener)
    upstream.failing = True
    await timer.advance(INTERVAL)
    [status] = drain(listener)
    assert status.kind == "status"
    assert status.payload["stale"] is True
    await timer.advance(sum(BACKOFF) + 2 * BACKOFF[-1])
    gaps = [b - a for a, b in zip(upstream.calls[1:], upstream.calls[2:], strict=False)]
    assert gaps == [*BACKOFF, BACKOFF[-1], BACKOFF[-1]]
    assert drain(listener) == []  # stale once, not at every failure
    upstream.failing = False
    upstream.rows.append(feed_entry(3))
    await timer.advance(BACKOFF[-1])
    assert [e.kind for e in drain(listener)] == ["delta", "status"]
    before = len(upstream.calls)
    await timer.advance(INTERVAL)
    assert len(upstream.calls) == before + 1  # back to the interval


async def test_a_poll_that_raises_is_a_failure(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    listener = hub.subscribe(50)
    await timer.settle()
    drain(listener)
    upstream.raising = True
    await timer.advance(INTERVAL)
    assert [e.payload["stale"] for e in drain(listener)] == [True]


def test_the_interval_has_10_percent_jitter_and_a_2_second_floor() -> None:
    low = FeedHub(interval=INTERVAL, jitter=lambda: 0.0)
    high = FeedHub(interval=INTERVAL, jitter=lambda: 1.0)
    assert (low.delay(0), high.delay(0)) == (4.5, 5.5)
    assert [low.delay(n) for n in range(1, 9)] == [1, 2, 5, 10, 15, 30, 30, 30]
    assert Settings(job_feed_push_interval=0.5).job_feed_push_interval == 2.0
    assert Settings(job_feed_push_interval=12).job_feed_push_interval == 12.0
    assert Settings().job_feed_push_interval == 5.0


async def test_an_overflowing_listener_is_resynced_with_the_current_snapshot(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    stalled = hub.subscribe(50)
    reading = hub.subscribe(50)
    await timer.settle()
    drain(stalled)
    drain(reading)
    for n in range(QUEUE_SIZE + 3):  # a delta every poll
        upstream.rows[0] = feed_entry(1, status=f"state-{n}")
        await timer.advance(INTERVAL)
        assert [e.kind for e in drain(reading)] == ["delta"]
    [snapshot] = drain(stalled)  # not the 11 deltas: the snapshot of now
    assert snapshot.kind == "snapshot"
    assert snapshot.seq == hub.feeds[50].state.seq  # type: ignore[union-attr]
    assert stalled.resyncs == 1
    upstream.rows[0] = feed_entry(1, status="after")
    await timer.advance(INTERVAL)
    assert [e.kind for e in drain(stalled)] == ["delta"]


async def test_last_event_id_resumes_from_the_ring(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    first = hub.subscribe(50)
    await timer.settle()
    client = Rebuilt()
    for event in drain(first):
        client.apply(event.kind, event.payload)
    hub.unsubscribe(first)
    missed_seqs = []
    for n in range(3):
        upstream.rows.append(feed_entry(10 + n))
        await timer.advance(INTERVAL)
        missed_seqs.append(hub.feeds[50].state.seq)  # type: ignore[union-attr]
    again = hub.subscribe(50, resume=client.seq)
    replayed = drain(again)
    assert [(e.kind, e.seq) for e in replayed] == [("delta", s) for s in missed_seqs]
    for event in replayed:
        client.apply(event.kind, event.payload)
    assert list(client.rows) == hub.feeds[50].state.keys  # type: ignore[union-attr]
    # Up to date: nothing to send until the next change.
    current = hub.subscribe(50, resume=missed_seqs[-1])
    assert drain(current) == []


@pytest.mark.parametrize(
    "resume",
    ["unknown", "too-many-missed", "out-of-the-ring"],
)
async def test_last_event_id_gets_a_snapshot_when_the_ring_cannot_lead_from_it(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream, resume: str
) -> None:
    hub.subscribe(50)
    await timer.settle()
    start = hub.feeds[50].state.seq  # type: ignore[union-attr]
    changes = {
        "unknown": 1,
        "too-many-missed": QUEUE_SIZE + 1,
        "out-of-the-ring": RING_SIZE + 2,
    }
    for n in range(changes[resume]):
        upstream.rows[0] = feed_entry(1, status=f"s{n}")
        await timer.advance(INTERVAL)
    feed = hub.feeds[50]
    assert len(feed.ring) == min(RING_SIZE, changes[resume])
    last_id = start + 10**6 if resume == "unknown" else start
    listener = hub.subscribe(50, resume=last_id)
    [event] = drain(listener)
    assert event.kind == "snapshot"
    assert event.seq == feed.state.seq  # type: ignore[union-attr]


async def test_every_listener_is_pinged_every_15_seconds(
    hub: FeedHub, timer: ManualTimer
) -> None:
    listener = hub.subscribe(50)
    await timer.settle()
    drain(listener)
    await timer.advance(PING_EVERY - 1)
    assert listener._ready() is None
    await timer.advance(1)
    assert listener._ready() is PING
    assert listener._ready() is None


async def test_shutdown_ends_every_stream_and_refuses_new_listeners(
    hub: FeedHub, timer: ManualTimer, upstream: Upstream
) -> None:
    listeners = [hub.subscribe(50), hub.subscribe(7)]
    await timer.settle()
    hub.begin_shutdown()
    for listener in listeners:
        assert listener.closed
        assert await listener.next() is None
    with pytest.raises(FeedClosed):
        hub.subscribe(50)
    await hub.aclose()
    calls = len(upstream.calls)
    await timer.advance(10 * INTERVAL)
    assert len(upstream.calls) == calls
    assert hub.feeds == {}


async def test_a_poller_that_dies_ends_its_streams_and_the_feed_starts_anew(
    timer: ManualTimer, upstream: Upstream, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        async def run(self, hub: FeedHub, feed: Any) -> None:
            raise RuntimeError("the relay broke")

        async def aclose(self) -> None:
            return None

    hub = FeedHub(interval=INTERVAL, poll=upstream, timer=timer, relay=Broken())
    listener = hub.subscribe(50)
    await timer.settle()
    assert await listener.next() is None  # the stream ends; the client reconnects
    assert hub.feeds == {}
    assert "job feed job-feed:50 stopped on an error" in caplog.text
    hub.relay = None
    again = hub.subscribe(50)
    await timer.settle()
    assert [e.kind for e in drain(again)] == ["snapshot"]
    await hub.aclose()
