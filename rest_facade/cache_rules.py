"""Cache-Control rules of the REST rows, computed per request from its query.

`shared` names the rows whose answers are public reads through the cached read;
the others are never stored by anyone.
"""

from __future__ import annotations

import math
import re
from typing import Protocol

from starlette.datastructures import QueryParams

from app.caching.policy import (
    DASHBOARD_SUCCESS,
    DASHBOARD_UNAVAILABLE,
    NO_STORE,
    PRIVATE_NO_STORE,
    CachePolicy,
)
from app.jsmath import js_round
from rest_facade.params import first


class CacheRule(Protocol):
    shared: bool  # a public read, through the cached read

    def success(self, query: QueryParams) -> CachePolicy: ...

    def failure(self, query: QueryParams) -> CachePolicy: ...

    def rejected(self, query: QueryParams) -> CachePolicy: ...


class DashboardCache:
    """Public data: an hour at a CDN (a minute in browsers); five seconds for a
    503, so an outage does not stampede the origin."""

    shared: bool = True

    def success(self, query: QueryParams) -> CachePolicy:
        return DASHBOARD_SUCCESS

    def failure(self, query: QueryParams) -> CachePolicy:
        return DASHBOARD_UNAVAILABLE

    def rejected(self, query: QueryParams) -> CachePolicy:
        return NO_STORE


class PrivateCache:
    """Authenticated data: never stored by a CDN, the browser or this server."""

    shared: bool = False

    def success(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE

    def failure(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE

    def rejected(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE


_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")


def js_number(raw: str | None) -> float | None:
    """JavaScript `Number(raw)` for a query value; None for absent, empty or NaN."""
    text = (raw or "").strip()
    if not text:
        return None
    if _HEX.fullmatch(text):
        try:
            return float(int(text, 16))
        except OverflowError:  # Infinity in JavaScript: treated like `1e999`
            return None
    if _DECIMAL.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def poll_seconds(raw: str | None) -> int:
    """The job feed's max-age follows the client's poll interval (1-90 s)."""
    poll_ms = js_number(raw)
    ms = poll_ms if poll_ms is not None and poll_ms >= 1000 else 30000
    return min(90, max(1, js_round(ms / 1000)))


class JobFeedCache:
    """CDN and browser lifetimes follow the client's poll interval (`pollMs`)."""

    shared: bool = True

    def success(self, query: QueryParams) -> CachePolicy:
        poll = poll_seconds(first(query, "pollMs"))
        return CachePolicy.public(poll, poll, min(2 * poll, poll + 3600))

    def failure(self, query: QueryParams) -> CachePolicy:
        poll = poll_seconds(first(query, "pollMs"))
        return CachePolicy.public(0, min(5, max(2, poll // 2)), 0)

    def rejected(self, query: QueryParams) -> CachePolicy:
        return NO_STORE
