"""The Redis backends of the snapshot cache, imported only when CACHE_URL is set
(redis-py is ~60 ms of a start): `RedisStore` keeps snapshots as bytes shared by
every worker and replica; `RedisFlight` makes one caller per key, across
processes, do the work. Redis is reached through redis-py directly: the lease
needs it anyway, and one client through its public API is simpler than a cache
framework around it.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable, Sequence

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.caching.flight import FlightFailed, FlightStats, SingleFlight
from app.caching.stores import check_redis_url, redis_scheme

log = logging.getLogger("naap.caching.flight")


class RedisStore:
    """Bytes under `namespace` in Redis, each with its own TTL (milliseconds)."""

    shared = True

    def __init__(self, url: str, *, namespace: str = "naap:snap:") -> None:
        self.namespace = namespace
        self._redis = redis.Redis.from_url(
            check_redis_url(url), socket_connect_timeout=5.0, socket_timeout=5.0
        )

    async def get_many(self, keys: Sequence[str]) -> list[bytes | None]:
        values = await self._redis.mget([self.namespace + key for key in keys])
        return [v.encode() if isinstance(v, str) else v for v in values]

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        await self._redis.set(
            self.namespace + key, value, px=max(1000, int(ttl * 1000))
        )

    async def delete(self, key: str) -> None:
        await self._redis.delete(self.namespace + key)

    async def clear(self) -> None:
        """This store's keys only (never FLUSHDB: the database may be shared)."""
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in self.namespace)
        batch: list[bytes] = []
        async for key in self._redis.scan_iter(match=pattern + "*", count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self._redis.unlink(*batch)
                batch.clear()
        if batch:
            await self._redis.unlink(*batch)

    async def ping(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis.RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._redis.aclose()


# KEYS[1] = lease, ARGV[1] = token, ARGV[2] = lease ms. Only the owner's token counts
# (the push leader's lease in app/live uses the same two).
RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
RELEASE_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('del', KEYS[1])
end
return 0
"""
# A stored result is one marker byte then the payload.
_OK = b"+"
_FAILED = b"-"


class _RedisDown(Exception):
    """Redis failed while coordinating a flight (not inside the work itself)."""


class RedisFlight:
    """Single flight across processes through a Redis lease.

    `lease:{key}` holds the owner's random token for `lease_ms`, renewed every
    `lease_ms / 3` while it works; it stores `result:{key}:{token}` (the bytes, or
    a failure marker) *before* releasing the lease, and only its own token can
    release it. Waiters poll for that result while the lease holds the token; when
    the lease goes away without a result (the owner died, or was cancelled),
    exactly one waiter acquires it and does the work. Callers in one process share
    one `SingleFlight` task per key, so only it talks to Redis. If Redis fails,
    the work is done locally (a warning is logged) rather than failing the request.
    """

    def __init__(
        self,
        url: str,
        *,
        lease_ms: int = 3000,
        poll_interval: float = 0.02,
        result_ttl: float = 30.0,
        namespace: str = "naap:flight:",
        max_wait: float = 120.0,
    ) -> None:
        redis_scheme(url)
        if lease_ms < 30:
            raise ValueError(f"lease_ms must be at least 30, not {lease_ms}")
        if poll_interval <= 0 or result_ttl <= 0 or max_wait <= 0:
            raise ValueError("poll_interval, result_ttl and max_wait must be positive")
        self.stats = FlightStats()
        self.lease_ms = int(lease_ms)
        self.poll_interval = poll_interval
        self.result_ttl_ms = max(1, math.ceil(result_ttl * 1000))
        self.namespace = namespace
        self.max_wait = max_wait
        # Its own pool, bytes responses, bounded socket waits: an unreachable Redis
        # degrades to local work instead of hanging requests.
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=5.0, socket_timeout=5.0
        )
        self._renew = self._redis.register_script(RENEW_LUA)
        self._release = self._redis.register_script(RELEASE_LUA)
        self._local: SingleFlight[bytes] = SingleFlight(cancel_when_abandoned=True)

    def in_flight(self, key: str) -> bool:
        return self._local.in_flight(key)

    def lease_key(self, key: str) -> str:
        return f"{self.namespace}lease:{key}"

    def result_key(self, key: str, token: bytes) -> str:
        return f"{self.namespace}result:{key}:{token.decode()}"

    async def run(self, key: str, work: Callable[[], Awaitable[bytes]]) -> bytes:
        if self._local.in_flight(key):
            self.stats.joined += 1
        return await self._local.run(key, lambda: self._distributed(key, work))

    async def _get(self, name: str) -> bytes | None:
        try:
            value = await self._redis.get(name)
        except RedisError as exc:
            raise _RedisDown from exc
        return value.encode() if isinstance(value, str) else value

    async def _acquire(self, key: str, token: bytes) -> bool:
        try:
            acquired = await self._redis.set(
                self.lease_key(key), token, nx=True, px=self.lease_ms
            )
        except RedisError as exc:
            raise _RedisDown from exc
        return bool(acquired)

    async def _distributed(
        self, key: str, work: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        try:
            return await self._coordinate(key, work)
        except _RedisDown as down:
            log.warning(
                "Redis unavailable for single flight (%r); working on %s without "
                "a lease",
                down.__cause__,
                key,
            )
            self.stats.started += 1
            return await work()

    async def _coordinate(
        self, key: str, work: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        token = uuid.uuid4().hex.encode()
        if await self._acquire(key, token):
            self.stats.started += 1
            return await self._own(key, token, work)
        self.stats.joined += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        lease_key = self.lease_key(key)
        watched: bytes | None = None  # the owner token whose result we wait for
        while True:
            if loop.time() >= deadline:
                raise FlightFailed(
                    f"gave up after {self.max_wait:g} s waiting for another "
                    f"process's work on {key}"
                )
            # Lease first, then result: the owner stores its result before it
            # releases, so a lease seen gone means the result (if any) is visible.
            lease = await self._get(lease_key)
            if watched is not None:
                raw = await self._get(self.result_key(key, watched))
                if raw is not None:
                    return self._outcome(key, raw)
            if lease is None:
                if await self._acquire(key, token):
                    if watched is not None:
                        log.info(
                            "single-flight lease for %s taken over: its owner "
                            "stopped without a result",
                            key,
                        )
                    self.stats.started += 1
                    return await self._own(key, token, work)
                continue  # another waiter won: follow its token
            watched = lease
            await asyncio.sleep(self.poll_interval)

    @staticmethod
    def _outcome(key: str, raw: bytes) -> bytes:
        if raw[:1] == _OK:
            return raw[1:]
        detail = raw[1:].decode(errors="replace") or "an error"
        raise FlightFailed(f"another process's work on {key} failed with {detail}")

    async def _own(
        self, key: str, token: bytes, work: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        renewal = asyncio.create_task(
            self._keep_renewing(key, token), name=f"flight lease {key}"
        )
        try:
            try:
                value = await work()
                if not isinstance(value, bytes):
                    kind = type(value).__name__
                    raise TypeError(f"a flight's work must return bytes, not {kind}")
            except Exception as exc:
                await self._store(key, token, _FAILED + type(exc).__name__.encode())
                raise
            await self._store(key, token, _OK + value)
            return value
        finally:
            renewal.cancel()
            # Shielded: a second cancellation must not leave the lease held.
            await asyncio.shield(self._release_lease(key, token))
            await asyncio.gather(renewal, return_exceptions=True)

    async def _keep_renewing(self, key: str, token: bytes) -> None:
        interval = self.lease_ms / 3000
        lease_key = self.lease_key(key)
        while True:
            await asyncio.sleep(interval)
            try:
                renewed = await self._renew(
                    keys=[lease_key], args=[token, self.lease_ms]
                )
            except RedisError as exc:
                log.warning("could not renew the lease for %s: %r", key, exc)
                continue
            if not renewed:
                log.warning(
                    "single-flight lease for %s lost while working (expired?); "
                    "another process may work on it too",
                    key,
                )
                return

    async def _store(self, key: str, token: bytes, payload: bytes) -> None:
        try:
            await self._redis.set(
                self.result_key(key, token), payload, px=self.result_ttl_ms
            )
        except RedisError as exc:  # waiters will take over and work themselves
            log.warning("could not store the flight result for %s: %r", key, exc)

    async def _release_lease(self, key: str, token: bytes) -> None:
        try:
            await self._release(keys=[self.lease_key(key)], args=[token])
        except RedisError as exc:  # the lease expires on its own
            log.warning("could not release the lease for %s: %r", key, exc)

    async def aclose(self) -> None:
        """Cancel this process's flights (owners release their leases), then close
        the connection pool."""
        await self._local.aclose()
        await self._redis.aclose()
