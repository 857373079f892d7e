"""The hub's sense of time, in one object, so tests can drive it.

`monotonic` schedules (intervals, the idle linger), `wall` numbers events
(epoch seconds), `sleep` waits. The server uses `SystemTimer`; tests pass one
whose `sleep` returns when the test moves its clock.
"""

from __future__ import annotations

import asyncio
import time
from typing import Protocol


class Timer(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemTimer:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
