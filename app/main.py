"""The composition root: `create_app(settings=None) -> Starlette`.

Builds the services (one client per upstream: a real URL, or the simulator in
process), the schema with its limits, `/graphql`, the routes of the REST table and
the plain-route table, the edge middleware and the lifespan. Settings are read
here, never at import time: `uvicorn --factory app.main:create_app`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import strawberry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from app.auth import TokenVerifier
from app.caching.flight import Flight, SingleFlight
from app.caching.policy import Freshness
from app.caching.read import CachedReads
from app.caching.snapshots import Snapshot, Snapshots
from app.caching.stores import build_store
from app.context import Context, Services
from app.db import Database
from app.developer.crypto import SecretBox
from app.edge.cors import CorsMiddleware
from app.edge.logs import configure_logging
from app.edge.middleware import ObservabilityMiddleware
from app.graphql.apq import AutomaticPersistedQueries
from app.graphql.endpoint import GraphQLEndpoint
from app.graphql.graphiql import DEFAULT_QUERY, ENFORCED_NOTICE
from app.graphql.labels import OperationLabels
from app.graphql.limits import Limits, limits_extension
from app.graphql.persisted import Registry
from app.graphql.policy import PersistedOperations, Policy
from app.lifespan import server_lifespan
from app.live.capacity import StreamSlots
from app.live.hub import FeedHub, Relay
from app.ratelimit import RateLimiter
from app.schema import build_schema, graphql_schema
from app.settings import Settings, load_settings
from app.upstream._http import JsonTransport
from app.upstream.analytics import AnalyticsClient
from app.upstream.breaker import CircuitBreaker
from app.upstream.l1rpc import L1RpcClient
from app.upstream.oauth import OAuthClient, provider_endpoints
from app.upstream.subgraph import SubgraphClient
from app.web.site import STATIC as WEB_STATIC
from app.web.site import WebSite
from rest_facade.docs import ASSETS_DIR as DOCS_ASSETS
from rest_facade.envelope import json_response
from rest_facade.handler import build_routes
from rest_facade.job_stream import JobFeedReader
from rest_facade.plain import UNLIMITED_PATHS, plain_routes
from rest_facade.prepare import OPERATIONS_DIR
from rest_facade.refusals import error_body, family_envelope

log = logging.getLogger("naap")

ROOT = Path(__file__).resolve().parent.parent
# The npm assets `make install` fetches (GraphiQL's, and uPlot for the landing page).
GRAPHIQL_ASSETS = ROOT / "var" / "graphiql"
GRAPHIQL_ASSETS_PATH = "/graphql/assets/"
DOCS_VENDOR = ROOT / "var" / "docs"
SIMULATOR_BASE = "http://simulator"
SIMULATOR_MOUNT = "/_sim"
# The seeded catalog's providers; each needs OAuth endpoints (settings, or in
# development the simulator's).
SEEDED_PROVIDERS = ("daydream", "pymthouse")


def _simulator() -> Any:
    """The simulator package. The one place production code imports it, and only
    when something is simulated: a server with real upstreams never loads it."""
    import simulator

    return simulator


def build_services(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    simulator: ASGIApp | None = None,
    clock: Callable[[], datetime] | None = None,
) -> Services:
    """One client per upstream. An unset URL means the simulator, in process.

    `transports` (keys "analytics", "subgraph", "l1-rpc", "jwks", "oauth")
    replaces the network for tests; `simulator` replaces the default simulator
    app (e.g. one with faults).
    """
    now = clock or (lambda: datetime.now(UTC))
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
            transport=transport,
            simulated=simulated,
            deadline=settings.request_deadline,
            retries=settings.upstream_retries,
            breaker=CircuitBreaker(
                name, failures=settings.breaker_failures, reset=settings.breaker_reset
            ),
        )

    providers = provider_endpoints(
        settings,
        simulated_clients=_simulated_oauth_clients(settings),
        simulator_authorize=settings.public_base_url.rstrip("/") + SIMULATOR_MOUNT,
        simulator_token=SIMULATOR_BASE,
    )
    simulated_oauth = any(p.simulated for p in providers.values())
    limiter = RateLimiter(settings)
    snapshots = _snapshots(settings)
    services = Services(
        settings=settings,
        analytics=AnalyticsClient(
            http(
                "analytics",
                settings.naap_api_server_url,
                "/v1",
                settings.analytics_timeout,
            )
        ),
        subgraph=SubgraphClient(
            http(
                "subgraph",
                settings.subgraph_url,
                "/subgraph",
                settings.subgraph_timeout,
            )
        ),
        l1=L1RpcClient(
            http("l1-rpc", settings.l1_rpc_url, "/rpc", settings.l1_rpc_timeout)
        ),
        now=now,
        db=Database(settings.database_url, busy_timeout_ms=settings.db_busy_timeout_ms),
        verifier=TokenVerifier(settings, transport=transports.get("jwks")),
        oauth=OAuthClient(
            providers,
            timeout=settings.oauth_timeout,
            transport=transports.get("oauth"),
            simulator_transport=transports.get("oauth")
            or (httpx.ASGITransport(app=simulator_app()) if simulated_oauth else None),
        ),
        box=SecretBox(settings.app_secret),
        limiter=limiter,
        snapshots=snapshots,
        reads=CachedReads(snapshots, admit=limiter.admit_upstream),
        live=FeedHub(interval=settings.job_feed_push_interval, relay=_relay(settings)),
        streams=StreamSlots(settings.max_streams_per_worker),
        simulator=sim_app if simulated_oauth else None,
    )
    snapshots.loader_context = lambda: Context(services=services)
    return services


def _simulated_oauth_clients(settings: Settings) -> dict[str, tuple[str, str]]:
    """In development, the simulator's client credentials for each seeded provider
    that has no OAuth settings; nothing elsewhere."""
    missing = [s for s in SEEDED_PROVIDERS if s not in settings.oauth_providers]
    if settings.app_env != "development" or not missing:
        return {}
    clients: Mapping[str, tuple[str, str]] = _simulator().DEFAULT_OAUTH_CLIENTS
    return {slug: clients[slug] for slug in missing if slug in clients}


def _snapshots(settings: Settings) -> Snapshots:
    """Redis (shared by workers and replicas) when CACHE_URL says so; otherwise a
    bounded in-process store that keeps the objects themselves."""
    flight: SingleFlight[Snapshot] | Flight
    if settings.cache_url is None:
        flight = SingleFlight()
    else:
        from app.caching.redis_backend import RedisFlight

        flight = RedisFlight(settings.cache_url)
    return Snapshots(
        store=build_store(settings.cache_url, max_entries=settings.cache_max_entries),
        flight=flight,
        freshness={
            "dashboard": Freshness(settings.dashboard_fresh, settings.dashboard_stale),
            "job_feed": Freshness(settings.job_feed_fresh, settings.job_feed_stale),
        },
    )


def _relay(settings: Settings) -> Relay | None:
    """With CACHE_URL, one poller per feed across workers (Redis); without it,
    each worker polls for its own listeners."""
    if settings.cache_url is None:
        return None
    from app.live.redis_bus import RedisRelay

    return RedisRelay(settings.cache_url)


async def _http_error(request: Request, exc: Exception) -> Response:
    """Starlette's 404 and 405 (no route, or not this method), in the envelope of
    the path's family."""
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    codes = {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED"}
    code = codes.get(exc.status_code, "BAD_REQUEST")
    envelope = family_envelope(request.url.path)
    return json_response(
        envelope.error(code, str(exc.detail)),
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
    configure_logging(settings.log_level, settings.log_format, ("naap",))
    services = build_services(
        settings, transports=transports, simulator=simulator, clock=clock
    )
    policy: Policy | None = None

    def persisted_operations() -> PersistedOperations:
        assert policy is not None  # noqa: S101  (set below, before any request)
        return PersistedOperations(policy)

    schema = build_schema([limits_extension(settings), persisted_operations])
    policy = _policy(settings, services, schema)
    # The hub polls the job feed as the REST route reads it, through this schema.
    services.live.poll = JobFeedReader(schema, services)
    routes: list[BaseRoute] = [*build_routes(schema, services), *plain_routes()]
    app = Starlette(
        routes=routes,
        lifespan=server_lifespan(services, schema, policy),
        exception_handlers={HTTPException: _http_error},
        middleware=[
            # Outside the edge, so its refusals carry CORS headers a browser can read.
            Middleware(CorsMiddleware, allowed_origins=settings.cors_origins),
            Middleware(
                ObservabilityMiddleware,
                settings=settings,
                limiter=services.limiter,
                error_body=error_body,
                graphql_label=OperationLabels(_root_fields(schema), policy.registry),
                deadline=settings.request_deadline,
                routes=routes,
                exempt_paths=UNLIMITED_PATHS,
            ),
        ],
    )
    # What the plain routes' delegates and pages read.
    app.state.services = services
    app.state.schema = schema
    app.state.persisted = policy
    app.state.graphql = GraphQLEndpoint(
        _strawberry_app(schema, services, GRAPHIQL_ASSETS, policy),
        schema,
        services,
        policy,
    )
    app.state.graphiql_assets = StaticFiles(directory=GRAPHIQL_ASSETS, check_dir=False)
    app.state.simulator = services.simulator
    app.state.web = (
        WebSite(WEB_STATIC, GRAPHIQL_ASSETS) if settings.landing_page else None
    )
    if settings.docs:  # otherwise /docs and its files are 404s
        app.state.docs_vendor_dir = DOCS_VENDOR
        # Swagger UI's bundle is 1.7 MB; 0.5 MB gzipped.
        app.state.docs_vendor = GZipMiddleware(
            StaticFiles(directory=DOCS_VENDOR, check_dir=False), compresslevel=6
        )
        app.state.docs_assets = StaticFiles(directory=DOCS_ASSETS)
    return app


def _policy(
    settings: Settings, services: Services, schema: strawberry.Schema
) -> Policy:
    """The persisted operations (the REST facade's operation files, and the
    manifests of PERSISTED_OPERATIONS_FILES, validated now: a bad one stops the
    server) and the policy for everything else; APQ's store in `audit` only."""
    registry = Registry.load(
        schema,
        Limits.from_settings(settings),
        folders=(OPERATIONS_DIR,),
        manifests=settings.persisted_operations_files,
    )
    apq = None
    if settings.persisted_operations == "audit":
        apq = AutomaticPersistedQueries.build(
            settings.cache_url,
            max_entries=settings.apq_max_entries,
            ttl=settings.apq_ttl,
        )
    return Policy(settings.persisted_operations, registry, apq, services.limiter)


def _strawberry_app(
    schema: strawberry.Schema, services: Services, assets_dir: Path, policy: Policy
) -> Callable[[], ASGIApp]:
    """Strawberry's ASGI app for /graphql, made (and strawberry.asgi imported, ~10
    ms) when a request first needs it, not at startup."""

    def make() -> ASGIApp:
        from app.graphql.strawberry_app import StrawberryApp

        return StrawberryApp(
            schema,
            services,
            assets_dir=assets_dir,
            assets_path=GRAPHIQL_ASSETS_PATH,
            default_query=(
                ENFORCED_NOTICE + DEFAULT_QUERY if policy.enforcing else DEFAULT_QUERY
            ),
        )

    return make


def _root_fields(schema: Any) -> dict[str, frozenset[str]]:
    """The schema's root field names by operation type: GraphQL metric labels."""
    built = graphql_schema(schema)
    roots = {
        "query": built.query_type,
        "mutation": built.mutation_type,
        "subscription": built.subscription_type,
    }
    return {kind: frozenset(t.fields) for kind, t in roots.items() if t is not None}
