"""Plain routes: protocol plumbing that is not JSON data over an operation.

Together with `routes.py` this lists every URL the server answers:
`/healthz`, `GET /api/v1/auth/csrf` (the double-submit cookie), and the OAuth
broker's two browser legs (`redirect`, `callback`), which answer with a 302 and an
HTML page. (`/graphql`, its assets and, in development, the simulator at `/_sim`
are mounted by app/main.py.)
"""

from __future__ import annotations

import html
import logging

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from app import broker
from app.auth import CSRF_COOKIE, new_csrf_token
from app.context import Services
from app.errors import AppError, DatabaseUnavailable
from rest_facade.envelope import STANDARD, json_response

log = logging.getLogger("naap.pages")

NO_STORE = {"cache-control": "no-store", "pragma": "no-cache", "expires": "0"}
CSRF_MAX_AGE = 3600


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
        except DatabaseUnavailable as exc:  # a page, not a bare 500: say to retry
            return _page("Please Try Again", exc.message, exc.status)
        return _page(
            "Authentication Complete",
            "Your key is ready. You can close this window.",
            200,
            close_after_ms=3000,
        )

    return [
        Route("/healthz", healthz, methods=["GET"]),
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
