"""Where snapshots are kept: a bounded in-process LRU, or Redis (`CACHE_URL`).

The memory store holds the decoded objects themselves (no serialisation on a
hit); the Redis store holds bytes shared by every worker and replica. Both are
bounded (the LRU by `CACHE_MAX_ENTRIES`, Redis by each entry's TTL). Redis is
reached through redis-py directly: the lease of `RedisFlight` needs it anyway, and
one client through its public API is simpler than a cache framework around it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from urllib.parse import urlsplit

import redis.asyncio as redis
from cachetools import LRUCache

REDIS_SCHEMES = ("redis", "rediss")


def redis_scheme(url: str, what: str = "CACHE_URL") -> str:
    """The URL's scheme when it is redis:// or rediss://; else a ValueError that
    names the setting (and never the URL, which may carry a password)."""
    scheme = url.split("://", 1)[0].lower() if "://" in url else ""
    if scheme not in REDIS_SCHEMES:
        raise ValueError(
            f"{what} must be unset (in-process cache) or a redis://host:port/db "
            f"URL; got a URL with scheme {scheme or '(none)'!r}"
        )
    return scheme


def check_redis_url(url: str, what: str = "CACHE_URL") -> str:
    """`url`, stripped, once it is a redis URL redis-py will read as meant."""
    url = url.strip()
    redis_scheme(url, what)
    try:
        parts = urlsplit(url)
        _ = parts.port
        path = parts.path.strip("/")
        if path:
            int(path)
    except ValueError:
        raise ValueError(
            f"{what} must look like redis://host:port/db (port and db are numbers)"
        ) from None
    if parts.query or parts.fragment:
        raise ValueError(f"{what}: query options are not supported")
    return url


class MemoryStore:
    """At most `max_entries` values in this process; the least recently used
    goes first. Values are kept as given (the snapshot store checks expiry)."""

    shared = False

    def __init__(self, max_entries: int = 10_000) -> None:
        if max_entries < 1:
            raise ValueError(f"max_entries must be at least 1, not {max_entries}")
        self.max_entries = max_entries
        self._entries: LRUCache[str, Any] = LRUCache(max_entries)

    def __len__(self) -> int:
        return len(self._entries)

    async def get_many(self, keys: Sequence[str]) -> list[Any]:
        entries = self._entries
        return [entries.get(key) for key in keys]

    async def set(self, key: str, value: Any, ttl: float) -> None:
        del ttl  # bounded by count; the snapshot store drops expired values
        self._entries[key] = value

    async def delete(self, key: str) -> None:
        self._entries.pop(key, None)

    async def clear(self) -> None:
        self._entries.clear()

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


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


Store = MemoryStore | RedisStore


def build_store(url: str | None, *, max_entries: int) -> Store:
    """A `MemoryStore` of `max_entries` without `CACHE_URL`; Redis with one."""
    if url is None or not url.strip():
        return MemoryStore(max_entries)
    return RedisStore(url)
