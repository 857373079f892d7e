"""The plain-route table: every URL that is not a row of the REST table.

Each row: path -> module-level endpoint -> methods -> its OpenAPI description. With
`routes.py` this lists every URL the server answers; the edge's exact-path
dispatch reads the router built from both, never a list of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from rest_facade import pages
from rest_facade.job_stream import JobFeedStream
from rest_facade.openapi import build_openapi
from rest_facade.openapi_plain import (
    GRAPHQL_EXTENSIONS,
    GRAPHQL_REQUEST,
    GRAPHQL_RESULT,
    GRAPHQL_VARIABLES,
    HTML_PAGE,
    NOT_FOUND_BODY,
    PERSISTED_MANIFEST,
    SSE_STREAM,
    PlainDoc,
    PlainResponse,
    dashboard_error,
)
from rest_facade.openapi_schema import STRING, array, closed
from rest_facade.pages import OPENAPI_CACHE
from rest_facade.params import PROVIDER_SLUG, WHITESPACE
from rest_facade.routes import JOB_FEED_STREAM

JSON = "application/json"


@dataclass(frozen=True, slots=True)
class PlainRoute:
    """One URL and its endpoint, documented per method (the methods it takes);
    or, with `mount`, every URL under a prefix, handed to an ASGI app; or, with
    `websocket`, the WebSocket handshakes to that URL (not in the OpenAPI
    document, which describes HTTP)."""

    path: str
    endpoint: Any  # a Starlette endpoint: request -> response, or an ASGI app
    docs: Mapping[str, PlainDoc] = field(default_factory=dict)  # by method
    mount: bool = False
    # Counted by the `public` rate limit: all but what probes and scrapers call.
    rate_limited: bool = True
    websocket: bool = False


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of both tables, built on first use per app."""
    state = request.app.state
    document: bytes | None = getattr(state, "openapi_document", None)
    if document is None:
        providers = state.services.oauth.providers
        spec = build_openapi(
            state.schema,
            plain=PLAIN_DOCS,
            vocabularies={"providers": sorted(providers)},
        )
        document = state.openapi_document = orjson.dumps(spec)
    return Response(document, media_type=JSON, headers=OPENAPI_CACHE)


PLAIN_ROUTES: tuple[PlainRoute, ...] = (
    PlainRoute(
        "/healthz",
        pages.healthz,
        rate_limited=False,
        docs={
            "GET": PlainDoc(
                "Liveness, and which upstreams are simulated",
                {
                    200: PlainResponse(
                        "Alive",
                        {
                            JSON: closed(
                                {"status": {"const": "ok"}, "simulated": array(STRING)}
                            )
                        },
                    )
                },
            ),
        },
    ),
    PlainRoute(
        "/readyz",
        pages.readyz,
        rate_limited=False,
        docs={
            "GET": PlainDoc(
                "Readiness: 503 until startup has finished, then 200 with the state "
                "of the database, upstreams and cache (an outage is reported, not a "
                "503)",
                {
                    200: PlainResponse(
                        "Started; dependencies reported",
                        {
                            JSON: closed(
                                {
                                    "status": {"const": "ready"},
                                    "database": closed(
                                        {
                                            "ok": {"type": "boolean"},
                                            "latencyMs": {"type": "number"},
                                            "error": STRING,
                                        },
                                        ["ok", "latencyMs"],
                                    ),
                                    "upstreams": {
                                        "type": "object",
                                        "additionalProperties": closed(
                                            {
                                                "state": {
                                                    "enum": [
                                                        "closed",
                                                        "half-open",
                                                        "open",
                                                    ]
                                                },
                                                "simulated": {"type": "boolean"},
                                            }
                                        ),
                                    },
                                    "cache": closed(
                                        {
                                            "backend": {"enum": ["memory", "redis"]},
                                            "ok": {"type": "boolean"},
                                        }
                                    ),
                                }
                            )
                        },
                    ),
                    503: PlainResponse(
                        "Starting", {JSON: closed({"status": {"const": "starting"}})}
                    ),
                },
            ),
        },
    ),
    PlainRoute(
        "/metrics",
        pages.metrics,
        rate_limited=False,
        docs={
            "GET": PlainDoc(
                "Prometheus metrics (text format); `Authorization: Bearer "
                "METRICS_TOKEN` when that setting is set",
                {
                    200: PlainResponse(
                        "Prometheus text exposition", {"text/plain": STRING}
                    )
                },
                errors=(401,),
            ),
        },
    ),
    PlainRoute(
        "/openapi.json",
        openapi,
        docs={
            "GET": PlainDoc(
                "This document",
                {200: PlainResponse("OpenAPI 3.1", {JSON: {"type": "object"}})},
            ),
        },
    ),
    PlainRoute(
        "/api/v1/auth/csrf",
        pages.csrf,
        docs={
            "GET": PlainDoc(
                "A CSRF token, also set as the `naap_csrf_token` cookie",
                {
                    200: PlainResponse(
                        "The token (send it back as X-CSRF-Token on cookie writes)",
                        {
                            JSON: closed(
                                {
                                    "success": {"const": True},
                                    "data": closed({"token": STRING}),
                                }
                            )
                        },
                        {
                            "Set-Cookie": (
                                "naap_csrf_token=<token>; HttpOnly; SameSite=Strict"
                            )
                        },
                    )
                },
                tag="Auth",
            ),
        },
    ),
    PlainRoute(
        "/api/v1/auth/providers/{slug}/redirect",
        pages.oauth_redirect,
        docs={
            "GET": PlainDoc(
                "OAuth broker: the browser leg to the provider's authorize page",
                {
                    302: PlainResponse(
                        "To the provider", headers={"Location": "authorize URL"}
                    )
                },
                query={
                    "login_session_id": {
                        "type": "string",
                        "pattern": f"^[{WHITESPACE}]*[0-9a-fA-F]{{64}}[{WHITESPACE}]*$",
                    }
                },
                required=("login_session_id",),
                path={"slug": PROVIDER_SLUG},
                errors=(400,),
                tag="Auth",
            ),
        },
    ),
    PlainRoute(
        "/api/v1/auth/providers/{slug}/callback",
        pages.oauth_callback,
        docs={
            "GET": PlainDoc(
                "OAuth broker: the provider's redirect back (an HTML page)",
                {
                    200: PlainResponse(
                        "Authentication complete", {"text/html": HTML_PAGE}
                    ),
                    400: PlainResponse(
                        "Authentication failed", {"text/html": HTML_PAGE}
                    ),
                },
                query={
                    "code": STRING,
                    "state": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 128,
                        "pattern": "^[^\\x00]*$",
                    },
                    "error": STRING,
                },
                required=("state",),
                path={"slug": PROVIDER_SLUG},
                tag="Auth",
            ),
        },
    ),
    PlainRoute(
        JOB_FEED_STREAM,
        JobFeedStream(),
        docs={
            "GET": PlainDoc(
                "The job feed pushed as server-sent events (one upstream poll per "
                "interval for every listener)",
                {
                    200: PlainResponse(
                        "An event stream (text/event-stream), open until the client "
                        "or the server ends it",
                        {"text/event-stream": SSE_STREAM},
                        {"Cache-Control": "no-store, no-transform"},
                    ),
                    429: PlainResponse(
                        "Too many requests: retry after `Retry-After` seconds",
                        dashboard_error("RATE_LIMITED"),
                        {"Retry-After": "seconds"},
                    ),
                    503: PlainResponse(
                        "The worker holds MAX_STREAMS_PER_WORKER streams, or is "
                        "shutting down: retry after `Retry-After` seconds",
                        dashboard_error("SERVICE_UNAVAILABLE"),
                        {"Retry-After": "seconds (2-10)"},
                    ),
                },
                query={
                    "limit": {
                        "type": "integer",
                        "minimum": 1,
                        "maximum": 200,
                        "default": 50,
                    }
                },
                request_headers={"Last-Event-ID": {"type": "string"}},
                tag="Dashboard",
            ),
        },
    ),
    PlainRoute(
        "/graphql",
        pages.Mounted("graphql"),
        docs={
            "GET": PlainDoc(
                "GraphQL queries by GET (`query`, `variables`, `operationName`, or "
                "`extensions` naming a persisted operation by hash); GraphiQL for "
                "browsers when neither `query` nor a hash is given",
                {
                    200: PlainResponse(
                        "A GraphQL result (a refused or unknown persisted operation "
                        "is an error in it), or GraphiQL",
                        {JSON: GRAPHQL_RESULT, "text/html": HTML_PAGE},
                    ),
                    400: PlainResponse(
                        "Not a GraphQL request: an empty `query`, parameters that "
                        "are not JSON objects, a malformed persistedQuery, an "
                        "operationName the document does not define",
                        {JSON: GRAPHQL_RESULT},
                    ),
                    404: PlainResponse(
                        "GraphiQL is switched off", {JSON: GRAPHQL_RESULT}
                    ),
                    405: PlainResponse("A mutation by GET", {JSON: GRAPHQL_RESULT}),
                },
                query={
                    "query": {"type": "string", "minLength": 1},
                    "variables": GRAPHQL_VARIABLES,
                    "operationName": STRING,
                    "extensions": GRAPHQL_EXTENSIONS,
                },
                json_query=("variables", "extensions"),
                tag="GraphQL",
            ),
            "POST": PlainDoc(
                "GraphQL queries and mutations",
                {
                    200: PlainResponse("A GraphQL result", {JSON: GRAPHQL_RESULT}),
                    400: PlainResponse(
                        "Not a GraphQL request (bad JSON, a batch, a malformed "
                        "persistedQuery, an operationName the document does not "
                        "define)",
                        {JSON: GRAPHQL_RESULT},
                    ),
                    415: PlainResponse(
                        "Not application/json (forms and multipart are refused: CSRF)",
                        {JSON: GRAPHQL_RESULT},
                    ),
                },
                body=GRAPHQL_REQUEST,
                tag="GraphQL",
            ),
        },
    ),
    PlainRoute(
        "/graphql/persisted-operations.json",
        pages.persisted_operations,
        docs={
            "GET": PlainDoc(
                "The registered (persisted) operations, as an Apollo persisted-query "
                "manifest: run one by POST or GET with "
                '`extensions={"persistedQuery":{"version":1,"sha256Hash":"<id>"}}`',
                {
                    200: PlainResponse(
                        "Apollo persisted-query manifest, version 1",
                        {JSON: PERSISTED_MANIFEST},
                    )
                },
                tag="GraphQL",
            ),
        },
    ),
    # graphql-transport-ws subscriptions (the legacy graphql-ws is refused).
    PlainRoute("/graphql", pages.Mounted("graphql"), websocket=True),
    # GraphiQL's files, installed by `make install` (never from a CDN).
    PlainRoute("/graphql/assets", pages.Mounted("graphiql_assets"), mount=True),
    # The Network Overview page and its files (app/web), from memory, revalidated
    # by ETag; LANDING_PAGE=false answers 404 on all three.
    PlainRoute(
        "/",
        pages.Mounted("web"),
        docs={
            "GET": PlainDoc(
                "The Network Overview page (HTML; its data comes from the dashboard "
                "routes)",
                {
                    200: PlainResponse(
                        "The page (Cache-Control: no-cache, ETag; 304 when unchanged)",
                        {"text/html": HTML_PAGE},
                        {"Content-Security-Policy": "default-src 'self'; …"},
                    ),
                    404: PlainResponse("LANDING_PAGE=false", {JSON: NOT_FOUND_BODY}),
                },
                tag="Pages",
            ),
        },
    ),
    PlainRoute(
        "/favicon.ico",
        pages.Mounted("web"),
        docs={
            "GET": PlainDoc(
                "The page's icon",
                {
                    # No content schema: generated clients cannot type an icon.
                    200: PlainResponse(
                        "An icon", headers={"Content-Type": "image/x-icon"}
                    ),
                    404: PlainResponse("LANDING_PAGE=false", {JSON: NOT_FOUND_BODY}),
                },
                tag="Pages",
            ),
        },
    ),
    PlainRoute("/static", pages.Mounted("web"), mount=True),
    PlainRoute(
        "/docs",
        pages.docs,
        docs={
            "GET": PlainDoc(
                "This API reference, for browsers (Swagger UI rendering /openapi.json)",
                {
                    200: PlainResponse(
                        "The page",
                        {"text/html": HTML_PAGE},
                        {
                            "ETag": "The page's version",
                            "Cache-Control": "no-cache",
                            "Content-Security-Policy": "Scripts and styles from "
                            "this server only",
                        },
                    ),
                    304: PlainResponse("Not modified (If-None-Match)"),
                    503: PlainResponse(
                        "Swagger UI's files are not installed (make install)",
                        {"text/html": HTML_PAGE},
                    ),
                },
                errors=(404,),
                tag="Reference",
            ),
        },
    ),
    # The API reference's files: Swagger UI's (installed by `make install`, never
    # from a CDN) and the page's own script and style.
    PlainRoute("/docs/vendor", pages.Mounted("docs_vendor"), mount=True),
    PlainRoute("/docs/assets", pages.Mounted("docs_assets"), mount=True),
    # Development: the simulated billing providers' authorize pages, for browsers.
    PlainRoute("/_sim", pages.Mounted("simulator"), mount=True),
)

PLAIN_DOCS: tuple[tuple[str, str, PlainDoc], ...] = tuple(
    (row.path, method, replace(doc, rate_limited=row.rate_limited))
    for row in PLAIN_ROUTES
    for method, doc in row.docs.items()
)
# What the edge never rate-limits.
UNLIMITED_PATHS = frozenset(row.path for row in PLAIN_ROUTES if not row.rate_limited)


def plain_routes() -> list[BaseRoute]:
    """The table as Starlette routes."""
    routes: list[BaseRoute] = []
    for row in PLAIN_ROUTES:
        if row.mount:
            routes.append(Mount(row.path, app=row.endpoint))
        elif row.websocket:
            routes.append(WebSocketRoute(row.path, row.endpoint))
        else:
            routes.append(Route(row.path, row.endpoint, methods=list(row.docs)))
    return routes
