"""The plain-route table: every URL that is not a row of the REST table.

Each row: path -> module-level endpoint -> methods -> its OpenAPI description. With
`routes.py` this lists every URL the server answers; the edge's exact-path
dispatch reads the router built from both, never a list of its own.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute

from rest_facade import pages
from rest_facade.job_stream import JobFeedStream
from rest_facade.openapi import (
    GRAPHQL_REQUEST,
    GRAPHQL_RESULT,
    HTML_PAGE,
    STRING,
    PlainDoc,
    PlainResponse,
    array,
    build_openapi,
    closed,
)
from rest_facade.routes import JOB_FEED_STREAM

JSON = "application/json"
OPENAPI_CACHE = {"cache-control": "public, max-age=300"}


def _dashboard_error(code: str) -> dict[str, Any]:
    return {
        JSON: closed({"error": closed({"code": {"const": code}, "message": STRING})})
    }


SSE_STREAM = {
    "type": "string",
    "description": "Server-sent events. First `retry: <ms>` (2000-10000), then "
    "`snapshot`, `delta` and `status` events, each with `id: <seq>` and one JSON "
    "`data:` line; `: ping` every 15 s; a last `retry:` when the server stops. "
    "snapshot: {seq, keys, streams (exactly the job feed's entries), stale, "
    "lastSuccessAt}; delta: {seq, added: [{key, stream}], updated: [{key, "
    "stream}], removed: [key]}; status: {seq, stale, lastSuccessAt}.",
}


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
    websocket: bool = False


async def openapi(request: Request) -> Response:
    """The OpenAPI 3.1 document of both tables, built on first use per app."""
    state = request.app.state
    document: bytes | None = getattr(state, "openapi_document", None)
    if document is None:
        spec = build_openapi(state.schema, plain=PLAIN_DOCS)
        document = state.openapi_document = orjson.dumps(spec)
    return Response(document, media_type=JSON, headers=OPENAPI_CACHE)


PLAIN_ROUTES: tuple[PlainRoute, ...] = (
    PlainRoute(
        "/healthz",
        pages.healthz,
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
                query={"login_session_id": {"type": "string", "maxLength": 128}},
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
                query={name: STRING for name in ("code", "state", "error")},
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
                        _dashboard_error("RATE_LIMITED"),
                        {"Retry-After": "seconds"},
                    ),
                    503: PlainResponse(
                        "The worker holds MAX_STREAMS_PER_WORKER streams, or is "
                        "shutting down: retry after `Retry-After` seconds",
                        _dashboard_error("SERVICE_UNAVAILABLE"),
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
                "GraphQL queries by GET (`query`, `variables`, `operationName`); "
                "GraphiQL for browsers",
                {
                    200: PlainResponse(
                        "A GraphQL result, or GraphiQL",
                        {JSON: GRAPHQL_RESULT, "text/html": HTML_PAGE},
                    ),
                    400: PlainResponse("Not a GraphQL request", {JSON: GRAPHQL_RESULT}),
                    404: PlainResponse(
                        "GraphiQL is switched off", {JSON: GRAPHQL_RESULT}
                    ),
                    405: PlainResponse("A mutation by GET", {JSON: GRAPHQL_RESULT}),
                },
                query={
                    name: STRING for name in ("query", "variables", "operationName")
                },
                tag="GraphQL",
            ),
            "POST": PlainDoc(
                "GraphQL queries and mutations",
                {
                    200: PlainResponse("A GraphQL result", {JSON: GRAPHQL_RESULT}),
                    400: PlainResponse(
                        "Not a GraphQL request (bad JSON, a batch)",
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
    # graphql-transport-ws subscriptions (the legacy graphql-ws is refused).
    PlainRoute("/graphql", pages.Mounted("graphql"), websocket=True),
    # GraphiQL's files, installed by `make install` (never from a CDN).
    PlainRoute("/graphql/assets", pages.Mounted("graphiql_assets"), mount=True),
    # Development: the simulated billing providers' authorize pages, for browsers.
    PlainRoute("/_sim", pages.Mounted("simulator"), mount=True),
)

PLAIN_DOCS: tuple[tuple[str, str, PlainDoc], ...] = tuple(
    (row.path, method, doc) for row in PLAIN_ROUTES for method, doc in row.docs.items()
)


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
