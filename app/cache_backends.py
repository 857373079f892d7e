"""Storage and single-flight for the response cache (`app/response_cache.py`).

Storage goes through aiocache's interface, so the response cache is the same code
whichever store is behind it:

- `BoundedMemoryCache` (the default): an in-process LRU (cachetools' `LRUCache`)
  with a per-entry TTL and a hard maximum entry count. aiocache 0.12.3's own memory
  cache has no size bound, so cache-busting requests would grow it forever.
- Redis (`CACHE_URL=redis://host:port/db`): aiocache's `RedisCache`, shared by every
  worker and replica, storing values as raw bytes (`BytesSerializer`: no JSON, no
  utf-8 decoding on the way back).

Single-flight makes one caller fetch a missing entry while the others wait for its
result:

- `MemoryFlight` (the default): one asyncio task per key in this process.
- `RedisFlight`: the same across processes, with a Redis lease (`SET NX PX`) holding
  the owner's random token. The owner renews the lease while it fetches (so a slow
  upstream never lets a second fetch through), stores its result (or a failure
  marker) under a key named after its token *before* releasing the lease, and only
  its own token can release it. Waiters poll for that result while the lease still
  holds the token; when the lease goes away without a result (the owner died or was
  cancelled, and its lease expired or was released), exactly one waiter acquires it
  and fetches. Callers in one process share one task per key, so only one of them
  talks to Redis. If Redis itself fails, the flight degrades to a local fetch (a
  warning is logged) rather than failing the request.

Values are never logged (they are responses); keys are hashes.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import unquote, urlsplit

import redis.asyncio as redis
from aiocache.backends.redis import RedisCache  # type: ignore[import-untyped]
from aiocache.base import BaseCache  # type: ignore[import-untyped]
from aiocache.serializers import BaseSerializer  # type: ignore[import-untyped]
from cachetools import Cache, LRUCache
from redis.exceptions import RedisError

log = logging.getLogger("naap.cache_backends")

CACHE_URL_SCHEMES = ("redis", "rediss")
_NO_EXPIRY = math.inf


# --- storage ---------------------------------------------------------------------


class BytesSerializer(BaseSerializer):  # type: ignore[misc]
    """Identity for bytes: values are stored and returned exactly as given.

    `DEFAULT_ENCODING = None` tells aiocache's Redis backend not to decode what it
    reads (its default would utf-8 decode every value, breaking gzip bodies).
    """

    DEFAULT_ENCODING: str | None = None

    def dumps(self, value: bytes | bytearray | memoryview) -> bytes:
        if isinstance(value, bytes):
            return value
        if isinstance(value, bytearray | memoryview):
            return bytes(value)
        raise TypeError(f"the response cache stores bytes, not {type(value).__name__}")

    def loads(self, value: bytes | None) -> bytes | None:
        return value


# An entry as held by BoundedMemoryCache: (value, absolute deadline on its clock).
_Entry = tuple[Any, float]
# When a full cache takes a new key, expired entries are swept out first (so they
# are what makes room), at most once per this many seconds: amortised O(1).
_SWEEP_INTERVAL = 1.0


class BoundedMemoryCache(BaseCache):  # type: ignore[misc]
    """aiocache interface over a cachetools LRU with per-entry TTL; at most
    `max_entries` entries.

    Past the bound the least recently used entry is evicted; reads refresh recency.
    Expired entries are never returned; they are dropped when touched, and swept
    out before an eviction when the cache is full. A `ttl` of None or 0 means no
    expiry, like aiocache's memory cache. `clock` (monotonic seconds) is injectable
    for tests. Operations never block, so aiocache's per-operation timeout is off
    unless a `timeout` is given.
    """

    NAME = "bounded_memory"

    def __init__(
        self,
        max_entries: int = 10_000,
        *,
        clock: Callable[[], float] = time.monotonic,
        **kwargs: Any,
    ) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        kwargs.setdefault("serializer", BytesSerializer())
        kwargs.setdefault("timeout", None)
        super().__init__(**kwargs)
        self.max_entries = max_entries
        self._clock = clock
        self._store: LRUCache[str, _Entry] = LRUCache(max_entries)
        self._next_sweep = -math.inf

    def __len__(self) -> int:
        """Live (unexpired) entries."""
        self._sweep(self._clock())
        return len(self._store)

    def __repr__(self) -> str:
        return f"BoundedMemoryCache(max_entries={self.max_entries})"

    @classmethod
    def parse_uri_path(cls, path: str) -> dict[str, Any]:
        return {}

    def _live(self, key: str) -> _Entry | None:
        """The unexpired entry for `key` (refreshing its recency), or None."""
        entry = self._store.get(key)
        if entry is not None and entry[1] <= self._clock():
            del self._store[key]
            return None
        return entry

    def _put(
        self, key: str, value: Any, ttl: float | None, now: float | None = None
    ) -> None:
        now = self._clock() if now is None else now
        deadline = now + ttl if ttl else _NO_EXPIRY
        store = self._store
        if deadline <= now:  # already expired (a negative ttl)
            store.pop(key, None)
            return
        if (
            len(store) >= self.max_entries
            and now >= self._next_sweep
            and key not in store
        ):
            self._next_sweep = now + _SWEEP_INTERVAL
            self._sweep(now)
        store[key] = (value, deadline)  # LRUCache evicts past max_entries

    def _sweep(self, now: float) -> None:
        """Drop every expired entry (without touching the others' recency)."""
        peek = Cache.__getitem__  # LRUCache's own would mark each one as used
        store = self._store
        for key in [k for k in store if peek(store, k)[1] <= now]:
            del store[key]

    async def _get(
        self, key: str, encoding: str | None = None, _conn: Any = None
    ) -> Any:
        entry = self._live(key)
        return None if entry is None else entry[0]

    async def _gets(
        self, key: str, encoding: str | None = None, _conn: Any = None
    ) -> Any:
        return await self._get(key, encoding=encoding, _conn=_conn)

    async def _multi_get(
        self, keys: Iterable[str], encoding: str | None = None, _conn: Any = None
    ) -> list[Any]:
        return [await self._get(key) for key in keys]

    async def _set(
        self,
        key: str,
        value: Any,
        ttl: float | None = None,
        _cas_token: Any = None,
        _conn: Any = None,
    ) -> bool | int:
        if _cas_token is not None and _cas_token != await self._get(key):
            return 0
        self._put(key, value, ttl)
        return True

    async def _multi_set(
        self,
        pairs: Iterable[tuple[str, Any]],
        ttl: float | None = None,
        _conn: Any = None,
    ) -> bool:
        now = self._clock()
        for key, value in pairs:
            self._put(key, value, ttl, now)
        return True

    async def _add(
        self, key: str, value: Any, ttl: float | None = None, _conn: Any = None
    ) -> bool:
        if self._live(key) is not None:
            raise ValueError(f"Key {key} already exists, use .set to update the value")
        self._put(key, value, ttl)
        return True

    async def _exists(self, key: str, _conn: Any = None) -> bool:
        return self._live(key) is not None

    async def _increment(self, key: str, delta: int, _conn: Any = None) -> int:
        entry = self._live(key)
        if entry is None:
            number, deadline = delta, _NO_EXPIRY
        else:
            try:
                number = int(entry[0]) + delta
            except (TypeError, ValueError):
                raise TypeError("Value is not an integer") from None
            deadline = entry[1]  # like Redis INCRBY: the TTL is kept
        # Stored as bytes, as Redis would hand it back.
        self._store[key] = (str(number).encode(), deadline)
        return number

    async def _expire(self, key: str, ttl: float, _conn: Any = None) -> bool:
        entry = self._live(key)
        if entry is None:
            return False
        self._put(key, entry[0], ttl)
        return True

    async def _delete(self, key: str, _conn: Any = None) -> int:
        if self._live(key) is None:
            return 0
        del self._store[key]
        return 1

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        if namespace:
            for key in [k for k in self._store if k.startswith(namespace)]:
                del self._store[key]
        else:
            self._store = LRUCache(self.max_entries)
        return True

    async def _raw(
        self, command: str, *args: Any, encoding: str | None = None, **kwargs: Any
    ) -> Any:
        """The command on the underlying `LRUCache` (entries are (value, deadline)
        pairs, expired ones included until they are dropped)."""
        kwargs.pop("_conn", None)
        return getattr(self._store, command)(*args, **kwargs)

    async def _redlock_release(self, key: str, value: Any) -> int:
        entry = self._live(key)
        if entry is not None and entry[0] == value:
            return await self._delete(key)
        return 0


class _RedisBytesCache(RedisCache):  # type: ignore[misc]
    """aiocache's RedisCache, adjusted for this server.

    - Keys are `namespace + key`, as in the memory backend (RedisCache would insert
      a second ':' after a namespace that already ends with one).
    - `clear()` without a namespace clears this cache's namespace (SCAN + UNLINK),
      not the whole Redis database (RedisCache FLUSHDBs).
    - `close()` uses redis-py's `aclose()` (`close()` is deprecated since 5.0.1 and
      warns).
    - `expire()` honours float TTLs (PEXPIRE).
    """

    def _build_key(self, key: Any, namespace: str | None = None) -> str:
        ns = namespace if namespace is not None else self.namespace
        return f"{ns or ''}{getattr(key, 'value', key)}"

    async def _clear(self, namespace: str | None = None, _conn: Any = None) -> bool:
        ns = namespace or self.namespace
        if not ns:
            await self.client.flushdb()
            return True
        pattern = "".join(f"\\{c}" if c in "*?[]\\" else c for c in ns) + "*"
        batch: list[bytes] = []
        async for key in self.client.scan_iter(match=pattern, count=500):
            batch.append(key)
            if len(batch) >= 500:
                await self.client.unlink(*batch)
                batch.clear()
        if batch:
            await self.client.unlink(*batch)
        return True

    async def _expire(self, key: str, ttl: float, _conn: Any = None) -> bool:
        if not ttl:
            return bool(await self.client.persist(key))
        return bool(await self.client.pexpire(key, math.ceil(ttl * 1000)))

    async def _close(self, *args: Any, _conn: Any = None, **kwargs: Any) -> None:
        await self.client.aclose()

    def __repr__(self) -> str:
        return f"RedisCache({self.endpoint}:{self.port}/{self.db})"


def _redis_scheme(url: str, what: str = "CACHE_URL") -> str:
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in CACHE_URL_SCHEMES:
        # Only the scheme: the URL may carry a password.
        raise ValueError(
            f"{what} must be unset (in-process cache) or a redis://host:port/db "
            f"URL; got a URL with scheme {scheme or '(none)'!r}"
        )
    return scheme


def build_cache(
    url: str | None, *, max_entries: int, namespace: str = "naap:rc:"
) -> BaseCache:
    """The response cache's storage for `CACHE_URL`.

    None (or blank) -> a `BoundedMemoryCache` of `max_entries`;
    `redis://[[user]:password@]host[:port][/db]` (or `rediss://` for TLS) -> an
    aiocache `RedisCache` storing raw bytes under `namespace`. Anything else is a
    ValueError naming CACHE_URL.
    """
    if url is None or not url.strip():
        return BoundedMemoryCache(max_entries, namespace=namespace)
    scheme = _redis_scheme(url.strip())
    try:
        parts = urlsplit(url.strip())
        port = parts.port or 6379
        path = parts.path.strip("/")
        db = int(path) if path else 0
    except ValueError:
        raise ValueError(
            "CACHE_URL must look like redis://host:port/db (port and db are numbers)"
        ) from None
    if parts.query or parts.fragment:
        raise ValueError("CACHE_URL: query options are not supported")
    pool_kwargs: dict[str, Any] = {}
    if parts.username:
        pool_kwargs["username"] = unquote(parts.username)
    cache: BaseCache = _RedisBytesCache(
        serializer=BytesSerializer(),
        namespace=namespace,
        endpoint=parts.hostname or "127.0.0.1",
        port=port,
        db=db,
        password=unquote(parts.password) if parts.password else None,
        ssl=scheme == "rediss",
        create_connection_timeout=5.0,
        connection_pool_kwargs=pool_kwargs,
    )
    return cache


# --- single flight -----------------------------------------------------------------


class FlightFailed(Exception):
    """Another process's fetch failed; the caller treats it like its own failure."""


@dataclass
class FlightStats:
    """`started`: fetches this process ran. `joined`: calls that waited for someone
    else's fetch (in this process or another)."""

    started: int = 0
    joined: int = 0


@runtime_checkable
class Flight(Protocol):
    stats: FlightStats

    async def run(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> bytes: ...

    async def aclose(self) -> None: ...


def _retrieve_exception(task: asyncio.Task[Any]) -> None:
    # Mark a failure as seen even when every caller was cancelled before it came.
    if not task.cancelled():
        task.exception()


class MemoryFlight:
    """In-process single flight: one asyncio task per key; concurrent callers await
    it. Shielded, so a cancelled caller never cancels the shared fetch; an exception
    reaches every waiter; nothing is remembered once the fetch completes.

    The fetch runs in its own task, in a copy of the first caller's context.
    """

    def __init__(self) -> None:
        self.stats = FlightStats()
        self._tasks: dict[str, asyncio.Task[bytes]] = {}

    async def run(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        task = self._tasks.get(key)
        if task is None:
            self.stats.started += 1
            task = asyncio.create_task(self._fetch(key, fetch), name=f"flight {key}")
            task.add_done_callback(_retrieve_exception)
            self._tasks[key] = task
        else:
            self.stats.joined += 1
        return await asyncio.shield(task)

    async def _fetch(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        try:
            return await fetch()
        finally:
            # Forget the flight before its result is delivered: a caller arriving
            # after completion starts a new fetch instead of reading an old result.
            if self._tasks.get(key) is asyncio.current_task():
                del self._tasks[key]

    async def aclose(self) -> None:
        tasks = list(self._tasks.values())
        self._tasks.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


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
    """Redis failed while coordinating a flight (not inside the fetch itself)."""


@dataclass(eq=False)
class _LocalFlight:
    task: asyncio.Task[bytes]
    callers: int = 0


class RedisFlight:
    """Single flight across processes through a Redis lease (see the module doc).

    Keys (under `namespace`): `lease:{key}` holds the owner's token for `lease_ms`,
    renewed every `lease_ms / 3` while it fetches; `result:{key}:{token}` holds the
    outcome for `result_ttl` seconds. Waiters poll every `poll_interval` seconds and
    give up with `FlightFailed` after `max_wait` seconds.

    In one process, concurrent callers of a key share one task (only it talks to
    Redis). A caller's cancellation never cancels that task while other callers in
    this process still wait for it; once the last one is cancelled the task is
    cancelled too, and an owner then stops renewing and releases its lease, so a
    waiter elsewhere takes over at once.
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
        _redis_scheme(url)
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
        # Its own pool; bytes responses. Bounded socket waits, so an unreachable
        # Redis degrades to a local fetch instead of hanging requests (options in
        # the URL's query string win).
        self._redis = redis.Redis.from_url(
            url, socket_connect_timeout=5.0, socket_timeout=5.0
        )
        self._renew = self._redis.register_script(_RENEW_LUA)
        self._release = self._redis.register_script(_RELEASE_LUA)
        self._local: dict[str, _LocalFlight] = {}

    def lease_key(self, key: str) -> str:
        return f"{self.namespace}lease:{key}"

    def result_key(self, key: str, token: bytes) -> str:
        return f"{self.namespace}result:{key}:{token.decode()}"

    async def run(self, key: str, fetch: Callable[[], Awaitable[bytes]]) -> bytes:
        local = self._local.get(key)
        if local is None:
            task = asyncio.create_task(
                self._distributed(key, fetch), name=f"flight {key}"
            )
            task.add_done_callback(_retrieve_exception)
            local = _LocalFlight(task)
            self._local[key] = local
            task.add_done_callback(functools.partial(self._forget, key, local))
        else:
            self.stats.joined += 1
        local.callers += 1
        try:
            return await asyncio.shield(local.task)
        finally:
            local.callers -= 1
            if local.callers == 0 and not local.task.done():
                # Nobody here waits any more: stop (an owner releases its lease).
                self._forget(key, local)
                local.task.cancel()

    def _forget(self, key: str, local: _LocalFlight, *_: object) -> None:
        if self._local.get(key) is local:
            del self._local[key]

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
        self, key: str, fetch: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        try:
            return await self._coordinate(key, fetch)
        except _RedisDown as down:
            # Single flight is an optimisation: without Redis, fetch (callers in
            # this process still share this one fetch) rather than fail the request.
            log.warning(
                "Redis unavailable for single flight (%r); fetching %s without a lease",
                down.__cause__,
                key,
            )
            self.stats.started += 1
            return await fetch()

    async def _coordinate(
        self, key: str, fetch: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        token = uuid.uuid4().hex.encode()
        if await self._acquire(key, token):
            self.stats.started += 1
            return await self._own(key, token, fetch)
        self.stats.joined += 1
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.max_wait
        lease_key = self.lease_key(key)
        watched: bytes | None = None  # the owner token whose result we wait for
        while True:
            if loop.time() >= deadline:
                raise FlightFailed(
                    f"gave up after {self.max_wait:g} s waiting for another "
                    f"process's fetch of {key}"
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
                    return await self._own(key, token, fetch)
                continue  # another waiter won: follow its token
            watched = lease
            await asyncio.sleep(self.poll_interval)

    @staticmethod
    def _outcome(key: str, raw: bytes) -> bytes:
        if raw[:1] == _OK:
            return raw[1:]
        detail = raw[1:].decode(errors="replace") or "an error"
        raise FlightFailed(f"another process's fetch of {key} failed with {detail}")

    async def _own(
        self, key: str, token: bytes, fetch: Callable[[], Awaitable[bytes]]
    ) -> bytes:
        renewal = asyncio.create_task(
            self._keep_renewing(key, token), name=f"flight lease {key}"
        )
        try:
            try:
                value = await fetch()
                if not isinstance(value, bytes):
                    kind = type(value).__name__
                    raise TypeError(f"a flight's fetch must return bytes, not {kind}")
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
                    "single-flight lease for %s lost while fetching (expired?); "
                    "another process may fetch too",
                    key,
                )
                return

    async def _store(self, key: str, token: bytes, payload: bytes) -> None:
        try:
            await self._redis.set(
                self.result_key(key, token), payload, px=self.result_ttl_ms
            )
        except RedisError as exc:  # waiters will take over and fetch themselves
            log.warning("could not store the flight result for %s: %r", key, exc)

    async def _release_lease(self, key: str, token: bytes) -> None:
        try:
            await self._release(keys=[self.lease_key(key)], args=[token])
        except RedisError as exc:  # the lease expires on its own
            log.warning("could not release the lease for %s: %r", key, exc)

    async def aclose(self) -> None:
        """Cancel this process's flights (owners release their leases), then close
        the connection pool."""
        tasks = [local.task for local in self._local.values()]
        self._local.clear()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self._redis.aclose()


def build_flight(url: str | None) -> Flight:
    """`MemoryFlight` without `CACHE_URL`; `RedisFlight` for a redis:// URL."""
    if url is None or not url.strip():
        return MemoryFlight()
    _redis_scheme(url.strip())
    return RedisFlight(url.strip())


__all__ = [
    "BoundedMemoryCache",
    "BytesSerializer",
    "Flight",
    "FlightFailed",
    "FlightStats",
    "MemoryFlight",
    "RedisFlight",
    "build_cache",
    "build_flight",
]
