"""Where snapshots are kept: a bounded in-process LRU, or Redis (`CACHE_URL`).

The memory store holds the decoded objects themselves (no serialisation on a
hit); the Redis store (app/caching/redis_backend.py, imported only when CACHE_URL
is set) holds bytes shared by every worker and replica. Both are bounded (the LRU
by `CACHE_MAX_ENTRIES`, Redis by each entry's TTL).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol
from urllib.parse import urlsplit

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


class Store(Protocol):
    """What the snapshot store needs of a backend: a `MemoryStore`, or with
    CACHE_URL a `RedisStore` (app/caching/redis_backend.py)."""

    shared: bool

    async def get_many(self, keys: Sequence[str]) -> list[Any]: ...

    async def set(self, key: str, value: Any, ttl: float) -> None: ...

    async def delete(self, key: str) -> None: ...

    async def clear(self) -> None: ...

    async def ping(self) -> bool: ...

    async def aclose(self) -> None: ...


def build_store(url: str | None, *, max_entries: int) -> Store:
    """A `MemoryStore` of `max_entries` without `CACHE_URL`; Redis with one."""
    if url is None or not url.strip():
        return MemoryStore(max_entries)
    from app.caching.redis_backend import RedisStore

    return RedisStore(url)
