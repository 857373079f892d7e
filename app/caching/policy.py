"""What clients and CDNs may do with an answer (Cache-Control), and how long this
server keeps data fresh, then usable stale."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """A response's Cache-Control header, for CDNs and browsers."""

    header: str

    @classmethod
    def public(cls, max_age: int, s_maxage: int, swr: int) -> CachePolicy:
        return cls(
            f"public, max-age={max_age}, s-maxage={s_maxage}, "
            f"stale-while-revalidate={swr}"
        )


@dataclass(frozen=True, slots=True)
class Freshness:
    """How long a snapshot is served as fresh, then as stale (seconds)."""

    fresh: float
    stale: float


# Dashboard data: an hour at the CDN (a minute in browsers), while this server
# refreshes it every minute.
DASHBOARD_SUCCESS = CachePolicy.public(60, 3600, 7200)
# 503s: a CDN may hold them briefly so an outage does not stampede the origin.
DASHBOARD_UNAVAILABLE = CachePolicy.public(0, 5, 0)
JOB_FEED_SUCCESS = CachePolicy.public(5, 5, 10)
NO_STORE = CachePolicy("no-store")
PRIVATE_NO_STORE = CachePolicy("private, no-store")
