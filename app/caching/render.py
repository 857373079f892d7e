"""Rendered answers: bodies with their validators, a memo of them, and the HTTP
response built from one (content negotiation, ETag/304, X-Cache, X-Data-Age).

A rendered body is a pure function of its request's shape and the versions of the
snapshots it was built from, so the memo keeps it under exactly that pair: it can
never be older than the data.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from typing import Any

import orjson
from cachetools import LRUCache

GZIP_MIN_BYTES = 1024
RENDER_MEMO_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Entry:
    """One rendered answer: status, identity and gzip bodies with a strong ETag
    each, and its headers encoded once for the hot path."""

    status: int
    body: bytes
    etag: str
    gzip_body: bytes | None
    gzip_etag: str | None
    raw_headers: tuple[tuple[bytes, bytes], ...]

    @classmethod
    def build(
        cls, status: int, body: bytes, content_type: str = "application/json"
    ) -> Entry:
        gz = gzip.compress(body, 6, mtime=0) if len(body) >= GZIP_MIN_BYTES else None
        return cls(
            status=status,
            body=body,
            etag=_etag(body, ""),
            gzip_body=gz,
            gzip_etag=None if gz is None else _etag(gz, "-gz"),
            raw_headers=((b"content-type", content_type.encode()),),
        )

    @property
    def size(self) -> int:
        return len(self.body) + len(self.gzip_body or b"") + 200


def render_key(
    surface: str, document: str, operation: str | None, variables: Any
) -> str:
    """A hash of what shapes an answer besides its snapshots: the surface, the
    normalised document, the operation and the canonical variables."""
    material = orjson.dumps(
        [surface, document, operation or "", variables],
        option=orjson.OPT_SORT_KEYS | orjson.OPT_NON_STR_KEYS,
    )
    return hashlib.sha256(material).hexdigest()


def _etag(body: bytes, suffix: str) -> str:
    digest = base64.urlsafe_b64encode(hashlib.sha256(body).digest())[:22].decode()
    return f'"{digest}{suffix}"'


class RenderMemo:
    """Rendered entries by (request shape, snapshot versions); least recently used
    out first, at most `max_bytes` of bodies in all."""

    def __init__(self, max_bytes: int = RENDER_MEMO_BYTES) -> None:
        self._entries: LRUCache[Hashable, Entry] = LRUCache(
            max_bytes, getsizeof=lambda entry: entry.size
        )

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, key: Hashable) -> Entry | None:
        return self._entries.get(key)

    def put(self, key: Hashable, entry: Entry) -> None:
        if entry.size <= self._entries.maxsize:
            self._entries[key] = entry

    def clear(self) -> None:
        self._entries.clear()


class RawResponse:
    """A minimal ASGI response: pre-encoded headers, one body message. The hit
    path's cost is mostly per-header work, so the header list is built here
    rather than through Starlette's `Response` (a bypass kept because it
    measures: BENCHMARKS.md, "Library bypasses")."""

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
    request_headers: Iterable[tuple[bytes, bytes]],
    *,
    cache_control: str,
    age: int,
) -> RawResponse:
    """The HTTP response for an entry (`request_headers` as the ASGI scope has
    them): content negotiation, validators, 304."""
    accept_encoding = if_none_match = None
    for name, value in request_headers:
        if name == b"accept-encoding":
            accept_encoding = value
        elif name == b"if-none-match":
            if_none_match = value
    body, etag, gzipped = select_body(
        entry, accept_encoding.decode("latin-1") if accept_encoding else ""
    )
    headers = [
        (b"cache-control", cache_control.encode()),
        (b"etag", etag.encode()),
        (b"x-cache", x_cache.encode()),
        # No `Age`: with max-age=60 browsers would treat fresh answers as expired.
        (b"x-data-age", str(age).encode()),
    ]
    if entry.gzip_body is not None:
        headers.append((b"vary", b"Accept-Encoding"))
    if entry.status == 200 and if_none_match is not None:
        not_modified = etag_matches(if_none_match.decode("latin-1"), etag)
    else:
        not_modified = False
    if not_modified:
        headers.extend(h for h in entry.raw_headers if h[0] != b"content-type")
        return RawResponse(304, headers, b"")
    headers.extend(entry.raw_headers)
    if gzipped:
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    return RawResponse(entry.status, headers, body)


@functools.lru_cache(maxsize=256)
def accepts_gzip(accept_encoding: str) -> bool:
    """Accept-Encoding allows gzip (`q=0` means "not acceptable")."""
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
    gzip_body, gzip_etag = entry.gzip_body, entry.gzip_etag
    if gzip_body is None or gzip_etag is None or not accepts_gzip(accept_encoding):
        return entry.body, entry.etag, False
    return gzip_body, gzip_etag, True


def etag_matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    candidates = {c.strip().removeprefix("W/") for c in if_none_match.split(",")}
    return "*" in candidates or etag in candidates
