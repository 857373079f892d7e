"""The per-request context every resolver receives (`info.context`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from starlette.requests import HTTPConnection

from app.auth import (
    CSRF_COOKIE,
    CSRF_HEADER,
    MISSING_TOKEN_MESSAGE,
    Credentials,
    Principal,
    TokenVerifier,
    credentials_from,
    csrf_matches,
    user_hash,
)
from app.caching.read import CachedReads, Found
from app.caching.snapshots import Need, Snapshots, SnapshotSpec
from app.db import Database
from app.developer.crypto import SecretBox
from app.errors import Forbidden, Unauthenticated, UpstreamUnavailable
from app.live.capacity import StreamSlots
from app.live.hub import FeedHub
from app.provenance import mark_source
from app.ratelimit import RateLimiter
from app.settings import Settings
from app.upstream.analytics import AnalyticsClient
from app.upstream.l1rpc import L1RpcClient
from app.upstream.oauth import OAuthClient
from app.upstream.subgraph import SubgraphClient

T = TypeVar("T")
_log = logging.getLogger("naap.context")


@dataclass(slots=True)
class Services:
    """Long-lived objects built once in the app's lifespan."""

    settings: Settings
    analytics: AnalyticsClient
    subgraph: SubgraphClient
    l1: L1RpcClient
    now: Callable[[], datetime]
    db: Database
    verifier: TokenVerifier
    oauth: OAuthClient
    box: SecretBox
    limiter: RateLimiter
    snapshots: Snapshots
    reads: CachedReads
    live: FeedHub  # the job feed's push hub (SSE and GraphQL subscriptions)
    streams: StreamSlots  # long-lived connections open, against their cap
    simulator: Any = None  # the in-process simulator app, when one is in use
    ready: bool = False  # set once the lifespan's startup has finished (/readyz)


@dataclass(slots=True)
class Context:
    services: Services
    # The snapshots a planned read prepared (app/caching/read.py), by key; a
    # resolver asking for another one reads the store itself.
    found: Found | None = None
    # Optional inputs that failed during this request. A response built without
    # them is served, but must not be cached as if it were complete.
    degraded: list[str] = field(default_factory=list)
    # Who is asking: read from the request, verified only when a field needs it.
    credentials: Credentials | None = None
    csrf_header: str | None = None
    csrf_cookie: str | None = None
    # The request's ASGI state: the edge middleware's request id (masked errors
    # name it) is read from it, and the user hash (for the access log) written to it.
    request_state: dict[str, Any] | None = None
    # Whether the persisted-operation policy judges this execution's document: a
    # /graphql request Strawberry runs. (The /graphql front judges the queries it
    # answers from the cache itself; REST rows run registered operations.)
    persisted_policy: bool = False
    _principal: Principal | None = None
    _write_counted: bool = False

    @classmethod
    def for_request(
        cls, services: Services, conn: HTTPConnection, *, found: Found | None = None
    ) -> Context:
        return cls(
            services=services,
            found=found,
            credentials=credentials_from(conn.headers, conn.cookies),
            csrf_header=conn.headers.get(CSRF_HEADER),
            csrf_cookie=conn.cookies.get(CSRF_COOKIE),
            request_state=conn.scope.get("state"),
        )

    @property
    def request_id(self) -> str | None:
        state = self.request_state
        return state.get("request_id") if state is not None else None

    async def user(self, *, write: bool = False) -> Principal:
        """The verified caller. `write=True` for state changes: a cookie-authenticated
        request must then carry the CSRF token (double submit); bearer tokens need
        none, since a browser never attaches them on its own.

        Checked in this order: no token -> 401, CSRF -> 403, bad token -> 401,
        so an anonymous client cannot probe the CSRF check.
        A write also counts once per request against the user's `write` rate
        limit (429 when spent).
        """
        if self.credentials is None:
            raise Unauthenticated(MISSING_TOKEN_MESSAGE)
        if (
            write
            and self.credentials.from_cookie
            and not csrf_matches(self.csrf_header, self.csrf_cookie)
        ):
            raise Forbidden("Invalid CSRF token")
        if self._principal is None:
            self._principal = await self.services.verifier.verify(
                self.credentials.token
            )
            if self.request_state is not None:
                self.request_state["user_hash"] = user_hash(self._principal.sub)
        if write and not self._write_counted:
            self._write_counted = True
            await self.services.limiter.hit("write", self._principal.sub)
        return self._principal

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def analytics(self) -> AnalyticsClient:
        return self.services.analytics

    @property
    def subgraph(self) -> SubgraphClient:
        return self.services.subgraph

    @property
    def l1(self) -> L1RpcClient:
        return self.services.l1

    def now(self) -> datetime:
        return self.services.now()

    async def snapshot(self, spec: SnapshotSpec, args: Any) -> Any:
        """The value of the snapshot `spec` for canonical `args`: the one the
        planned read prepared, else the store's (loaded if missing)."""
        need = Need.of(spec, args)
        found = self.found.get(need.key) if self.found is not None else None
        if found is None:
            found = await self.services.snapshots.read(need)
            if found.simulated:
                mark_source("simulator")
        elif isinstance(found, Exception):
            raise found
        if found.degraded:
            self.degraded.append(spec.name)
        return found.value

    async def optional(self, call: Awaitable[T], what: str) -> T | None:
        """Await an enrichment call; on upstream failure log, record, return None."""
        try:
            return await call
        except UpstreamUnavailable as exc:
            _log.warning("degraded: %s unavailable (%s, kind=%s)", what, exc, exc.kind)
            self.degraded.append(what)
            return None
