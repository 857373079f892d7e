"""Single flight: concurrent callers of one key share one run of the work.

`SingleFlight` is the one in-process implementation (used by the snapshot store
and by the upstream clients for calls in flight). `RedisFlight`
(app/caching/redis_backend.py, imported only when CACHE_URL is set) adds a Redis
lease on top of it, so that across processes too only one caller per key does the
work and the others read its result.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

T = TypeVar("T")


class FlightFailed(Exception):
    """Another process's run failed or never answered; the caller treats it like
    its own failure."""


@dataclass
class FlightStats:
    """`started`: runs this process did. `joined`: calls that waited for someone
    else's run (in this process or another)."""

    started: int = 0
    joined: int = 0


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    # Mark a failure as seen even when every caller was cancelled before it came.
    if not task.cancelled():
        task.exception()


@dataclass(eq=False)
class _Flight(Generic[T]):
    task: asyncio.Task[T]
    callers: int = 0


class SingleFlight(Generic[T]):
    """One asyncio task per key; concurrent callers await it (shielded, so one
    cancelled caller never cancels the others' run). A failure reaches every
    waiter; nothing is remembered once the run completes. The run happens in a
    copy of the first caller's context.

    `cancel_when_abandoned`: cancel the run when its last caller is cancelled
    (the Redis flight's owner then releases its lease at once).
    """

    def __init__(self, *, cancel_when_abandoned: bool = False) -> None:
        self.cancel_when_abandoned = cancel_when_abandoned
        self.stats = FlightStats()
        self._flights: dict[str, _Flight[T]] = {}

    def in_flight(self, key: str) -> bool:
        return key in self._flights

    async def run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        flight = self._flights.get(key)
        if flight is None:
            self.stats.started += 1
            task = asyncio.create_task(self._run(key, work), name=f"flight {key}")
            task.add_done_callback(_retrieve_exception)
            flight = self._flights[key] = _Flight(task)
        else:
            self.stats.joined += 1
        flight.callers += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.callers -= 1
            if (
                self.cancel_when_abandoned
                and flight.callers == 0
                and not flight.task.done()
            ):
                self._forget(key, flight)
                flight.task.cancel()

    async def _run(self, key: str, work: Callable[[], Awaitable[T]]) -> T:
        try:
            return await work()
        finally:
            # Forgotten before the result is delivered: a caller arriving after
            # completion starts a new run instead of reading an old result.
            flight = self._flights.get(key)
            if flight is not None and flight.task is asyncio.current_task():
                del self._flights[key]

    def _forget(self, key: str, flight: _Flight[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]

    async def aclose(self) -> None:
        tasks = [flight.task for flight in self._flights.values()]
        self._flights.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


class Flight(Protocol):
    """What the snapshot store needs of a flight that carries bytes."""

    stats: FlightStats

    async def run(self, key: str, work: Callable[[], Awaitable[bytes]]) -> bytes: ...

    def in_flight(self, key: str) -> bool: ...

    async def aclose(self) -> None: ...
