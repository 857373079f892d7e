"""The operations middleware: size caps, the public rate limit, HTTP metrics and
one access-log line per request; and the log formatters.

One pure-ASGI middleware, because every request passes through it and the
dashboard's cache hits answer in tens of microseconds: no Request objects, HTTP
metrics in plain dicts (`app.metrics.HttpStats`), `perf_counter_ns`, one `orjson`
dump per access line into a buffered handler, and the line only built when
`naap.access` logs at INFO.

REST rows without path parameters (the dashboard's hot path) and `/graphql` are
dispatched here by a dict lookup on the exact path, for the methods the route
takes; anything else goes to Starlette's router, which tries a regex per route per
request. Both call the same endpoint; a `RateLimited` raised past routing (the
upstream tier, on a cache miss) is answered here, in the route's envelope, on
either path.

Order of checks, before the app sees anything: query string (414), total header
bytes (431), Content-Length (413), then the client's `public` budget (429). A
body without Content-Length (chunked) is counted chunk by chunk as the app reads
it, and refused with 413 the moment it passes the cap; nothing past the cap is
read. Refusals use the route's error envelope (`error_body`, from the REST
facade) and are counted in `naap_http_refused_total`.

Labels stay bounded: the route is the matched Starlette template ("unmatched"
otherwise); on `/graphql` it carries the operation's root fields when they are
the schema's own and at most three (`/graphql query:kpi,protocol`), else
`query:other` — never the client's `operationName`.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
import re
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar
from urllib.parse import parse_qs

import orjson
from graphql import (
    GraphQLError,
    parse,
)
from prometheus_client import Gauge
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors import AppError, RateLimited
from app.graphql_limits import selected_operation
from app.metrics import HTTP_STATS, REGISTRY, REQUESTS_REFUSED
from app.ratelimit import ClientAddresses, RateLimiter, client_address
from app.settings import Settings
from app.upstream._http import track_data_sources
from app.upstream.resilience import start_deadline

access_log = logging.getLogger("naap.access")

# The current request's id, for every log line written while it runs.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

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

READINESS = Gauge(
    "naap_readiness",
    "Readiness checks as last seen by /readyz (1 ok, 0 failing): started, "
    "database, cache.",
    ["check"],
    registry=REGISTRY,
)

# Never rate limited, and cheap to probe: load balancers and scrapers call them.
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
MAX_LABEL_FIELDS = 3
# Methods whose requests carry no body unless they say so (Transfer-Encoding).
_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# GraphQL documents larger than this are labelled without being parsed.
_MAX_LABELLED_DOCUMENT = 16 * 1024
_OPERATION_MEMO_SIZE = 1024


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


def user_hash(sub: str) -> str:
    """What the access log says about a user: enough to correlate, not the id."""
    return hashlib.sha256(sub.encode()).hexdigest()[:16]


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
        graphql_fields: dict[str, frozenset[str]],
        deadline: float,
        static_routes: Mapping[str, Route] | None = None,
    ) -> None:
        self.app = app
        self.deadline = deadline
        self.static_routes = dict(static_routes or {})
        self.limiter = limiter
        self.error_body = error_body
        self.max_body = settings.max_body_bytes
        self.max_query = settings.max_query_string_bytes
        self.max_headers = settings.max_header_bytes
        self.clients = ClientAddresses(settings.trusted_proxies)
        self.operations = OperationLabels(graphql_fields)

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
                if "simulator" in sources and not any(
                    name == b"x-data-source" for name, _ in headers
                ):
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
            if refused is None and self.limiter.enabled and path not in EXEMPT_PATHS:
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
            route = self.static_routes.get(path)
            try:
                if route is not None and method in route_methods(route):
                    # A static REST row: a dict lookup instead of Starlette's
                    # router (a regex per route per request) and its exception
                    # middleware; see `static_routes`.
                    scope["route"] = route
                    scope["endpoint"] = route.endpoint
                    scope["path_params"] = {}
                    await route.endpoint(scope, inner_receive, send_observed)
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
            operation = self.operations.label(scope, parts)
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
        direct = _direct_json_handler()
        if direct is not None:
            # The usual production setup: the line goes straight into the buffer,
            # exactly as the logging chain would format it, for a third of the cost.
            created = time.time()
            line = {"ts": _timestamp(created), "level": "info", "logger": LOGGER}
            line.update(fields)
            direct.append(orjson.dumps(line, default=str).decode())
            return
        record = AccessRecord(fields, (method, template, status))
        access_log.handle(record)


LOGGER = access_log.name


def _direct_json_handler() -> BufferedStreamHandler | None:
    """Our buffered JSON handler, when it is the access line's only destination
    and nothing (a filter, another handler, pytest's caplog) would see the record
    on the way; None otherwise, and the record takes the logging chain."""
    if access_log.handlers or access_log.filters or not access_log.propagate:
        return None
    parent = access_log.parent
    while parent is not None and parent is not logging.root:
        if parent.handlers or parent.filters or not parent.propagate:
            return None
        parent = parent.parent
    handlers = logging.root.handlers
    if len(handlers) != 1 or logging.root.filters:
        return None
    handler = handlers[0]
    if (
        type(handler) is not BufferedStreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    return handler


class AccessRecord(logging.LogRecord):
    """The access line's record, built without `LogRecord.__init__`: that one
    gathers the caller, thread and process names (~3 µs), none of which the
    line prints. %-style formatters read `__dict__`, so the other standard
    attributes are copied in from one template dict.
    """

    _TEMPLATE: ClassVar[dict[str, Any]] = {
        "name": access_log.name,
        "levelno": logging.INFO,
        "levelname": "INFO",
        "msg": "%s %s %s",
        "pathname": "",
        "filename": "",
        "module": "",
        "lineno": 0,
        "funcName": "",
        "exc_info": None,
        "exc_text": None,
        "stack_info": None,
        "thread": None,
        "threadName": None,
        "process": None,
        "processName": None,
        "taskName": None,
        "relativeCreated": 0.0,
    }

    def __init__(self, access: dict[str, Any], args: tuple[Any, ...]) -> None:
        self.__dict__.update(self._TEMPLATE)
        self.access = access
        self.args = args
        self.created = created = time.time()
        self.msecs = created % 1 * 1000


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


class OperationLabels:
    """A GraphQL request's bounded metric label, memoised by document bytes."""

    def __init__(self, fields: dict[str, frozenset[str]]) -> None:
        self.fields = fields  # operation type ("query", "mutation") -> root fields
        self._memo: dict[bytes, str] = {}

    def label(self, scope: Scope, body_parts: list[bytes] | None) -> str:
        if scope["method"] == "POST":
            raw = b"".join(body_parts or ())
        else:
            raw = scope["query_string"]
        if not raw:
            return ""  # GraphiQL's page, or nothing asked
        if len(raw) > _MAX_LABELLED_DOCUMENT:
            return "other"
        known = self._memo.get(raw)
        if known is None:
            known = self._compute(raw, post=scope["method"] == "POST")
            if len(self._memo) >= _OPERATION_MEMO_SIZE:
                self._memo.clear()
            self._memo[raw] = known
        return known

    def _compute(self, raw: bytes, *, post: bool) -> str:
        try:
            if post:
                payload = orjson.loads(raw)
            else:
                payload = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()}
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            return "invalid"
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "invalid"
        name = payload.get("operationName")
        try:
            document = parse(payload["query"])
        except GraphQLError:
            return "invalid"
        selected = selected_operation(document, name if isinstance(name, str) else None)
        if selected is None:
            return "invalid"
        kind = selected[0].operation.value
        names = selected[1]
        if names and all(n.startswith("__") for n in names):
            return "introspection"
        names.discard("__typename")
        allowed = self.fields.get(kind, frozenset())
        if not names or len(names) > MAX_LABEL_FIELDS or not names <= allowed:
            return f"{kind}:other"
        return f"{kind}:{','.join(sorted(names))}"


# --- Log formatting ------------------------------------------------------------------


_second: list[Any] = [-1, ""]  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    whole = int(created)
    if whole != _second[0]:  # strftime once a second, not once a line
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Access lines carry their fields; other records
    their message, the request id when logged during a request, and a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if access is not None:
            line.update(access)
        else:
            line["msg"] = record.getMessage()
            rid = request_id.get()
            if rid is not None:
                line["request_id"] = rid
            if record.exc_info:
                line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    """LOG_FORMAT=console: one readable line per record, for humans."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if access is None:
            text = super().format(record)
            rid = request_id.get()
            return text if rid is None else f"{text} [{rid}]"
        parts = [
            self.formatTime(record),
            "INFO access",
            access["method"],
            access["route"],
        ]
        if "operation" in access:
            parts.append(access["operation"])
        parts += [str(access["status"]), f"{access['duration_ms']}ms"]
        parts += [f"{k}={access[k]}" for k in _CONSOLE_KEYS if access.get(k)]
        return " ".join(parts)


_CONSOLE_KEYS = ("cache", "user", "client", "request_id")


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes lines in batches, like nginx's buffered
    `access_log`: one write per 64 KiB, per WARNING-or-worse record (which flushes
    everything before it, so an incident's context is never held back), or per
    second (a daemon thread), and at exit (`logging.shutdown` flushes handlers).

    Why: one access line per request, flushed one by one, is one write(2) per
    request on the hot path — about a third of the access log's cost. The price
    is that a process killed with SIGKILL loses up to a second of access lines.
    """

    def __init__(self, *, max_bytes: int = 64 * 1024, interval: float = 1.0) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="log-flush", daemon=True
        )
        flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle() holds self.lock around emit().
        try:
            line = self.format(record)
        except Exception:  # logging's contract: never raise from a handler
            self.handleError(record)
            return
        self._add(line, record.levelno)

    def append(self, line: str) -> None:
        """An INFO line already formatted (the access log's fast path). No lock:
        `list.append` is atomic, and `_write` swaps the list before joining it, so
        a line appended meanwhile by another thread is written, never lost."""
        line += self.terminator
        self._lines.append(line)
        self._size += len(line)  # approximate under threads; it only paces writes
        if self._size >= self.max_bytes:
            self.flush()

    def _add(self, line: str, levelno: int) -> None:
        line += self.terminator
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.max_bytes or levelno >= logging.WARNING:
            self._write()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def _write(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        self._size = 0
        text = "".join(lines)
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stream closed or broken: nowhere to log
            pass

    def _flush_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            self.flush()


def configure_logging(level: str, log_format: str, loggers: Iterable[str]) -> None:
    """Our formatter on the root handler (installed once, when nobody configured
    logging before us), and `level` on our loggers."""
    root = logging.getLogger()
    if not root.handlers:
        handler = BufferedStreamHandler()
        handler.setFormatter(
            JsonFormatter() if log_format == "json" else ConsoleFormatter()
        )
        root.addHandler(handler)
        root.setLevel(level.upper())
    for name in loggers:
        logging.getLogger(name).setLevel(level.upper())
