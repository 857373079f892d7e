"""A small fixed-window rate limiter (in process), for the few routes that start
expensive or abusable work (the OAuth broker's start). Bounded memory: windows
older than the current one are dropped as keys are touched, and the table is
cleared when it grows past `max_keys`."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from app.errors import RateLimited


class FixedWindowLimiter:
    def __init__(
        self,
        limit: int,
        window_seconds: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        self.limit = limit
        self.window = window_seconds
        self._clock = clock
        self._max_keys = max_keys
        self._hits: dict[str, tuple[int, int]] = {}  # key -> (window index, count)

    def hit(self, key: str) -> None:
        """Count one request for `key`; raise RateLimited when over the limit."""
        now = self._clock()
        index = int(now // self.window)
        window, count = self._hits.get(key, (index, 0))
        if window != index:
            count = 0
        if count >= self.limit:
            retry_after = max(1, math.ceil((index + 1) * self.window - now))
            raise RateLimited("Too many requests", retry_after=retry_after)
        if len(self._hits) >= self._max_keys and key not in self._hits:
            self._hits.clear()
        self._hits[key] = (index, count + 1)
