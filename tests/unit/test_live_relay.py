"""How a follower takes a leader's messages (app/live/redis_bus.py `apply`, no
Redis needed), and the stop signals chained to the hub (app/live/signals.py)."""

from __future__ import annotations

import asyncio
import os
import signal
from types import FrameType

import orjson
import pytest

from app.live.events import SEQ_EPOCH, FeedEvent, FeedState, advance, initial
from app.live.feed import Feed
from app.live.redis_bus import RedisRelay, _Role
from app.live.signals import chain_stop_signals
from tests.support.live import feed_entry

WALL = SEQ_EPOCH + 1_000.0


def message(
    previous: FeedState | None, state: FeedState, events: list[FeedEvent], token: str
) -> bytes:
    return orjson.dumps(
        {
            "token": token,
            "prev": None if previous is None else previous.seq,
            "events": [[e.kind, e.seq, e.data.decode()] for e in events],
            "state": state.to_json(),
        }
    )


@pytest.fixture
def relay() -> RedisRelay:
    return RedisRelay("redis://127.0.0.1:1/0")  # never connected here


def states() -> tuple[
    FeedState, FeedState, list[FeedEvent], FeedState, list[FeedEvent]
]:
    first = initial([feed_entry(1)], WALL, 100)
    second, events2 = advance(first, [feed_entry(1), feed_entry(2)], WALL, WALL + 5)
    third, events3 = advance(second, [feed_entry(2)], WALL, WALL + 10)
    return first, second, events2, third, events3


def test_a_follower_relays_events_that_follow_its_state(relay: RedisRelay) -> None:
    first, second, events, _, _ = states()
    feed = Feed(50)
    listener = feed.join()
    relay.apply(feed, _Role(), message(None, first, [], "leader"))
    assert feed.state == first
    assert listener._ready().kind == "snapshot"  # type: ignore[union-attr]
    relay.apply(feed, _Role(), message(first, second, events, "leader"))
    relayed = listener._ready()
    assert isinstance(relayed, FeedEvent)
    assert relayed.sse == events[0].sse  # the leader's bytes, as they were
    assert feed.state == second


def test_a_gap_resyncs_every_listener_from_the_state_in_the_message(
    relay: RedisRelay,
) -> None:
    first, _, _, third, events = states()
    feed = Feed(50)
    relay.apply(feed, _Role(), message(None, first, [], "leader"))
    listener = feed.join(resume=first.seq)
    relay.apply(feed, _Role(), message(None, third, events, "leader"))  # one missed
    [snapshot] = [listener._ready()]
    assert snapshot.kind == "snapshot"  # type: ignore[union-attr]
    assert snapshot.seq == third.seq  # type: ignore[union-attr]
    assert list(feed.ring) == []


def test_old_and_own_messages_change_nothing(relay: RedisRelay) -> None:
    first, second, _, _, _ = states()
    feed = Feed(50)
    relay.apply(feed, _Role(), message(None, second, [], "leader"))
    relay.apply(feed, _Role(), message(None, first, [], "leader"))  # older: ignored
    relay.apply(feed, _Role(), message(second, first, [], relay.token))  # our own
    assert feed.state == second


def test_a_leader_hearing_another_leader_stands_down_next(relay: RedisRelay) -> None:
    first, second, events, _, _ = states()
    feed = Feed(50)
    role = _Role(leader=True)
    relay.apply(feed, role, message(first, second, events, "another"))
    assert role.contested
    assert feed.state is None


async def test_stop_signals_reach_the_hub_after_the_servers_own_handler() -> None:
    calls: list[str] = []

    def servers(signum: int, frame: FrameType | None) -> None:
        calls.append(f"server {signal.Signals(signum).name}")

    original = signal.signal(signal.SIGTERM, servers)
    try:
        undo = chain_stop_signals(lambda: calls.append("hub"))
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.sleep(0.05)
        assert calls == ["server SIGTERM", "hub"]
        undo()
        assert signal.getsignal(signal.SIGTERM) is servers
    finally:
        signal.signal(signal.SIGTERM, original)


async def test_the_default_handler_is_left_alone() -> None:
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # no server here
    undo = chain_stop_signals(lambda: None)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL
    undo()
