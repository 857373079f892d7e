"""Rate limits per client in four tiers, on the `limits` library: `public` (every
data request, per address), `upstream` (reads that start upstream work, per
address), `write` (developer writes, per user) and `login` (OAuth starts, per user).

Fixed windows (one INCR per check; up to twice a limit across a window boundary,
good enough against abuse), in `memory://` (per process) or `redis://` (shared).
A storage outage fails open. The address is the `client_address` context variable
the edge sets; work outside a request (background refreshes) is never charged.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from functools import lru_cache
from typing import Any, Literal

import limits
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from app.errors import RateLimited
from app.metrics import REQUESTS_REFUSED
from app.settings import Settings

log = logging.getLogger("naap.ratelimit")

Tier = Literal["public", "upstream", "write", "login"]
TIERS: tuple[Tier, ...] = ("public", "upstream", "write", "login")

# The current request's client address (set by the HTTP middleware).
client_address: ContextVar[str | None] = ContextVar("client_address", default=None)

# A failing storage is logged at most this often (seconds), not once per request.
_OUTAGE_LOG_INTERVAL = 60.0


class MemoryWindows:
    """Fixed windows in process, aligned to the clock: (tier, key) -> (window end,
    count). Bounded: past `max_keys` entries, finished windows are dropped, and if
    that is not enough the table starts over (a reset, never a refusal). Used
    instead of limits' MemoryStorage for speed: BENCHMARKS.md, "Library bypasses"."""

    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._windows: dict[tuple[str, str], tuple[float, int]] = {}

    def hit(self, tier: str, key: str, limit: int, seconds: int) -> int:
        """Count one; 0 when within `limit`, else the seconds until the window ends."""
        now = self._clock()
        slot = (tier, key)
        end, count = self._windows.get(slot, (0.0, 0))
        if now >= end:
            end, count = (now // seconds + 1) * seconds, 0
        if count >= limit:
            return max(1, math.ceil(end - now))
        if len(self._windows) >= self._max_keys and slot not in self._windows:
            self._sweep(now)
        self._windows[slot] = (end, count + 1)
        return 0

    def _sweep(self, now: float) -> None:
        live = {slot: v for slot, v in self._windows.items() if v[0] > now}
        self._windows = live if len(live) < self._max_keys else {}


class RateLimiter:
    """The four tiers over one storage. `hit(tier, key)` raises RateLimited."""

    def __init__(
        self, settings: Settings, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.enabled = settings.rate_limits_enabled
        self.items: dict[Tier, limits.RateLimitItem] = {
            tier: limits.parse(getattr(settings, f"rate_limit_{tier}"))
            for tier in TIERS
        }
        # (limit, window seconds) per tier, for the in-process counter.
        self._bounds = {
            tier: (item.amount, item.get_expiry()) for tier, item in self.items.items()
        }
        self._pool: Any = None
        self._memory: MemoryWindows | None = None
        self._strategy: FixedWindowRateLimiter | None = None
        url = settings.rate_limit_storage.removeprefix("async+")
        if url.startswith("memory://"):
            self._memory = MemoryWindows(clock=clock)
        else:
            self._strategy = FixedWindowRateLimiter(self._shared_storage(url))
        self._outage_logged = 0.0

    def _shared_storage(self, url: str) -> Any:
        if url.startswith(("redis://", "rediss://")):
            import redis.asyncio as redis  # only when configured

            # Our own pool, so shutdown can close its connections.
            self._pool = redis.ConnectionPool.from_url(url)
            return storage_from_string(
                "async+" + url,
                implementation="redispy",
                connection_pool=self._pool,
                wrap_exceptions=True,
            )
        return storage_from_string("async+" + url, wrap_exceptions=True)

    @property
    def backend(self) -> str:
        return "memory" if self._memory is not None else "shared"

    async def hit(self, tier: Tier, key: str) -> None:
        """Count one request for `key` in `tier`; RateLimited when over the limit."""
        if not self.enabled:
            return
        if self._memory is not None:
            limit, seconds = self._bounds[tier]
            retry_after = self._memory.hit(tier, key, limit, seconds)
        else:
            retry_after = await self._shared_hit(tier, key)
        if retry_after:
            REQUESTS_REFUSED.labels(f"rate_limit_{tier}").inc()
            raise RateLimited("Too many requests", retry_after=retry_after)

    def hit_in_process(self, tier: Tier, key: str) -> bool:
        """The hot path's check, without a coroutine: True when it was counted
        in process (within the limit); False means call `hit` (a shared storage).
        Raises RateLimited like `hit`."""
        if self._memory is None:
            return False
        limit, seconds = self._bounds[tier]
        retry_after = self._memory.hit(tier, key, limit, seconds)
        if retry_after:
            REQUESTS_REFUSED.labels(f"rate_limit_{tier}").inc()
            raise RateLimited("Too many requests", retry_after=retry_after)
        return True

    async def _shared_hit(self, tier: Tier, key: str) -> int:
        assert self._strategy is not None  # noqa: S101  (not memory: shared)
        item = self.items[tier]
        try:
            if await self._strategy.hit(item, tier, key):
                return 0
            stats = await self._strategy.get_window_stats(item, tier, key)
        except Exception as exc:  # fail open; see the module docstring
            self._log_outage(exc)
            return 0
        return max(1, math.ceil(stats.reset_time - time.time()))

    async def admit_upstream(self) -> None:
        """The `upstream` tier for the current request's client (ResponseCache's
        hook): called before a miss or a refresh starts upstream work."""
        address = client_address.get()
        if address is not None:
            await self.hit("upstream", address)

    def _log_outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._outage_logged >= _OUTAGE_LOG_INTERVAL:
            self._outage_logged = now
            log.warning(
                "rate limit storage failed; requests are not limited (%s)",
                type(exc).__name__,
            )

    async def aclose(self) -> None:
        if self._pool is not None:
            await self._pool.aclose()


def parse_networks(
    entries: Iterable[str],
) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """TRUSTED_PROXIES entries (addresses or CIDRs) as networks; ValueError names a
    bad entry."""
    networks = []
    for entry in entries:
        try:
            networks.append(ipaddress.ip_network(entry, strict=False))
        except ValueError as exc:
            raise ValueError(
                f"TRUSTED_PROXIES: {entry!r} is not an IP or CIDR"
            ) from exc
    return tuple(networks)


class ClientAddresses:
    """Who a request comes from: the peer, or — when the peer is a trusted proxy —
    the right-most address in X-Forwarded-For (or Forwarded) that is not one.

    Right-most, not left-most: every proxy appends the address it received from,
    so only the entries added by our own proxies can be believed; anything to
    their left was written by the client.
    """

    def __init__(self, trusted: Iterable[str]) -> None:
        self.networks = parse_networks(trusted)
        # Peers repeat: remember the verdict (bounded by the cache size).
        self.is_trusted = lru_cache(maxsize=4096)(self._is_trusted)

    def _is_trusted(self, address: str) -> bool:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.networks)

    def resolve(
        self, peer: str, forwarded_for: bytes | None, forwarded: bytes | None
    ) -> str:
        if not self.networks or not self.is_trusted(peer):
            return peer
        if forwarded_for is not None:
            hops = [h.strip() for h in forwarded_for.decode("latin-1").split(",")]
        elif forwarded is not None:
            hops = _forwarded_for(forwarded.decode("latin-1"))
        else:
            return peer
        for hop in reversed(hops):
            if hop and not self.is_trusted(hop):
                return hop[:64]  # stored as a key: bounded
        return peer  # every hop is ours: the request started inside


def _forwarded_for(header: str) -> list[str]:
    """The `for=` addresses of an RFC 7239 Forwarded header, in order."""
    hops: list[str] = []
    for element in header.split(","):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.lower() != "for":
                continue
            value = value.strip().strip('"')
            if value.startswith("["):  # [2001:db8::1]:4711
                value = value[1:].partition("]")[0]
            elif value.count(":") == 1:  # 192.0.2.60:4711
                value = value.partition(":")[0]
            hops.append(value)
    return hops
