"""Plain routes: protocol plumbing that is not JSON data over an operation.

Together with `routes.py` this lists every URL the server answers:
`/healthz`, `GET /api/v1/auth/csrf` (the double-submit cookie), the OAuth
broker's two browser legs (`redirect`, `callback`), which answer with a 302 and an
HTML page, and `/openapi.json`. (`/graphql`, its assets and, in development, the
simulator at `/_sim` are mounted by app/main.py.) `PLAIN_DOCS` describes each of
them (and `/graphql`) for the OpenAPI document: a plain route added here gets one
line there (tests/api/test_openapi.py checks that every route of the app has one).

Operations: `/readyz` (startup finished; dependencies reported, see `readyz`) and
`/metrics` (Prometheus, optionally behind METRICS_TOKEN).
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import time
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app.auth import CSRF_COOKIE, new_csrf_token
from app.context import Services
from app.developer import broker
from app.errors import AppError, DatabaseUnavailable
from app.metrics import BREAKER_STATE, READINESS, REGISTRY
from rest_facade.envelope import STANDARD, json_response
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

log = logging.getLogger("naap.pages")

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache", "expires": "0"}
CSRF_MAX_AGE = 3600
READY_CHECK_TIMEOUT = 1.0  # seconds, per dependency
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}
OPENAPI_CACHE = {"cache-control": "public, max-age=300"}

JSON = "application/json"
PLAIN_DOCS: tuple[PlainDoc, ...] = (
    PlainDoc(
        "/healthz",
        "GET",
        "Liveness, and which upstreams are simulated",
        {
            200: PlainResponse(
                "Alive",
                {JSON: closed({"status": {"const": "ok"}, "simulated": array(STRING)})},
            )
        },
    ),
    PlainDoc(
        "/api/v1/auth/csrf",
        "GET",
        "A CSRF token, also set as the `naap_csrf_token` cookie",
        {
            200: PlainResponse(
                "The token (send it back as X-CSRF-Token on cookie writes)",
                {
                    JSON: closed(
                        {"success": {"const": True}, "data": closed({"token": STRING})}
                    )
                },
                {"Set-Cookie": "naap_csrf_token=<token>; HttpOnly; SameSite=Strict"},
            )
        },
        tag="Auth",
    ),
    PlainDoc(
        "/api/v1/auth/providers/{slug}/redirect",
        "GET",
        "OAuth broker: the browser leg to the provider's authorize page",
        {302: PlainResponse("To the provider", headers={"Location": "authorize URL"})},
        query={"login_session_id": {"type": "string", "maxLength": 128}},
        errors=(400,),
        tag="Auth",
    ),
    PlainDoc(
        "/api/v1/auth/providers/{slug}/callback",
        "GET",
        "OAuth broker: the provider's redirect back (an HTML page)",
        {
            200: PlainResponse("Authentication complete", {"text/html": HTML_PAGE}),
            400: PlainResponse("Authentication failed", {"text/html": HTML_PAGE}),
        },
        query={name: STRING for name in ("code", "state", "error")},
        tag="Auth",
    ),
    PlainDoc(
        "/graphql",
        "GET",
        "GraphQL queries by GET (`query`, `variables`, `operationName`); GraphiQL "
        "for browsers",
        {
            200: PlainResponse(
                "A GraphQL result, or GraphiQL",
                {JSON: GRAPHQL_RESULT, "text/html": HTML_PAGE},
            ),
            400: PlainResponse("Not a GraphQL request", {JSON: GRAPHQL_RESULT}),
            404: PlainResponse("GraphiQL is switched off", {JSON: GRAPHQL_RESULT}),
            405: PlainResponse("A mutation by GET", {JSON: GRAPHQL_RESULT}),
        },
        query={name: STRING for name in ("query", "variables", "operationName")},
        tag="GraphQL",
    ),
    PlainDoc(
        "/graphql",
        "POST",
        "GraphQL queries and mutations",
        {
            200: PlainResponse("A GraphQL result", {JSON: GRAPHQL_RESULT}),
            400: PlainResponse(
                "Not a GraphQL request (bad JSON, a batch)", {JSON: GRAPHQL_RESULT}
            ),
            415: PlainResponse(
                "Not application/json (forms and multipart are refused: CSRF)",
                {JSON: GRAPHQL_RESULT},
            ),
        },
        body=GRAPHQL_REQUEST,
        tag="GraphQL",
    ),
    PlainDoc(
        "/readyz",
        "GET",
        "Readiness: 503 until startup has finished, then 200 with the state of the "
        "database, upstreams and cache (an outage is reported, not a 503)",
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
                                            "enum": ["closed", "half-open", "open"]
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
    PlainDoc(
        "/metrics",
        "GET",
        "Prometheus metrics (text format); `Authorization: Bearer METRICS_TOKEN` "
        "when that setting is set",
        {200: PlainResponse("Prometheus text exposition", {"text/plain": STRING})},
        errors=(401,),
    ),
    PlainDoc(
        "/openapi.json",
        "GET",
        "This document",
        {200: PlainResponse("OpenAPI 3.1", {JSON: {"type": "object"}})},
    ),
)


def plain_routes(services: Services) -> list[BaseRoute]:
    settings = services.settings
    secure = settings.public_base_url.startswith("https://")

    async def healthz(request: Request) -> Response:
        return json_response(
            {"status": "ok", "simulated": list(settings.simulated_upstreams)},
            headers={"cache-control": "no-store"},
        )

    async def readyz(request: Request) -> Response:
        """503 until startup has finished, then 200 with the dependencies' state.

        A database or upstream failure is reported in the body (and the
        naap_readiness / breaker gauges), not as a 503: every replica shares the
        same database and upstreams, so a 503 would take them all out of the load
        balancer at once, while cached and stale answers could still be served.
        """
        if not services.ready:
            READINESS.labels("started").set(0)
            return json_response({"status": "starting"}, 503, NO_STORE)
        database, cache_ok = await asyncio.gather(
            _database_check(services), _cache_check(services)
        )
        READINESS.labels("database").set(int(database["ok"]))
        READINESS.labels("cache").set(int(cache_ok))
        return json_response(
            {
                "status": "ready",
                "database": database,
                "upstreams": {
                    client.name: {"state": client.state, "simulated": client.simulated}
                    for client in _upstreams(services)
                },
                "cache": {
                    "backend": "memory" if services.responses.objects else "redis",
                    "ok": cache_ok,
                },
            },
            headers=NO_STORE,
        )

    async def metrics(request: Request) -> Response:
        """Prometheus text format; `Bearer METRICS_TOKEN` when one is set."""
        token = settings.metrics_token
        if token is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
                return json_response(
                    {"error": {"code": "UNAUTHORIZED", "message": "Unauthorized"}},
                    401,
                    {**NO_STORE, "www-authenticate": "Bearer"},
                )
        for client in _upstreams(services):
            BREAKER_STATE.labels(client.name).set(BREAKER_VALUES.get(client.state, 2))
        return Response(
            generate_latest(REGISTRY),
            headers={"cache-control": "no-store", "content-type": CONTENT_TYPE_LATEST},
        )

    async def csrf(request: Request) -> Response:
        token = new_csrf_token()
        response = json_response(
            STANDARD.success({"token": token}), headers={"cache-control": "no-store"}
        )
        response.set_cookie(
            CSRF_COOKIE,
            token,
            max_age=CSRF_MAX_AGE,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
        return response

    async def oauth_redirect(request: Request) -> Response:
        try:
            target = await broker.authorize_url(
                services.db,
                services.oauth,
                slug=request.path_params["slug"],
                login_session_id=request.query_params.get("login_session_id"),
                now=services.now(),
            )
        except AppError as exc:
            return json_response(
                STANDARD.error(exc.code, exc.message), exc.status, NO_STORE
            )
        return RedirectResponse(target, status_code=302, headers=NO_STORE)

    async def oauth_callback(request: Request) -> Response:
        query = request.query_params
        try:
            await broker.complete_callback(
                services.db,
                services.oauth,
                services.box,
                slug=request.path_params["slug"],
                code=query.get("code"),
                state=query.get("state"),
                error=query.get("error"),
                now=services.now(),
            )
        except broker.CallbackFailed as exc:
            return _page(exc.title, exc.message, 400)
        except DatabaseUnavailable as exc:  # a page, not a bare 500: say to retry
            return _page("Please Try Again", exc.message, exc.status)
        return _page(
            "Authentication Complete",
            "Your key is ready. You can close this window.",
            200,
            close_after_ms=3000,
        )

    document: bytes | None = None

    async def openapi(request: Request) -> Response:
        # Built on first use (the schema is on app.state once create_app is done),
        # then served from memory.
        nonlocal document
        if document is None:
            spec: dict[str, Any] = build_openapi(
                request.app.state.schema, plain=PLAIN_DOCS
            )
            document = orjson.dumps(spec)
        return Response(document, media_type=JSON, headers=OPENAPI_CACHE)

    return [
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/auth/csrf", csrf, methods=["GET"]),
        Route(
            "/api/v1/auth/providers/{slug}/redirect", oauth_redirect, methods=["GET"]
        ),
        Route(
            "/api/v1/auth/providers/{slug}/callback", oauth_callback, methods=["GET"]
        ),
    ]


def _upstreams(services: Services) -> tuple[Any, ...]:
    return (services.analytics, services.subgraph, services.l1)


async def _database_check(services: Services) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT), services.db.session() as s:
            await s.execute(text("SELECT 1"))
    except Exception as exc:  # reported, never raised: see readyz
        log.warning("readiness: database check failed (%s)", type(exc).__name__)
        return {
            "ok": False,
            "latencyMs": round((time.perf_counter() - started) * 1000, 1),
            "error": "timeout" if isinstance(exc, TimeoutError) else type(exc).__name__,
        }
    return {"ok": True, "latencyMs": round((time.perf_counter() - started) * 1000, 1)}


async def _cache_check(services: Services) -> bool:
    try:
        async with asyncio.timeout(READY_CHECK_TIMEOUT):
            return await services.responses.ping()
    except TimeoutError:
        return False


def _page(
    title: str, message: str, status: int, *, close_after_ms: int = 0
) -> Response:
    close = (
        f"<script>setTimeout(function(){{window.close()}},{close_after_ms})</script>"
        if close_after_ms
        else ""
    )
    body = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p>{close}"
        "</body></html>"
    )
    return HTMLResponse(body, status_code=status, headers=NO_STORE)
