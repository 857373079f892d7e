"""One feed in this process: its state, its listeners and its last 64 events.

Whoever produces states (this process's poller, or the Redis relay of another
worker's) calls `publish` with the new state and the events that tell it, or
`reset` when the listeners can no longer follow by events (a gap): each listener
then gets the new snapshot. The snapshot of a state is encoded once, when the
first listener needs it, and shared by the others.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from typing import Final

from app.live.events import FeedEvent, FeedState
from app.live.subscriber import QUEUE_SIZE, Subscriber

RING_SIZE: Final = 64  # events kept for Last-Event-ID resumption


class Feed:
    __slots__ = (
        "_snapshot",
        "idle_since",
        "key",
        "limit",
        "polls",
        "ring",
        "ring_base",
        "seen",
        "state",
        "subscribers",
    )

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.key = f"job-feed:{limit}"
        self.state: FeedState | None = None
        self.ring: deque[FeedEvent] = deque(maxlen=RING_SIZE)
        self.ring_base: int | None = None  # the state the ring's first event follows
        self.subscribers: set[Subscriber] = set()
        self._snapshot: FeedEvent | None = None
        self.idle_since: float | None = None  # monotonic, when the last one left
        self.polls = 0  # reads this process made for the feed
        self.seen: float | None = None  # fetched_at of the data it last read

    def snapshot(self) -> FeedEvent | None:
        """The current state as a snapshot event, encoded once per state."""
        if self._snapshot is None and self.state is not None:
            self._snapshot = self.state.snapshot()
        return self._snapshot

    def join(self, resume: int | None = None) -> Subscriber:
        """A new listener; with `resume` (a Last-Event-ID), the events after it
        when they are all still in the ring and few enough to queue."""
        subscriber = Subscriber(self.limit, self.snapshot)
        if resume is not None:
            missed = self.replay(resume)
            if missed is not None and len(missed) <= QUEUE_SIZE:
                subscriber.resume(resume, missed)
        self.subscribers.add(subscriber)
        self.idle_since = None
        return subscriber

    def leave(self, subscriber: Subscriber, now: float) -> None:
        self.subscribers.discard(subscriber)
        if not self.subscribers and self.idle_since is None:
            self.idle_since = now

    def replay(self, last_seq: int) -> list[FeedEvent] | None:
        """The events after state `last_seq`, or None if it is not a state of
        this feed that the ring can still lead from."""
        state = self.state
        if state is None:
            return None
        if last_seq == state.seq:
            return []
        events = list(self.ring)
        if last_seq == self.ring_base:
            return events
        for index, event in enumerate(events):
            if event.seq == last_seq:
                return events[index + 1 :]
        return None

    def publish(self, state: FeedState, events: Sequence[FeedEvent]) -> None:
        """`state` is current; `events` (possibly none) lead to it from the last."""
        first = self.state is None
        self.state = state
        self._snapshot = None
        if first:  # listeners waiting for a first state get its snapshot
            self.ring_base = state.seq
            for subscriber in self.subscribers:
                subscriber.resync()
            return
        ring = self.ring
        for event in events:
            if len(ring) == ring.maxlen:
                self.ring_base = ring[0].seq
            ring.append(event.for_ring())
            for subscriber in self.subscribers:
                subscriber.offer(event)

    def reset(self, state: FeedState) -> None:
        """`state` is current and cannot be reached by events: every listener
        starts again from its snapshot, and the ring starts empty."""
        self.state = state
        self._snapshot = None
        self.ring.clear()
        self.ring_base = state.seq
        for subscriber in self.subscribers:
            subscriber.resync()

    def close(self) -> None:
        for subscriber in self.subscribers:
            subscriber.close()
