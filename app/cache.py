"""Upstream calls shared while in flight, and the Cache-Control policies.

The cross-request cache is the response cache (app/response_cache.py). Below it,
`UpstreamCache.fetch(key, ttl, loader)` makes concurrent callers of one upstream
call share one request (so the fields of one GraphQL request, or a refresh and a
miss, never call the same URL twice at once). Its optional TTL
(`UPSTREAM_CACHE_TTL`) is off by default: one cache layer is easier to reason
about. A failure is never kept; the entry count is bounded (LRU).
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

T = TypeVar("T")


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    coalesced: int = 0
    evictions: int = 0


class UpstreamCache:
    def __init__(
        self,
        *,
        max_entries: int = 2048,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._entries: OrderedDict[str, tuple[float, Any]] = OrderedDict()
        self._inflight: dict[str, asyncio.Task[Any]] = {}
        self.stats = CacheStats()

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        self._entries.clear()

    async def fetch(
        self,
        key: str,
        ttl: float,
        loader: Callable[[], Awaitable[T]],
        *,
        bypass: bool = False,
    ) -> T:
        if not bypass:
            entry = self._entries.get(key)
            if entry is not None and entry[0] > self._clock():
                self._entries.move_to_end(key)
                self.stats.hits += 1
                return cast(T, entry[1])
        task = self._inflight.get(key)
        if task is None:
            self.stats.misses += 1
            task = asyncio.create_task(self._load(key, ttl, loader))
            task.add_done_callback(_consume_exception)
            self._inflight[key] = task
        else:
            self.stats.coalesced += 1
        # shield: one impatient caller (a cancelled request) must not cancel the
        # call that every other waiter shares.
        return cast(T, await asyncio.shield(task))

    async def _load(
        self, key: str, ttl: float, loader: Callable[[], Awaitable[T]]
    ) -> T:
        try:
            value = await loader()
        finally:
            self._inflight.pop(key, None)
        if ttl > 0:
            self._store(key, self._clock() + ttl, value)
        return value

    def _store(self, key: str, expires: float, value: Any) -> None:
        self._entries[key] = (expires, value)
        self._entries.move_to_end(key)
        while len(self._entries) > self._max_entries:
            self._entries.popitem(last=False)
            self.stats.evictions += 1


def _consume_exception(task: asyncio.Task[Any]) -> None:
    # Every waiter re-raises the failure itself; this only keeps asyncio from
    # logging "exception was never retrieved" when all waiters went away.
    if not task.cancelled():
        task.exception()


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A response's Cache-Control header, for CDNs and browsers."""

    header: str

    @classmethod
    def public(cls, max_age: int, s_maxage: int, swr: int) -> CachePolicy:
        return cls(
            f"public, max-age={max_age}, s-maxage={s_maxage}, "
            f"stale-while-revalidate={swr}"
        )


# Appendix A: every dashboard success uses the 1 h TTL form.
DASHBOARD_SUCCESS = CachePolicy.public(60, 3600, 7200)
# 503s: a CDN may hold them briefly so an outage does not stampede the origin.
DASHBOARD_UNAVAILABLE = CachePolicy.public(0, 5, 0)
NO_STORE = CachePolicy("no-store")
PRIVATE_NO_STORE = CachePolicy("private, no-store")
