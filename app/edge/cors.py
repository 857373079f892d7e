"""CORS by route family.

Public data (dashboard, catalogs, /graphql, /healthz) may be read from any origin,
without credentials: `Access-Control-Allow-Origin: *`. Only the origins in
`CORS_ORIGINS` may send cookies: they get their origin echoed with
`Allow-Credentials: true` on every route; other origins get no CORS headers on
authenticated routes, so browsers withhold the response.
"""

from __future__ import annotations

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.edge.middleware import SECURITY_HEADERS, new_request_id

CORS_HEADERS = [
    "X-CSRF-Token",
    "X-Requested-With",
    "Accept",
    "Accept-Version",
    "Content-Length",
    "Content-MD5",
    "Content-Type",
    "Date",
    "X-Api-Version",
    "Authorization",
    "X-Request-ID",
    "X-Trace-ID",
    "Idempotency-Key",
]


class CorsMiddleware:
    """Adds the CORS headers of the request's route family (see the module doc);
    answers preflights itself."""

    PUBLIC_PREFIXES = (
        "/api/v1/dashboard/",
        "/api/v1/billing-providers",
        "/api/v1/developer/network-models",
        "/graphql",
        "/healthz",
    )

    def __init__(self, app: ASGIApp, *, allowed_origins: tuple[str, ...]) -> None:
        self.app = app
        self.allowed = frozenset(allowed_origins)

    def _headers(self, origin: str, path: str) -> list[tuple[bytes, bytes]]:
        if origin in self.allowed:
            return [
                (b"access-control-allow-origin", origin.encode("latin-1")),
                (b"access-control-allow-credentials", b"true"),
                (b"vary", b"Origin"),
            ]
        if path.startswith(self.PUBLIC_PREFIXES):
            return [(b"access-control-allow-origin", b"*")]
        return []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # Most requests (CDNs, servers, curl) send no Origin: find that out without
        # building a dict of every header.
        if not any(name == b"origin" for name, _ in scope["headers"]):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        origin = headers.get(b"origin", b"").decode("latin-1")
        if not origin:
            await self.app(scope, receive, send)
            return
        cors = self._headers(origin, scope["path"])
        if scope["method"] == "OPTIONS" and b"access-control-request-method" in headers:
            preflight = Response(status_code=200 if cors else 403)
            # Answered here, outside the edge middleware: its headers added here.
            preflight.headers["x-request-id"] = new_request_id()
            for name, value in (*SECURITY_HEADERS, *cors):
                preflight.headers[name.decode()] = value.decode("latin-1")
            if cors:
                preflight.headers["access-control-allow-methods"] = (
                    "GET, POST, DELETE, OPTIONS"
                )
                preflight.headers["access-control-allow-headers"] = ", ".join(
                    CORS_HEADERS
                )
                preflight.headers["access-control-max-age"] = "86400"
            await preflight(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and cors:
                message["headers"] = [
                    *message.get("headers", []),
                    *cors,
                    (
                        b"access-control-expose-headers",
                        b"X-Request-ID, X-Data-Source, X-Cache",
                    ),
                ]
            await send(message)

        await self.app(scope, receive, send_with_cors)
