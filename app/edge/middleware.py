"""The edge: one pure-ASGI middleware that every HTTP request crosses.

It gives each request an id, security headers and an upstream deadline; refuses
oversized requests (414, 431, 413) and spent `public` rate budgets (429) in the
route's error envelope before the app reads anything; dispatches exact-path routes
by a dict lookup; and records HTTP metrics and one access-log line.
"""

from __future__ import annotations

import itertools
import logging
import re
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.edge.logs import access_log, request_id, write_access_line
from app.errors import AppError, RateLimited
from app.metrics import HTTP_STATS, REQUESTS_REFUSED
from app.provenance import track_data_sources
from app.ratelimit import ClientAddresses, RateLimiter, client_address
from app.settings import Settings
from app.upstream.resilience import start_deadline

# Request ids: the client's `X-Request-ID` when it is a short safe token (so no
# arbitrary text reaches our logs and headers), else ours, shaped as a UUIDv4 like
# the original's: the first four groups are random per process (version and
# variant bits set), the last is a counter. Unique without reading urandom on
# every request; ids need not be unguessable, nothing is authorised by them.
_SAFE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,64}")
_random = secrets.token_hex(8)
_ID_PREFIX = (
    f"{_random[:8]}-{_random[8:12]}-4{_random[12:15]}-"
    f"{'89ab'[int(_random[15], 16) % 4]}{secrets.token_hex(2)[:3]}-"
)
_id_counter = itertools.count(secrets.randbelow(1 << 32))


def new_request_id() -> str:
    return f"{_ID_PREFIX}{next(_id_counter) % (1 << 48):012x}"


SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"strict-origin-when-cross-origin"),
    (
        b"permissions-policy",
        b"camera=(self), microphone=(self), display-capture=(self), geolocation=()",
    ),
)

# Never rate limited, and cheap to probe: load balancers and scrapers call them
# (the composition root passes the plain-route table's list).
EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
GRAPHQL_PATH = "/graphql"


# The route label of requests refused before routing (the reason is in
# naap_http_refused_total).
class _RouteLabel:
    __slots__ = ("path",)

    def __init__(self, path: str) -> None:
        self.path = path


REFUSED_ROUTE = _RouteLabel("refused")
# Methods as metric labels; anything else a client invents is "OTHER".
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
# Methods whose requests carry no body unless they say so (Transfer-Encoding).
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})


def route_methods(route: Route) -> set[str]:
    return route.methods or set()


class PayloadTooLarge(AppError):
    code = "PAYLOAD_TOO_LARGE"
    status = 413


class UriTooLong(AppError):
    code = "URI_TOO_LONG"
    status = 414


class HeadersTooLarge(AppError):
    code = "HEADERS_TOO_LARGE"
    status = 431


class _BodyTooLarge(Exception):
    """Raised into the app from `receive` when the body passes the cap."""


# (path, error) -> the response body in that route's envelope.
ErrorBody = Callable[[str, AppError], bytes]
# (scope, body parts) -> the bounded metric label of a /graphql request.
GraphQLLabel = Callable[[Scope, list[bytes] | None], str]


def refusal_headers(error: AppError, length: int) -> list[tuple[bytes, bytes]]:
    headers = [
        (b"content-type", b"application/json"),
        (b"content-length", str(length).encode()),
        (b"cache-control", b"no-store"),
    ]
    if isinstance(error, RateLimited):
        headers.append((b"retry-after", str(error.retry_after).encode()))
    if isinstance(error, PayloadTooLarge):
        # The rest of the body was never read: the connection cannot be reused.
        headers.append((b"connection", b"close"))
    return headers


class ObservabilityMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        limiter: RateLimiter,
        error_body: ErrorBody,
        graphql_label: GraphQLLabel,
        deadline: float,
        routes: Sequence[BaseRoute] = (),
        exempt_paths: frozenset[str] = EXEMPT_PATHS,
    ) -> None:
        self.app = app
        self.exempt_paths = exempt_paths
        self.deadline = deadline
        # The app's own routes (both tables) that answer one exact path and are
        # ASGI apps themselves: dispatched by a dict lookup instead of the
        # router's regex per route (the dashboard's hot path). A library bypass
        # kept because it measures: BENCHMARKS.md, "Library bypasses".
        self.exact = {
            route.path: route
            for route in routes
            if isinstance(route, Route)
            and not route.param_convertors
            and route.app is route.endpoint
        }
        self.limiter = limiter
        self.error_body = error_body
        self.max_body = settings.max_body_bytes
        self.max_query = settings.max_query_string_bytes
        self.max_headers = settings.max_header_bytes
        self.clients = ClientAddresses(settings.trusted_proxies)
        self.graphql_label = graphql_label

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter_ns()
        path: str = scope["path"]
        method: str = scope["method"]
        header_bytes = 0
        length: bytes | None = None
        chunked = False
        rid: str | None = None
        for name, value in scope["headers"]:
            header_bytes += len(name) + len(value)
            if name == b"content-length":
                length = value
            elif name == b"transfer-encoding":
                chunked = True
            elif name == b"x-request-id" and _SAFE_REQUEST_ID.fullmatch(value):
                rid = value.decode("ascii")
        if rid is None:
            rid = new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        peer = scope.get("client")
        address = peer[0] if peer else "unknown"
        if self.clients.networks:
            address = self._forwarded(scope, address)
        rid_token = request_id.set(rid)
        address_token = client_address.set(address)
        deadline_token = start_deadline(self.deadline)
        sources = track_data_sources()
        own_headers = [(b"x-request-id", rid.encode()), *SECURITY_HEADERS]

        status = 0
        x_cache: bytes | None = None
        body: _BodyCounter | None = None

        async def send_out(message: Message) -> None:
            # Every response, refusals included: request id, security headers, and
            # the data-source label when a simulated upstream answered.
            nonlocal status, x_cache
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = message.get("headers", ())
                for name, value in headers:
                    if name == b"x-cache":
                        x_cache = value
                        break
                headers = [*headers, *own_headers]
                if "simulator" in sources:  # the one place this label is set
                    headers.append((b"x-data-source", b"simulator"))
                message["headers"] = headers
            await send(message)

        async def send_observed(message: Message) -> None:
            if body is not None and body.over_cap:
                return  # the app answered despite the cap: our 413 replaces it
            await send_out(message)

        try:
            refused: AppError | None = None
            if (
                length is not None
                or header_bytes > self.max_headers
                or len(scope["query_string"]) > self.max_query
            ):
                refused = self._check_sizes(scope, header_bytes, length)
            if (
                refused is None
                and self.limiter.enabled
                and path not in self.exempt_paths
            ):
                try:
                    if not self.limiter.hit_in_process("public", address):
                        await self.limiter.hit("public", address)
                except RateLimited as exc:
                    refused = exc
            if refused is not None:
                scope["route"] = REFUSED_ROUTE
                status = await self._refuse(send_out, path, refused)
                return
            inner_receive = receive
            graphql_post = path == GRAPHQL_PATH and method == "POST"
            if graphql_post or (length is None and (chunked or method not in _NO_BODY)):
                # No Content-Length: count the chunks (the server already holds a
                # declared length to its word; a GET without either has no body).
                # /graphql: keep the document too, for the operation label.
                body = _BodyCounter(receive, self.max_body, path == GRAPHQL_PATH)
                inner_receive = body.receive
            route = self.exact.get(path)
            try:
                if route is not None and method in route_methods(route):
                    scope["route"] = route
                    scope["endpoint"] = route.endpoint
                    scope["path_params"] = {}
                    await route.app(scope, inner_receive, send_observed)
                else:
                    await self.app(scope, inner_receive, send_observed)
            except RateLimited as exc:  # past routing: the upstream tier, on a miss
                if status:
                    raise
                status = await self._refuse(send_out, path, exc)
            except _BodyTooLarge:
                if status:
                    raise
            if body is not None and body.over_cap and not status:
                body.over_cap = False  # let our own answer through
                status = await self._refuse(
                    send_out, path, PayloadTooLarge(self._too_large())
                )
        except BaseException:
            if not status:
                status = 500  # ServerErrorMiddleware answers it
            raise
        finally:
            request_id.reset(rid_token)
            client_address.reset(address_token)
            deadline_token.var.reset(deadline_token)
            self._record(scope, status, started, x_cache, address, body, rid)

    def _forwarded(self, scope: Scope, peer: str) -> str:
        forwarded_for = forwarded = None
        for name, value in scope["headers"]:
            if name == b"x-forwarded-for":
                forwarded_for = value
            elif name == b"forwarded":
                forwarded = value
        return self.clients.resolve(peer, forwarded_for, forwarded)

    def _too_large(self) -> str:
        return f"Request body too large: the limit is {self.max_body} bytes"

    def _check_sizes(
        self, scope: Scope, header_bytes: int, length: bytes | None
    ) -> AppError | None:
        if len(scope["query_string"]) > self.max_query:
            return UriTooLong(
                f"Query string too long: the limit is {self.max_query} bytes"
            )
        if header_bytes > self.max_headers:
            return HeadersTooLarge(
                f"Request headers too large: the limit is {self.max_headers} bytes"
            )
        if length is not None and length.isdigit() and int(length) > self.max_body:
            # Refused before the app reads a byte of it.
            return PayloadTooLarge(self._too_large())
        return None

    async def _refuse(self, send: Send, path: str, error: AppError) -> int:
        if not isinstance(error, RateLimited):  # the limiter counts its own
            REQUESTS_REFUSED.labels(error.code.lower()).inc()
        body = self.error_body(path, error)
        await send(
            {
                "type": "http.response.start",
                "status": error.status,
                "headers": refusal_headers(error, len(body)),
            }
        )
        await send({"type": "http.response.body", "body": body})
        return error.status

    def _record(
        self,
        scope: Scope,
        status: int,
        started: int,
        x_cache: bytes | None,
        address: str,
        body: _BodyCounter | None,
        rid: str | None,
    ) -> None:
        elapsed_ns = time.perf_counter_ns() - started
        method: str = scope["method"]
        route = scope.get("route")
        template: str = route.path if route is not None else "unmatched"
        operation = ""
        label = template
        if template == GRAPHQL_PATH:
            parts = body.parts if body is not None else None
            operation = self.graphql_label(scope, parts)
            if operation:
                label = f"{GRAPHQL_PATH} {operation}"
        if method not in METHODS:
            method = "OTHER"
        HTTP_STATS.record(label, method, status, elapsed_ns / 1e9)
        if not access_log.isEnabledFor(logging.INFO):
            return
        state = scope.get("state")
        fields: dict[str, Any] = {
            "request_id": rid,
            "method": method,
            "route": template,
            "status": status,
            "duration_ms": round(elapsed_ns / 1e6, 3),
            "cache": x_cache.decode("latin-1") if x_cache is not None else None,
            "user": state.get("user_hash") if state else None,
            "client": address,
        }
        if operation:
            fields["operation"] = operation
        write_access_line(fields)


class _BodyCounter:
    """`receive` for a body of unknown length: counts it against the cap and
    raises `_BodyTooLarge` into the app at the chunk that passes it."""

    __slots__ = ("_receive", "cap", "over_cap", "parts", "received")

    def __init__(self, receive: Receive, cap: int, keep: bool) -> None:
        self._receive = receive
        self.cap = cap
        self.received = 0
        self.over_cap = False
        self.parts: list[bytes] | None = [] if keep else None

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] == "http.request":
            chunk = message.get("body", b"")
            self.received += len(chunk)
            if self.received > self.cap:
                self.over_cap = True
                raise _BodyTooLarge
            if self.parts is not None:
                self.parts.append(chunk)
        return message
