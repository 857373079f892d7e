"""Automatic persisted queries (Apollo's APQ): documents clients register at run
time by sending their text with its SHA-256, then send the hash alone.

The store is bounded: an LRU of `APQ_MAX_ENTRIES` documents in process, or with
CACHE_URL the snapshot cache's Redis, each key expiring after `APQ_TTL` seconds
(shared by every worker). Only documents of at most `MAX_DOCUMENT` characters are
kept. A Redis failure is logged and reads as a miss: the client sends the text.
"""

from __future__ import annotations

import logging
import time

from app.caching.stores import MemoryStore, Store

log = logging.getLogger("naap.graphql.apq")

MAX_DOCUMENT = 16 * 1024  # characters: what /graphql plans and memoises, too
NAMESPACE = "naap:apq:"
_OUTAGE_LOG_INTERVAL = 60.0  # seconds between two warnings about the store


class AutomaticPersistedQueries:
    """Registered documents by hash, in a bounded store."""

    def __init__(self, store: Store, ttl: float) -> None:
        self.store = store
        self.ttl = ttl
        self._outage_logged = 0.0

    @classmethod
    def build(
        cls, cache_url: str | None, *, max_entries: int, ttl: float
    ) -> AutomaticPersistedQueries:
        if cache_url is None:
            return cls(MemoryStore(max_entries), ttl)
        from app.caching.redis_backend import RedisStore

        return cls(RedisStore(cache_url, namespace=NAMESPACE), ttl)

    def __len__(self) -> int:
        """Documents held in process (a shared store counts nothing here)."""
        return len(self.store) if isinstance(self.store, MemoryStore) else 0

    async def get(self, sha256: str) -> str | None:
        try:
            [value] = await self.store.get_many([sha256])
        except Exception as exc:  # a store outage is a miss, never a 500
            self._log_outage(exc)
            return None
        if isinstance(value, bytes):
            return value.decode("utf-8", errors="replace")
        return value if isinstance(value, str) else None

    async def put(self, sha256: str, document: str) -> bool:
        """Keep `document` under its hash; False when it is too long to keep or the
        store failed."""
        if len(document) > MAX_DOCUMENT:
            return False
        value: str | bytes = document.encode() if self.store.shared else document
        try:
            await self.store.set(sha256, value, self.ttl)
        except Exception as exc:
            self._log_outage(exc)
            return False
        return True

    async def aclose(self) -> None:
        await self.store.aclose()

    def _log_outage(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._outage_logged >= _OUTAGE_LOG_INTERVAL:
            self._outage_logged = now
            log.warning("APQ store failed; treated as a miss (%s)", type(exc).__name__)
