"""The feed hub: one per process, every listener of every feed.

`subscribe(limit)` adds a listener to the feed of that `limit` (`job-feed:50`),
starting its poller with the first one; the poller stops `LINGER` seconds after
the last one leaves. Each poll reads the job feed through `poll`, the same cached
single-flight snapshot the REST route reads (given by the composition root), so
REST polls and push cost one upstream call per interval between them. Without
Redis each process polls for itself; with it (`relay`), one worker per feed polls
and the others relay its events (app/live/redis_bus.py).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import random
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

from app.live.events import Entry, FeedEvent, FeedState, advance, initial, next_seq
from app.live.feed import Feed
from app.live.subscriber import Subscriber
from app.live.timer import SystemTimer, Timer
from app.metrics import LIVE_EVENTS, LIVE_POLLS

log = logging.getLogger("naap.live")

LINGER: Final = 30.0  # seconds a feed keeps polling after its last listener left
PING_EVERY: Final = 15.0  # seconds between keep-alives on every listener
JITTER: Final = 0.1  # each wait is the interval +-10 %
BACKOFF: Final = (1.0, 2.0, 5.0, 10.0, 15.0, 30.0)  # after 1, 2, ... failed polls


@dataclass(frozen=True, slots=True)
class Polled:
    """One read of the job feed: the REST body's `streams` (None when the
    upstream failed: its `queryFailed`), and when that data left the upstream
    (epoch seconds)."""

    streams: Sequence[Entry] | None
    fetched_at: float


# (limit, fetched_at of the data the feed last had) -> the feed now. The second
# argument lets it reuse a snapshot someone else loaded since, instead of loading.
Poll = Callable[[int, float | None], Awaitable[Polled]]


class FeedClosed(Exception):
    """The hub is shutting down: no new listeners."""


class Relay(Protocol):
    """Runs a feed across processes (app/live/redis_bus.py)."""

    async def run(self, hub: FeedHub, feed: Feed) -> None: ...

    async def aclose(self) -> None: ...


class FeedHub:
    def __init__(
        self,
        *,
        interval: float,
        poll: Poll | None = None,
        timer: Timer | None = None,
        relay: Relay | None = None,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.interval = interval
        self.poll = poll
        self.timer: Timer = timer or SystemTimer()
        self.relay = relay
        self.jitter = jitter
        self.feeds: dict[int, Feed] = {}
        self._tasks: dict[Feed, list[asyncio.Task[None]]] = {}
        self._closing = False

    # --- listeners ---------------------------------------------------------------
    @property
    def listeners(self) -> int:
        return sum(len(feed.subscribers) for feed in self.feeds.values())

    def subscribe(self, limit: int, resume: int | None = None) -> Subscriber:
        """A listener of the feed for `limit`; `resume`: its Last-Event-ID."""
        if self._closing:
            raise FeedClosed("the server is shutting down")
        feed = self.feeds.get(limit)
        if feed is None:
            feed = self.feeds[limit] = Feed(limit)
            self._start(feed)
        return feed.join(resume)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        feed = self.feeds.get(subscriber.limit)
        if feed is not None:
            feed.leave(subscriber, self.timer.monotonic())

    # --- polling -----------------------------------------------------------------
    def should_stop(self, feed: Feed) -> bool:
        if self._closing:
            return True
        idle = feed.idle_since
        return idle is not None and self.timer.monotonic() - idle >= LINGER

    def delay(self, failures: int) -> float:
        """Seconds until the next poll: the interval with jitter, or the backoff
        after `failures` failed polls in a row."""
        if failures:
            return BACKOFF[min(failures, len(BACKOFF)) - 1]
        return self.interval * (1 + JITTER * (2 * self.jitter() - 1))

    async def refresh(
        self, feed: Feed, base: FeedState | None
    ) -> tuple[FeedState, list[FeedEvent], bool]:
        """Poll once: the state after `base` (None: the first), the events that
        lead to it, and whether the poll succeeded."""
        polled = await self._poll(feed)
        wall = self.timer.wall()
        streams = polled.streams if polled is not None else None
        fetched_at = polled.fetched_at if polled is not None else wall
        if streams is not None:
            feed.seen = fetched_at
        if base is None:
            return (
                initial(streams, fetched_at, next_seq(0, wall)),
                [],
                streams is not None,
            )
        state, events = advance(base, streams, fetched_at, wall)
        for event in events:
            LIVE_EVENTS.labels(event.kind).inc()
        return state, events, streams is not None

    async def _poll(self, feed: Feed) -> Polled | None:
        if self.poll is None:
            raise RuntimeError("FeedHub.poll is not set")
        feed.polls += 1
        try:
            polled = await self.poll(feed.limit, feed.seen)
        except Exception:
            log.exception("job feed poll failed (%s)", feed.key)
            LIVE_POLLS.labels("error").inc()
            return None
        LIVE_POLLS.labels("ok" if polled.streams is not None else "failed").inc()
        return polled

    async def run_local(self, feed: Feed) -> None:
        """Poll in this process until the feed should stop."""
        failures = 0
        while not self.should_stop(feed):
            state, events, ok = await self.refresh(feed, feed.state)
            feed.publish(state, events)
            failures = 0 if ok else failures + 1
            await self.timer.sleep(self.delay(failures))

    async def _pings(self, feed: Feed) -> None:
        while True:
            await self.timer.sleep(PING_EVERY)
            for subscriber in list(feed.subscribers):
                subscriber.ping()

    def _start(self, feed: Feed) -> None:
        # Fresh contexts: the feed outlives the request that started it, and must
        # not inherit its upstream deadline or its data-source labels.
        runner = asyncio.create_task(
            self._run(feed), name=f"live {feed.key}", context=contextvars.Context()
        )
        pings = asyncio.create_task(
            self._pings(feed),
            name=f"live pings {feed.key}",
            context=contextvars.Context(),
        )
        self._tasks[feed] = [runner, pings]

    async def _run(self, feed: Feed) -> None:
        try:
            if self.relay is None:
                await self.run_local(feed)
            else:
                await self.relay.run(self, feed)
        except Exception:
            log.exception("job feed %s stopped on an error", feed.key)
        finally:
            self._forget(feed)

    def _forget(self, feed: Feed) -> None:
        if self.feeds.get(feed.limit) is feed:
            del self.feeds[feed.limit]
        feed.close()
        for task in self._tasks.pop(feed, ()):
            if task is not asyncio.current_task():
                task.cancel()

    # --- shutdown ----------------------------------------------------------------
    def begin_shutdown(self) -> None:
        """Refuse new listeners, end every stream (each gets its last `retry:`)
        and stop the pollers (a leader's lease is released as it stops)."""
        if self._closing:
            return
        self._closing = True
        for feed, tasks in list(self._tasks.items()):
            feed.close()
            for task in tasks:
                task.cancel()

    async def aclose(self) -> None:
        self.begin_shutdown()
        tasks = [task for tasks in self._tasks.values() for task in tasks]
        await asyncio.gather(*tasks, return_exceptions=True)
        if self.relay is not None:
            await self.relay.aclose()
