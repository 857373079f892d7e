"""The per-request context every resolver receives (`info.context`)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TypeVar

from app.cache import UpstreamCache
from app.errors import UpstreamUnavailable
from app.settings import Settings
from app.upstream.analytics import AnalyticsClient
from app.upstream.l1rpc import L1RpcClient
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
    cache: UpstreamCache


@dataclass(slots=True)
class Context:
    services: Services
    # refresh=1 / nocache=1: skip stored upstream results (in-flight calls are
    # still shared).
    bypass_cache: bool = False
    # Optional inputs that failed during this request. A response built without
    # them is served, but must not be cached as if it were complete.
    degraded: list[str] = field(default_factory=list)

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

    async def optional(self, call: Awaitable[T], what: str) -> T | None:
        """Await an enrichment call; on upstream failure log, record, return None."""
        try:
            return await call
        except UpstreamUnavailable as exc:
            _log.warning("degraded: %s unavailable (%s, kind=%s)", what, exc, exc.kind)
            self.degraded.append(what)
            return None
