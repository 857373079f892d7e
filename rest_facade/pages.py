"""The plain routes' endpoints: protocol plumbing that is not JSON data over an
operation (health, readiness, metrics, the CSRF cookie, the OAuth broker's
browser legs, the API reference page), and the delegates to what the composition
root mounts (`/graphql`, GraphiQL's and the API reference's files, the simulator).

Endpoints are module-level; they reach the services through `request.app.state`.
The OAuth pages import the broker inside, and readiness asks `Database.ping`: the
database stack loads on first use, never at startup.
"""

from __future__ import annotations

import asyncio
import hmac
import html
import logging
import time
from pathlib import Path
from typing import Any

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response
from starlette.types import Receive, Scope, Send

from app.auth import CSRF_COOKIE, new_csrf_token
from app.caching.render import etag_matches
from app.context import Services
from app.errors import AppError, DatabaseUnavailable
from app.metrics import BREAKER_STATE, READINESS, REGISTRY
from rest_facade import docs as api_docs
from rest_facade.envelope import STANDARD, http_error_response, json_response

log = logging.getLogger("naap.pages")

JSON = "application/json"
OPENAPI_CACHE = {"cache-control": "public, max-age=300"}  # the documents
NO_STORE = {"cache-control": "no-store", "pragma": "no-cache", "expires": "0"}
CSRF_MAX_AGE = 3600
READY_CHECK_TIMEOUT = 1.0  # seconds, per dependency
BREAKER_VALUES = {"closed": 0, "half-open": 1, "open": 2}


def services_of(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


async def healthz(request: Request) -> Response:
    settings = services_of(request).settings
    return json_response(
        {"status": "ok", "simulated": list(settings.simulated_upstreams)},
        headers={"cache-control": "no-store"},
    )


async def readyz(request: Request) -> Response:
    """503 until startup has finished, then 200 with the dependencies' state.

    A database or upstream failure is reported in the body (and the naap_readiness
    and breaker gauges), not as a 503: every replica shares the same database and
    upstreams, so a 503 would take them all out of the load balancer at once,
    while cached and stale answers could still be served.
    """
    services = services_of(request)
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
                "backend": "redis" if services.snapshots.shared else "memory",
                "ok": cache_ok,
            },
        },
        headers=NO_STORE,
    )


async def metrics(request: Request) -> Response:
    """Prometheus text format; `Bearer METRICS_TOKEN` when one is set."""
    services = services_of(request)
    token = services.settings.metrics_token
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
    secure = services_of(request).settings.public_base_url.startswith("https://")
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
    services = services_of(request)
    from app.developer import broker

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
    services = services_of(request)
    query = request.query_params
    from app.developer import broker

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


async def persisted_operations(request: Request) -> Response:
    """The registered operations, as an Apollo persisted-query manifest."""
    state = request.app.state
    document: bytes | None = getattr(state, "persisted_manifest", None)
    if document is None:
        manifest = state.persisted.registry.manifest()
        document = state.persisted_manifest = orjson.dumps(manifest)
    return Response(document, media_type=JSON, headers=OPENAPI_CACHE)


async def docs(request: Request) -> Response:
    """The API reference page: 404 with DOCS=false, 503 until Swagger UI's files
    are installed; revalidated on every load (no-cache), a 304 when unchanged."""
    vendor_dir: Path | None = getattr(request.app.state, "docs_vendor_dir", None)
    if vendor_dir is None:
        raise HTTPException(404, "Not Found")
    missing = api_docs.missing_vendor(vendor_dir)
    if missing:
        log.warning("/docs: Swagger UI's files are missing: %s", ", ".join(missing))
        text = api_docs.MISSING_PAGE.format(names=html.escape(", ".join(missing)))
        return HTMLResponse(text, status_code=503, headers=NO_STORE)
    body, etag = api_docs.page(graphiql=services_of(request).settings.graphiql)
    headers = {
        "cache-control": "no-cache",
        "etag": etag,
        "content-security-policy": api_docs.CSP,
    }
    if etag_matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return HTMLResponse(body, headers=headers)


class Mounted:
    """An ASGI endpoint that hands the request to the app the composition root
    put on `app.state.<name>` (`/graphql`, GraphiQL's files, the simulator, the
    landing page); 404 when there is none (switched off)."""

    def __init__(self, name: str) -> None:
        self.name = name

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        target = getattr(scope["app"].state, self.name, None)
        try:
            if target is None:
                raise HTTPException(404, "Not Found")
            await target(scope, receive, send)
        except HTTPException as exc:
            # Answered here: the edge dispatches exact paths to this endpoint
            # directly, outside Starlette's exception middleware.
            await http_error_response(exc)(scope, receive, send)


def _upstreams(services: Services) -> tuple[Any, ...]:
    return (services.analytics, services.subgraph, services.l1)


async def _database_check(services: Services) -> dict[str, Any]:
    db = services.db
    started = time.perf_counter()
    try:
        # Made outside the clock: the first probe imports SQLAlchemy, which is not
        # the database's time.
        db.ensure_engine()
        started = time.perf_counter()
        async with asyncio.timeout(READY_CHECK_TIMEOUT):
            await db.ping()
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
            return await services.snapshots.store.ping()
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
