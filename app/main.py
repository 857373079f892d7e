"""The composition root: `create_app(settings=None) -> Starlette`.

Builds the upstream clients (real URLs, or the built-in simulator in-process),
the schema, `/graphql` (with self-hosted GraphiQL), the REST facade's routes from
its table, and the plain routes. Settings are read here, never at import time:
`uvicorn --factory app.main:create_app`.
"""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import strawberry
from aiocache.serializers import NullSerializer  # type: ignore[import-untyped]
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from app.auth import TokenVerifier
from app.cache import UpstreamCache
from app.cache_backends import (
    BoundedMemoryCache,
    MemoryFlight,
    build_cache,
    build_flight,
)
from app.context import Services
from app.db import Database
from app.developer.crypto import SecretBox
from app.edge.cors import CorsMiddleware
from app.edge.logs import configure_logging
from app.edge.middleware import ObservabilityMiddleware
from app.graphql.endpoint import CachedGraphQL, StrawberryApp
from app.graphql.labels import OperationLabels
from app.graphql.limits import limits_extension
from app.metrics import READINESS
from app.ratelimit import RateLimiter
from app.response_cache import Freshness, ResponseCache
from app.schema import build_schema
from app.settings import OAuthProvider, Settings, load_settings
from app.upstream._http import JsonTransport
from app.upstream.analytics import AnalyticsClient
from app.upstream.breaker import CircuitBreaker
from app.upstream.l1rpc import L1RpcClient
from app.upstream.oauth import OAuthClient, ProviderEndpoints
from app.upstream.subgraph import SubgraphClient
from rest_facade.envelope import json_response
from rest_facade.handler import build_routes
from rest_facade.pages import plain_routes
from rest_facade.refusals import error_body

log = logging.getLogger("naap")

ROOT = Path(__file__).resolve().parent.parent
GRAPHIQL_ASSETS = ROOT / "var" / "graphiql"
GRAPHIQL_ASSETS_PATH = "/graphql/assets/"
SIMULATOR_BASE = "http://simulator"
SIMULATOR_MOUNT = "/_sim"
# The catalog's providers; each needs OAuth endpoints (settings, or the simulator).
SEEDED_PROVIDERS = ("daydream", "pymthouse")

DEFAULT_QUERY = """\
# The Network Overview in one request. Try changing timeframe, or Ctrl+Space.
query Overview($timeframe: String = "24") {
  kpi(timeframe: $timeframe) {
    successRate { value delta }
    dailySessionCount { value delta }
    timeframeHours
  }
  pipelines(limit: 5, timeframe: $timeframe) { name sessions mins avgFps color }
  protocol { currentRound blockProgress totalBlocks totalStakedLPT }
  jobFeed(limit: 5) { streams { id pipeline status runningFor } queryFailed }
}
"""


def build_services(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    simulator: ASGIApp | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Services:
    """One client per upstream. An unset URL means the simulator, in process.

    `transports` (keys "analytics", "subgraph", "l1-rpc") replaces the network for
    tests; `simulator` replaces the default simulator app (e.g. one with faults).
    """
    now = clock or (lambda: datetime.now(UTC))
    cache = UpstreamCache(max_entries=settings.upstream_cache_max_entries)
    sim_app = simulator
    transports = dict(transports or {})

    def simulator_app() -> ASGIApp:
        nonlocal sim_app
        if sim_app is None:
            sim_app = _simulator().create_simulator(
                seed=settings.simulator_seed, clock=now
            )
        return sim_app

    def http(
        name: str, url: str | None, sim_path: str, timeout: float
    ) -> JsonTransport:
        transport = transports.get(name)
        simulated = url is None
        if url is None:
            url = SIMULATOR_BASE + sim_path
            transport = transport or httpx.ASGITransport(app=simulator_app())
        return JsonTransport(
            name=name,
            base_url=url,
            timeout=timeout,
            connect_timeout=settings.upstream_connect_timeout,
            cache=cache,
            transport=transport,
            simulated=simulated,
            deadline=settings.request_deadline,
            retries=settings.upstream_retries,
            breaker=CircuitBreaker(
                name, failures=settings.breaker_failures, reset=settings.breaker_reset
            ),
        )

    ttl = settings.upstream_cache_ttl
    limiter = RateLimiter(settings)
    responses = _response_cache(settings)
    responses.admit = limiter.admit_upstream
    return Services(
        settings=settings,
        analytics=AnalyticsClient(
            http(
                "analytics",
                settings.naap_api_server_url,
                "/v1",
                settings.analytics_timeout,
            ),
            ttl=ttl,
            job_feed_ttl=settings.job_feed_cache_ttl,
        ),
        subgraph=SubgraphClient(
            http(
                "subgraph",
                settings.subgraph_url,
                "/subgraph",
                settings.subgraph_timeout,
            ),
            ttl=ttl,
        ),
        l1=L1RpcClient(
            http("l1-rpc", settings.l1_rpc_url, "/rpc", settings.l1_rpc_timeout),
            ttl=ttl,
        ),
        now=now,
        cache=cache,
        db=Database(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms),
        verifier=TokenVerifier(settings, transport=transports.get("jwks")),
        oauth=OAuthClient(
            _oauth_providers(settings),
            timeout=settings.oauth_timeout,
            transport=transports.get("oauth"),
            simulator_transport=transports.get("oauth")
            or httpx.ASGITransport(app=simulator_app()),
        ),
        box=SecretBox(settings.app_secret),
        limiter=limiter,
        responses=responses,
        freshness={
            "dashboard": Freshness(settings.dashboard_fresh, settings.dashboard_stale),
            "job_feed": Freshness(settings.job_feed_fresh, settings.job_feed_stale),
        },
        simulator=sim_app,
    )


def _simulator() -> Any:
    """The simulator package, imported here only, and only when something is
    simulated: production never loads it."""
    import simulator

    return simulator


def _response_cache(settings: Settings) -> ResponseCache:
    """Redis (shared by workers and replicas) when CACHE_URL says so; otherwise a
    bounded in-process LRU that keeps decoded entries (no serialisation on a hit)."""
    if settings.cache_url is None:
        backend = BoundedMemoryCache(
            settings.cache_max_entries, serializer=NullSerializer()
        )
        return ResponseCache(backend=backend, flight=MemoryFlight(), objects=True)
    return ResponseCache(
        backend=build_cache(settings.cache_url, max_entries=settings.cache_max_entries),
        flight=build_flight(settings.cache_url),
    )


def _oauth_providers(settings: Settings) -> dict[str, ProviderEndpoints]:
    """Configured providers; in development the simulator stands in for the rest.

    The simulated provider's authorize page is served under /_sim on this server
    (a browser must reach it); its token endpoint is reached in process.
    """
    providers = {
        slug: ProviderEndpoints(config, simulated=False)
        for slug, config in settings.oauth_providers.items()
    }
    if settings.app_env != "development":
        return providers
    base = settings.public_base_url.rstrip("/")
    clients = _simulator().DEFAULT_OAUTH_CLIENTS
    for slug in SEEDED_PROVIDERS:
        if slug in providers or slug not in clients:
            continue
        client_id, client_secret = clients[slug]
        providers[slug] = ProviderEndpoints(
            OAuthProvider(
                authorize_url=f"{base}{SIMULATOR_MOUNT}/oauth/{slug}/authorize",
                token_url=f"{SIMULATOR_BASE}/oauth/{slug}/token",
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=f"{base}/api/v1/auth/providers/{slug}/callback",
            ),
            simulated=True,
        )
    return providers


async def _http_error(request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    code = codes.get(exc.status_code, "BAD_REQUEST")
    return json_response(
        {"error": {"code": code, "message": str(exc.detail)}},
        exc.status_code,
        dict(exc.headers or {}),
    )


def create_app(
    settings: Settings | None = None,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    simulator: ASGIApp | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Starlette:
    settings = settings or load_settings()
    settings.check_production()
    _configure_logging(settings)
    services = build_services(
        settings, transports=transports, simulator=simulator, clock=clock
    )
    schema = build_schema([limits_extension(settings)])
    graphql_app = CachedGraphQL(
        StrawberryApp(
            schema,
            services,
            assets_dir=GRAPHIQL_ASSETS,
            assets_path=GRAPHIQL_ASSETS_PATH,
            default_query=DEFAULT_QUERY,
        ),
        schema,
        services,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        simulated = settings.simulated_upstreams
        log.info(
            "naap-api ready (env=%s, simulated upstreams: %s)",
            settings.app_env,
            ", ".join(simulated) or "none",
        )
        # Everything built so far (schema, simulator world, clients) lives as long
        # as the process: keep it out of the collector's way, so the hot path's
        # young garbage is collected without walking a large old heap.
        gc.collect()
        gc.freeze()
        services.ready = True
        READINESS.labels("started").set(1)
        try:
            yield
        finally:
            services.ready = False
            READINESS.labels("started").set(0)
            # Background refreshes use the clients: let them finish, within the
            # same SHUTDOWN_TIMEOUT that uvicorn gave in-flight requests (make run).
            try:
                async with asyncio.timeout(settings.shutdown_timeout):
                    await services.responses.drain()
            except TimeoutError:  # cancelling drain's gather cancels the refreshes
                log.warning("shutdown: background cache refreshes cancelled")
            for client in (
                services.analytics,
                services.subgraph,
                services.l1,
                services.verifier,
                services.oauth,
                services.db,
                services.responses.flight,
                services.limiter,
            ):
                await client.aclose()
            await services.responses.backend.close()

    rest_routes = build_routes(schema, services)
    graphql_route = Route("/graphql", graphql_app, methods=["GET", "POST"])
    routes: list[BaseRoute] = [
        *rest_routes,
        *plain_routes(services),
        Mount(
            GRAPHIQL_ASSETS_PATH.rstrip("/"),
            StaticFiles(directory=GRAPHIQL_ASSETS, check_dir=False),
        ),
        graphql_route,
    ]
    if services.simulator is not None and any(
        e.simulated for e in services.oauth.providers.values()
    ):
        # Development: the simulated provider's authorize page, for real browsers.
        routes.append(Mount(SIMULATOR_MOUNT, app=services.simulator))
    app = Starlette(
        routes=routes,
        lifespan=lifespan,
        exception_handlers={HTTPException: _http_error},
        middleware=[
            # Outside the edge, so its refusals carry CORS headers a browser can read.
            Middleware(CorsMiddleware, allowed_origins=settings.cors_origins),
            # One pass per request (app/edge/middleware.py): request id, security
            # headers, size caps, the public rate limit, the upstream deadline,
            # metrics and the access log.
            Middleware(
                ObservabilityMiddleware,
                settings=settings,
                limiter=services.limiter,
                error_body=error_body,
                graphql_label=OperationLabels(_root_fields(schema)),
                deadline=settings.request_deadline,
                static_routes=_static_routes([*rest_routes, graphql_route]),
            ),
        ],
    )
    app.state.services = services
    app.state.schema = schema
    return app


def _static_routes(rest_routes: list[Route]) -> dict[str, Route]:
    """Routes without path parameters (the REST rows', and /graphql), by path:
    the edge middleware dispatches them itself (the hot paths); everything else
    goes through the router."""
    return {route.path: route for route in rest_routes if "{" not in route.path}


def _configure_logging(settings: Settings) -> None:
    """JSON lines (LOG_FORMAT=json) or readable ones (console) for our loggers;
    `naap.access` writes one line per request at INFO."""
    configure_logging(settings.log_level, settings.log_format, ("naap",))


def _root_fields(schema: strawberry.Schema) -> dict[str, frozenset[str]]:
    """The schema's root field names by operation type: GraphQL metric labels."""
    roots = {
        "query": schema._schema.query_type,
        "mutation": schema._schema.mutation_type,
    }
    return {kind: frozenset(t.fields) for kind, t in roots.items() if t is not None}
