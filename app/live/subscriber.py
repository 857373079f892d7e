"""One listener of a feed: a bounded queue of shared events, resync on overflow.

The feed offers each event to every listener without waiting (`offer` never
blocks), so a stalled client holds up only itself. A listener holds at most
`QUEUE_SIZE` events; one more and its queue is cleared and it is given the
current snapshot instead, so it never silently misses a delta. Pings and the
end of the stream are flags, not queue entries.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Iterable
from typing import Final

from app.live.events import FeedEvent

QUEUE_SIZE: Final = 8


class Ping:
    """Yielded when a keep-alive is due and nothing else is waiting."""


PING: Final = Ping()


class Subscriber:
    """Events for one listener. `snapshot` returns the feed's current snapshot
    (None while the feed has no state yet)."""

    __slots__ = (
        "_closed",
        "_ping",
        "_queue",
        "_resync",
        "_waiter",
        "last_seq",
        "limit",
        "resyncs",
        "snapshot",
    )

    def __init__(self, limit: int, snapshot: Callable[[], FeedEvent | None]) -> None:
        self.limit = limit
        self.snapshot = snapshot
        self._queue: deque[FeedEvent] = deque()
        self._resync = True  # until a replay says otherwise, start with a snapshot
        self._ping = False
        self._closed = False
        self._waiter: asyncio.Future[None] | None = None
        self.last_seq: int | None = None  # the state this listener was given
        self.resyncs = 0  # snapshots given after an overflow or a gap

    @property
    def closed(self) -> bool:
        return self._closed

    def resume(self, last_seq: int, events: Iterable[FeedEvent]) -> None:
        """Start after `last_seq` (the client's Last-Event-ID) with `events`, the
        ones it missed, instead of a snapshot."""
        self._resync = False
        self.last_seq = last_seq
        self._queue.extend(events)

    def offer(self, event: FeedEvent) -> None:
        if self._closed:
            return
        if len(self._queue) >= QUEUE_SIZE:
            self._queue.clear()
            self.resync()
            return
        self._queue.append(event)
        self._wake()

    def resync(self) -> None:
        """Give this listener the current snapshot next (its queue is stale)."""
        if not self._resync:
            self.resyncs += 1
        self._resync = True
        self._wake()

    def ping(self) -> None:
        self._ping = True
        self._wake()

    def close(self) -> None:
        self._closed = True
        self._queue.clear()
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def _ready(self) -> FeedEvent | Ping | None:
        if self._resync:
            snapshot = self.snapshot()
            if snapshot is not None:
                self._resync = False
                queue = self._queue
                while queue and queue[0].seq <= snapshot.seq:
                    queue.popleft()
                self.last_seq = snapshot.seq
                return snapshot
        else:
            queue = self._queue
            while queue:
                event = queue.popleft()
                if self.last_seq is None or event.seq > self.last_seq:
                    self.last_seq = event.seq
                    return event
        if self._ping:
            self._ping = False
            return PING
        return None

    async def next(self) -> FeedEvent | Ping | None:
        """The next event or ping for this listener; None once it is closed."""
        while not self._closed:
            ready = self._ready()
            if ready is not None:
                return ready
            waiter = asyncio.get_running_loop().create_future()
            self._waiter = waiter
            try:
                await waiter
            finally:
                self._waiter = None
        return None
