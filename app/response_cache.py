"""The one cross-request cache: serialised public responses, with SWR and single-flight.

In a paragraph: what is cached is the final bytes of a public read (a REST route's
body, or a GraphQL response whose every root field is public), keyed by a hash of
the surface, the normalised document, the operation name and the canonical
variables, so equivalent requests share an entry and different documents never
collide. Each entry is *fresh* for a while (served as is: `HIT`), then *stale* for
longer (served at once while one background refresh per key replaces it:
`STALE`), then gone. A missing entry is fetched by exactly one caller per key at a
time — across processes too when the flight is Redis's — however many wait
(`MISS`). If the fetch fails and a stale entry exists, the stale entry is served
(RFC 5861 stale-if-error); otherwise the failure is answered and nothing is
stored. Failures and degraded answers are never stored. `refresh=1` skips the
lookup but still joins the in-flight fetch and stores its result. Every lookup is
counted (`naap_cache_requests_total`), and `admit`, when set, may refuse a miss
or a bypass before it starts upstream work (the rate limiter's `upstream` tier).

Entries carry identity and gzip bodies with one strong ETag each, and the time the
data was fetched (for `X-Data-Age`). Storage and single-flight are pluggable
(`app/cache_backends.py`): a bounded in-process LRU by default, Redis when
`CACHE_URL` says so.
"""

from __future__ import annotations

import asyncio
import base64
import contextvars
import gzip
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from app.cache_backends import Flight, FlightFailed
from app.metrics import CACHE_RESULTS

log = logging.getLogger("naap.response_cache")

GZIP_MIN_BYTES = 1024
_HEADER_SEPARATOR = b"\n"


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long an entry is served as fresh, then as stale (seconds)."""

    fresh: float
    stale: float

    @staticmethod
    def strictest(policies: list[Freshness]) -> Freshness:
        return Freshness(
            fresh=min(p.fresh for p in policies), stale=min(p.stale for p in policies)
        )


@dataclass(frozen=True, slots=True)
class Entry:
    """One response as stored: bodies, validators and lifetimes (epoch seconds)."""

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    fetched_at: float
    fresh_until: float
    stale_until: float
    cacheable: bool
    etag: str
    gzip_body: bytes | None = None
    gzip_etag: str | None = None
    # `headers` encoded once, for the hot path.
    raw_headers: tuple[tuple[bytes, bytes], ...] = ()

    def __post_init__(self) -> None:
        if not self.raw_headers:
            encoded = tuple((k.encode(), v.encode()) for k, v in self.headers)
            object.__setattr__(self, "raw_headers", encoded)

    @classmethod
    def build(
        cls,
        *,
        status: int,
        body: bytes,
        headers: Mapping[str, str],
        freshness: Freshness,
        cacheable: bool,
        now: float,
    ) -> Entry:
        gz = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(
            status=status,
            body=body,
            headers=tuple(headers.items()),
            fetched_at=now,
            fresh_until=now + freshness.fresh,
            stale_until=now + freshness.fresh + freshness.stale,
            cacheable=cacheable,
            etag=_etag(body, ""),
            gzip_body=gz,
            gzip_etag=None if gz is None else _etag(gz, "-gz"),
        )

    def to_bytes(self) -> bytes:
        meta = {
            "status": self.status,
            "headers": self.headers,
            "fetched_at": self.fetched_at,
            "fresh_until": self.fresh_until,
            "stale_until": self.stale_until,
            "cacheable": self.cacheable,
            "etag": self.etag,
            "gzip_etag": self.gzip_etag,
            "body_len": len(self.body),
        }
        return b"".join(
            (orjson.dumps(meta), _HEADER_SEPARATOR, self.body, self.gzip_body or b"")
        )

    @classmethod
    def from_bytes(cls, raw: bytes) -> Entry:
        head, _, rest = raw.partition(_HEADER_SEPARATOR)
        meta = orjson.loads(head)
        length = meta["body_len"]
        return cls(
            status=meta["status"],
            body=rest[:length],
            headers=tuple((k, v) for k, v in meta["headers"]),
            fetched_at=meta["fetched_at"],
            fresh_until=meta["fresh_until"],
            stale_until=meta["stale_until"],
            cacheable=meta["cacheable"],
            etag=meta["etag"],
            gzip_body=rest[length:] or None,
            gzip_etag=meta["gzip_etag"],
        )


def _etag(body: bytes, suffix: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest())[:22].decode()
    return f'"{digest}{suffix}"'


def cache_key(
    surface: str, document: str, operation: str | None, variables: Any
) -> str:
    """Hash of what determines a response. `document` must be normalised already."""
    material = orjson.dumps(
        [surface, document, operation or "", variables],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(material).hexdigest()


@dataclass(slots=True)
class CacheStats:
    hit: int = 0
    stale: int = 0
    miss: int = 0
    refreshes: int = 0
    stale_if_error: int = 0


Fetch = Callable[[], Awaitable[Entry]]

# naap_cache_requests_total children, resolved once (the hit path counts too).
_RESULTS = {
    (surface, result): CACHE_RESULTS.labels(surface, result)
    for surface in ("rest", "graphql")
    for result in ("hit", "stale", "miss", "coalesced", "bypass", "error")
}


def _count(surface: str, result: str) -> None:
    child = _RESULTS.get((surface, result))
    if child is None:
        child = _RESULTS[surface, result] = CACHE_RESULTS.labels(surface, result)
    child.inc()


@dataclass(slots=True)
class ResponseCache:
    backend: Any  # an aiocache BaseCache holding Entry bytes (or Entry objects)
    flight: Flight
    clock: Callable[[], float] = time.time
    # In-process backends keep decoded Entry objects: no (de)serialisation on a hit.
    # Shared backends (Redis) keep bytes.
    objects: bool = False
    stats: CacheStats = field(default_factory=CacheStats)
    # Called before a miss or a bypass starts upstream work; raises to refuse it
    # (the rate limiter's `upstream` tier).
    admit: Callable[[], Awaitable[None]] | None = None
    _refreshing: dict[str, asyncio.Task[Any]] = field(default_factory=dict)

    async def get(self, key: str) -> Entry | None:
        try:
            if self.objects:
                # Our own in-process backend: its storage hook directly, skipping
                # aiocache's per-call timeout/plugin/logging layers (~8 µs a hit).
                raw = await self.backend._get(key)
            else:
                raw = await self.backend.get(key)
        except Exception:  # a cache outage must not take the API down
            log.exception("cache read failed")
            return None
        if raw is None or isinstance(raw, Entry):
            return raw
        return Entry.from_bytes(raw)

    async def serve(
        self, key: str, fetch: Fetch, *, bypass: bool = False, surface: str = "rest"
    ) -> tuple[Entry, str]:
        """The response for `key` and its `X-Cache` status: HIT, STALE or MISS.

        `surface` ("rest" or "graphql") labels the naap_cache_requests_total
        result: hit, stale, miss, coalesced (joined another caller's fetch),
        bypass (refresh=1) or error (served stale-if-error, or failed).
        """
        now = self.clock()
        entry = None if bypass else await self.get(key)
        if entry is not None and now < entry.fresh_until:
            self.stats.hit += 1
            _count(surface, "hit")
            return entry, "HIT"
        if entry is not None and now < entry.stale_until:
            self.stats.stale += 1
            _count(surface, "stale")
            self._refresh_in_background(key, fetch)
            return entry, "STALE"
        if self.admit is not None:
            await self.admit()  # may refuse with RateLimited: nothing started yet
        led = False

        async def fetch_led() -> Entry:
            nonlocal led
            led = True
            return await fetch()

        try:
            fetched = await self._fetch_shared(key, fetch_led)
        except FlightFailed:
            fetched = None
        result = "bypass" if bypass else "miss" if led else "coalesced"
        if fetched is not None and fetched.cacheable:
            self.stats.miss += 1
            _count(surface, result)
            return fetched, "MISS"
        # Failed (or degraded): serve what we have, if it is still usable.
        fallback = entry if entry is not None else await self.get(key)
        if fallback is not None and self.clock() < fallback.stale_until:
            self.stats.stale_if_error += 1
            _count(surface, "error")
            return fallback, "STALE"
        self.stats.miss += 1
        if fetched is None:
            _count(surface, "error")
            raise FlightFailed(key)
        _count(surface, result)
        return fetched, "MISS"

    async def _fetch_shared(self, key: str, fetch: Fetch) -> Entry:
        async def fetch_and_store() -> bytes:
            entry = await fetch()
            if entry.cacheable:
                ttl = max(1.0, entry.stale_until - self.clock())
                value = entry if self.objects else entry.to_bytes()
                try:
                    await self.backend.set(key, value, ttl=ttl)
                except Exception:
                    log.exception("cache write failed")
            return entry.to_bytes()

        return Entry.from_bytes(await self.flight.run(key, fetch_and_store))

    def _refresh_in_background(self, key: str, fetch: Fetch) -> None:
        if key in self._refreshing:
            return
        self.stats.refreshes += 1

        async def refresh() -> None:
            try:
                entry = await self._fetch_shared(key, fetch)
                if not entry.cacheable:
                    log.warning("background refresh failed; keeping the stale entry")
            except Exception:
                log.exception("background refresh failed; keeping the stale entry")
            finally:
                self._refreshing.pop(key, None)

        # A fresh context: the refresh must not write into the finished request's
        # per-request state (its upstream memo, its data-source labels).
        task = asyncio.create_task(refresh(), context=contextvars.Context())
        self._refreshing[key] = task

    async def clear(self) -> None:
        await self.backend.clear()

    async def ping(self) -> bool:
        """Whether the backend answers (/readyz): in process it always does."""
        if self.objects:
            return True
        try:
            await self.backend.get("naap:readyz")
        except Exception:
            return False
        return True

    async def drain(self) -> None:
        """Wait for background refreshes (tests and shutdown)."""
        while self._refreshing:
            await asyncio.gather(
                *list(self._refreshing.values()), return_exceptions=True
            )


def with_age(entry: Entry, now: float) -> int:
    return max(0, int(now - entry.fetched_at))


class RawResponse:
    """A minimal ASGI response: pre-encoded headers, one body message.

    The hit path's cost is mostly per-header work, so the cache builds the header
    list itself instead of going through Starlette's `Response`.
    """

    __slots__ = ("body", "headers", "status")

    def __init__(self, status: int, headers: list[tuple[bytes, bytes]], body: bytes):
        self.status = status
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": self.status,
                "headers": self.headers,
            }
        )
        await send({"type": "http.response.body", "body": self.body})


def to_response(
    entry: Entry,
    x_cache: str,
    request_headers: Mapping[str, str],
    *,
    cache_control: str,
    now: float,
) -> RawResponse:
    """The HTTP response for an entry: content negotiation, validators, 304."""
    body, etag, gzipped = select_body(entry, request_headers.get("accept-encoding", ""))
    headers = [
        (b"cache-control", cache_control.encode()),
        (b"etag", etag.encode()),
        (b"x-cache", x_cache.encode()),
        # No `Age`: with max-age=60 browsers would treat fresh answers as expired.
        (b"x-data-age", str(with_age(entry, now)).encode()),
    ]
    if entry.gzip_body is not None:
        headers.append((b"vary", b"Accept-Encoding"))
    if entry.status == 200 and etag_matches(request_headers.get("if-none-match"), etag):
        headers.extend(h for h in entry.raw_headers if h[0] != b"content-type")
        return RawResponse(304, headers, b"")
    headers.extend(entry.raw_headers)
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    return RawResponse(entry.status, headers, body)


def accepts_gzip(accept_encoding: str) -> bool:
    """Accept-Encoding allows gzip (RFC 9110 §12.5.3: `q=0` means "not acceptable")."""
    qualities: dict[str, float] = {}
    for item in accept_encoding.lower().split(","):
        coding, _, params = item.partition(";")
        quality = params.strip().removeprefix("q=").strip() if params else "1"
        try:
            qualities[coding.strip()] = float(quality or "1")
        except ValueError:
            qualities[coding.strip()] = 0.0
    # An explicit `gzip` entry wins over the `*` wildcard.
    return qualities.get("gzip", qualities.get("*", 0.0)) > 0


def select_body(entry: Entry, accept_encoding: str) -> tuple[bytes, str, bool]:
    """(body, etag, gzipped) for the client's Accept-Encoding."""
    use_gzip = entry.gzip_body is not None and accepts_gzip(accept_encoding)
    if use_gzip and entry.gzip_body is not None and entry.gzip_etag is not None:
        return entry.gzip_body, entry.gzip_etag, True
    return entry.body, entry.etag, False


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or etag in candidates


__all__ = [
    "CacheStats",
    "Entry",
    "Freshness",
    "ResponseCache",
    "cache_key",
    "etag_matches",
    "select_body",
    "to_response",
    "with_age",
]
