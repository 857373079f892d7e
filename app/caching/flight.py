"""Single flight: concurrent callers of one key share one run of the work.

`SingleFlight` is the one in-process implementation (used by the snapshot store
and by the upstream clients for calls in flight). `RedisFlight` adds a Redis lease
on top of it, so that across processes too only one caller per key does the work
and the others read its result.
"""

from __future__ import annotations

import asyncio
import logging
import math
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

import redis.asyncio as redis
from redis.exceptions import RedisError

from app.caching.stores import redis_scheme

log = logging.getLogger("naap.caching.flight")
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


# KEYS[1] = lease, ARGV[1] = token, ARGV[2] = lease ms. Only the owner's token counts.
_RENEW_LUA = """
if redis.call('get', KEYS[1]) == ARGV[1] then
  return redis.call('pexpire', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE_LUA = """
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
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)
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
