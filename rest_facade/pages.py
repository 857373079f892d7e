"""Plain routes: protocol plumbing that is not JSON data over an operation.

Together with `routes.py` this lists every URL the server answers:
`/healthz`, `GET /api/v1/auth/csrf` (the double-submit cookie), the OAuth
broker's two browser legs (`redirect`, `callback`), which answer with a 302 and an
HTML page, and `/openapi.json`. (`/graphql`, its assets and, in development, the
simulator at `/_sim` are mounted by app/main.py.) `PLAIN_DOCS` describes each of
them (and `/graphql`) for the OpenAPI document: a plain route added here gets one
line there (tests/test_openapi.py checks that every route of the app has one).
"""

from __future__ import annotations

import html
import logging
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app import broker
from app.auth import CSRF_COOKIE, new_csrf_token
from app.context import Services
from app.errors import AppError
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
            400: PlainResponse("Not a GraphQL request", {"text/plain": STRING}),
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
            400: PlainResponse("Not a GraphQL request", {"text/plain": STRING}),
        },
        body=GRAPHQL_REQUEST,
        tag="GraphQL",
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
        Route("/openapi.json", openapi, methods=["GET"]),
        Route("/api/v1/auth/csrf", csrf, methods=["GET"]),
        Route(
            "/api/v1/auth/providers/{slug}/redirect", oauth_redirect, methods=["GET"]
        ),
        Route(
            "/api/v1/auth/providers/{slug}/callback", oauth_callback, methods=["GET"]
        ),
    ]


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
