"""A deterministic stand-in for the three upstreams the API server calls (ASGI app).

    GET  /v1/<path>   the NAAP Analytics API endpoints the server uses (Go wire format)
    GET  /healthz     {"status":"ok"}
    POST /subgraph    GraphQL over HTTP against a small Livepeer-subgraph-like schema
    POST /rpc         Ethereum JSON-RPC (eth_blockNumber, eth_chainId)
    GET  /oauth/<slug>/authorize   a billing provider's OAuth 2.0 authorization
    POST /oauth/<slug>/token       endpoint (authorization code + PKCE S256)

The server reaches it in-process through `httpx.ASGITransport` when an upstream URL is
unset; `python -m simulator` (used by `make sim`) serves it on a port.
Every response is computed from `clock()` at request time by the world model in
`simulator.world`, so data moves with the clock and the same seed and clock value give
byte-identical bodies. JSON is encoded the way Go's encoding/json does it (compact,
integral floats without `.0`, trailing newline) so clients meet the real byte shapes.

Faults are keyed by endpoint key (the analytics path after `/v1/`, `healthz`,
`subgraph`, `rpc`, `oauth/<slug>/authorize`, `oauth/<slug>/token`, or `*` for all; a
specific key wins over `*`). They are read per
request from `app.state.faults`, a plain dict tests may mutate. `app.state.calls`
counts requests per endpoint key as they arrive, before any fault applies.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import secrets
import string
import sys
from collections import Counter
from collections.abc import (
    AsyncIterator,
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http import HTTPStatus
from types import MappingProxyType
from typing import Any, Final
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from graphql import GraphQLError, build_schema, graphql_sync
from starlette.applications import Starlette
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

from simulator.units import JSON
from simulator.world import SimWorld


@dataclass(frozen=True, slots=True)
class Fault:
    """How one endpoint misbehaves. Precedence: redirect, status, body, real answer;
    `latency` delays any of them and `drip_bytes_per_s` slows the chosen body."""

    latency: float = 0.0  # seconds to sleep before answering (asyncio.sleep)
    status: int | None = None  # answer this status with the upstream's error body
    body: bytes | None = None  # answer 200 with exactly these bytes
    content_type: str = "application/json"
    drip_bytes_per_s: float | None = None  # stream the body this slowly
    redirect_to: str | None = None  # answer 302 with this Location


DEFAULT_WINDOW_HOURS: Final = 24
MAX_WINDOW_HOURS: Final = 168
PIPELINES_LIMIT: Final = (5, 20)  # (default, cap)
JOB_FEED_LIMIT: Final = (50, 200)
SUBGRAPH_MAX_FIRST: Final = 1000
JSON_TYPE: Final = "application/json"
PROBLEM_TYPE: Final = "application/problem+json"

# ---------------------------------------------------------------------------
# Go-compatible JSON encoding.

_GO_HTML_ESCAPES: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _go_float(value: float) -> str:
    """strconv.FormatFloat as encoding/json uses it: shortest round-trip digits,
    positional unless the magnitude is below 1e-6 or at least 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"JSON cannot encode {value!r}")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if 1e-6 <= abs(value) < 1e21 and "e" in text:
        return format(Decimal(text), "f")  # Python switches to exponents earlier
    return re.sub(r"e-0(\d)$", r"e-\g<1>", text)  # Go prints e-7, not e-07


def _go_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return re.sub("[<>&]", lambda m: _GO_HTML_ESCAPES[m.group()], text)
    if isinstance(value, Mapping):
        fields = (f"{_go_json(str(k))}:{_go_json(v)}" for k, v in value.items())
        return "{" + ",".join(fields) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """Go's json.Encoder output: compact, newline-terminated."""
    return (_go_json(value) + "\n").encode()


def _json_response(
    value: Any, status: int = 200, media_type: str = JSON_TYPE
) -> Response:
    return Response(encode_json(value), status_code=status, media_type=media_type)


# ---------------------------------------------------------------------------
# Query parameters, parsed the way the Go handlers parse them (spec §12.2).

_GO_INT: Final = re.compile(r"[+-]?\d+")
_INT64_MAX: Final = 2**63 - 1


def _atoi(text: str) -> int | None:
    """strconv.Atoi: an optional sign and decimal digits only; None on failure."""
    if not _GO_INT.fullmatch(text):
        return None
    number = int(text)
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else None


def parse_window_hours(raw: str | None) -> int:
    """`<n>h`, `<n>d` or bare hours; non-positive or unparsable -> 24; max 168."""
    text = (raw or "").strip()
    if text.endswith("d"):
        days = _atoi(text[:-1])
        hours = None if days is None else days * 24
    else:
        hours = _atoi(text.removesuffix("h"))
    if hours is None or hours <= 0:
        return DEFAULT_WINDOW_HOURS
    return min(hours, MAX_WINDOW_HOURS)


def parse_limit(raw: str | None, *, default: int, cap: int) -> int:
    """A positive integer capped at `cap`; anything else -> `default`."""
    number = _atoi((raw or "").strip())
    if number is None or number <= 0:
        return default
    return min(number, cap)


def _param(query: QueryParams, name: str) -> str | None:
    # Go's Query().Get returns the first value; Starlette's .get the last.
    values = query.getlist(name)
    return values[0] if values else None


# ---------------------------------------------------------------------------
# Analytics endpoints: endpoint key -> payload builder.

Builder = Callable[[SimWorld, datetime, QueryParams], object]


def _kpi(world: SimWorld, now: datetime, query: QueryParams) -> object:
    hours = parse_window_hours(_param(query, "window"))
    pipeline = _param(query, "pipeline") or ""
    return world.kpi(now, hours, pipeline, _param(query, "model_id") or "")


def _pipelines(world: SimWorld, now: datetime, query: QueryParams) -> object:
    default, cap = PIPELINES_LIMIT
    limit = parse_limit(_param(query, "limit"), default=default, cap=cap)
    return world.pipelines(now, parse_window_hours(_param(query, "window")), limit)


def _orchestrators(world: SimWorld, now: datetime, query: QueryParams) -> object:
    return world.orchestrators_table(now, parse_window_hours(_param(query, "window")))


def _job_feed(world: SimWorld, now: datetime, query: QueryParams) -> object:
    default, cap = JOB_FEED_LIMIT
    return world.job_feed(
        now, parse_limit(_param(query, "limit"), default=default, cap=cap)
    )


def _fixed(view: Callable[[SimWorld, datetime], object]) -> Builder:
    """Endpoints with no parameters (gpu-capacity ignores `window`, the inventory
    endpoints ignore `limit`), as upstream does."""
    return lambda world, now, _query: view(world, now)


ANALYTICS_ENDPOINTS: Final[Mapping[str, Builder]] = {
    "dashboard/kpi": _kpi,
    "dashboard/pipelines": _pipelines,
    "dashboard/orchestrators": _orchestrators,
    "dashboard/gpu-capacity": _fixed(SimWorld.gpu_capacity),
    "dashboard/pipeline-catalog": _fixed(SimWorld.pipeline_catalog),
    "dashboard/pricing": _fixed(SimWorld.pricing),
    "dashboard/job-feed": _job_feed,
    "streaming/models": _fixed(SimWorld.streaming_models),
    "streaming/orchestrators": _fixed(SimWorld.streaming_orchestrators),
    "requests/models": _fixed(SimWorld.requests_models),
    "requests/orchestrators": _fixed(SimWorld.requests_orchestrators),
}
ENDPOINT_KEYS: Final = (*ANALYTICS_ENDPOINTS, "healthz", "subgraph", "rpc")

# ---------------------------------------------------------------------------
# Subgraph: real GraphQL execution over a Livepeer-subgraph-like schema.

SUBGRAPH_SDL: Final = """
scalar BigInt
scalar BigDecimal

enum Day_orderBy { id date }
enum OrderDirection { asc desc }

type Round { id: ID! startBlock: BigInt! initialized: Boolean! }

type Protocol {
  id: ID!
  roundLength: BigInt!
  totalActiveStake: BigDecimal!
  currentRound: Round
  totalVolumeETH: BigDecimal!
  totalVolumeUSD: BigDecimal!
}

type Day { id: ID! date: Int! volumeETH: BigDecimal! volumeUSD: BigDecimal! }

type Query {
  protocol(id: ID!): Protocol
  days(first: Int = 100, skip: Int = 0, orderBy: Day_orderBy,
       orderDirection: OrderDirection): [Day!]!
}
"""
# BigInt/BigDecimal values are already strings, as The Graph serialises them.
SUBGRAPH_SCHEMA: Final = build_schema(SUBGRAPH_SDL)


def _subgraph_root(world: SimWorld, now: datetime) -> dict[str, object]:
    def protocol(_info: object, **args: Any) -> JSON | None:
        return world.protocol(now) if str(args["id"]) == "0" else None

    def days(_info: object, **args: Any) -> list[JSON]:
        first = 100 if args.get("first") is None else int(args["first"])
        skip = 0 if args.get("skip") is None else int(args["skip"])
        if first < 0 or skip < 0:
            raise GraphQLError("`first` and `skip` must not be negative")
        rows = world.fee_days(now)  # ascending by date, which is also id order
        if args.get("orderDirection") == "desc":
            rows.reverse()
        return rows[skip : skip + min(first, SUBGRAPH_MAX_FIRST)]

    return {"protocol": protocol, "days": days}


def _graphql_errors(message: str, status: int = 400) -> Response:
    return _json_response({"errors": [{"message": message}]}, status)


def _subgraph_answer(world: SimWorld, now: datetime, payload: object) -> Response:
    if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
        return _graphql_errors("the body must be a JSON object with a string `query`")
    variables = payload.get("variables")
    if variables is not None and not isinstance(variables, dict):
        return _graphql_errors("`variables` must be a JSON object")
    operation = payload.get("operationName")
    result = graphql_sync(
        SUBGRAPH_SCHEMA,
        payload["query"],
        root_value=_subgraph_root(world, now),
        variable_values=variables,
        operation_name=operation if isinstance(operation, str) else None,
    )
    if not result.errors:
        return _json_response({"data": result.data})
    # Like The Graph: invalid queries are still HTTP 200, with `errors`.
    body: JSON = {"errors": [error.formatted for error in result.errors]}
    if result.data is not None:
        body["data"] = result.data
    return _json_response(body)


# ---------------------------------------------------------------------------
# L1 JSON-RPC.


def _rpc_error(request_id: object, code: int, message: str) -> JSON:
    return {
        "jsonrpc": "2.0",
        "id": request_id,
        "error": {"code": code, "message": message},
    }


def _rpc_reply(world: SimWorld, now: datetime, message: object) -> JSON:
    if not isinstance(message, dict) or not isinstance(message.get("method"), str):
        request_id = message.get("id") if isinstance(message, dict) else None
        return _rpc_error(request_id, -32600, "Invalid Request")
    request_id = message.get("id")
    method = message["method"]
    if method == "eth_blockNumber":
        result = hex(world.block_number(now))
    elif method == "eth_chainId":
        result = "0x1"
    else:
        return _rpc_error(request_id, -32601, "Method not found")
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def _rpc_answer(world: SimWorld, now: datetime, raw: bytes) -> Response:
    try:
        payload = json.loads(raw)
    except ValueError:
        return _json_response(_rpc_error(None, -32700, "Parse error"))
    if isinstance(payload, list):
        if not payload:
            return _json_response(_rpc_error(None, -32600, "Invalid Request"))
        return _json_response([_rpc_reply(world, now, item) for item in payload])
    return _json_response(_rpc_reply(world, now, payload))


# ---------------------------------------------------------------------------
# OAuth 2.0 billing providers: authorization code (RFC 6749 §4.1) with PKCE S256
# (RFC 7636). The simulated user always consents, unless the slug is in `oauth_deny`.

DEFAULT_OAUTH_CLIENTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "daydream": ("naap-dev-daydream", "naap-dev-daydream-secret"),
        "pymthouse": ("naap-dev-pymthouse", "naap-dev-pymthouse-secret"),
    }
)
OAUTH_CODE_TTL: Final = timedelta(seconds=60)
OAUTH_MAX_CODES: Final = 10_000  # oldest dropped first beyond this
OAUTH_TOKEN_EXPIRES_IN: Final = 3600
OAUTH_FORM_TYPE: Final = "application/x-www-form-urlencoded"
# slug -> (prefix, number of base62 characters), as the real providers' keys look.
PROVIDER_KEY_SHAPES: Final[Mapping[str, tuple[str, int]]] = MappingProxyType(
    {"daydream": ("dd_", 40), "pymthouse": ("pmth_", 32)}
)
DEFAULT_PROVIDER_KEY_SHAPE: Final = ("sk_", 40)

_BASE62: Final = string.digits + string.ascii_letters
_CODE_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43,128}")  # base64url
_CODE_VERIFIER: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # RFC 7636 §4.1
_NO_STORE: Final = {"cache-control": "no-store", "pragma": "no-cache"}


def provider_api_key(slug: str) -> str:
    """A fresh key shaped like the provider's real ones, from `secrets`."""
    prefix, length = PROVIDER_KEY_SHAPES.get(slug, DEFAULT_PROVIDER_KEY_SHAPE)
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


def _s256(verifier: str) -> str:
    # Deliberately not app.developer.crypto.pkce_challenge: the provider is
    # independent of the client, so a bug on one side cannot hide behind the
    # same bug on the other.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(slots=True)
class OAuthCode:
    """An issued authorization code, kept until it expires (used ones too, so a
    replay is recognised)."""

    slug: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str | None
    issued_at: datetime
    used: bool = False


class _OAuthError(Exception):
    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["www-authenticate"] = 'Basic realm="oauth"'
        body = {"error": self.error, "error_description": self.description}
        return Response(
            encode_json(body),
            status_code=self.status,
            media_type=JSON_TYPE,
            headers=headers,
        )


def _invalid_request(description: str) -> _OAuthError:
    return _OAuthError("invalid_request", description)


def _single(params: Sequence[tuple[str, str]], name: str) -> str | None:
    """A parameter's value; empty counts as absent and repeats are an error
    (RFC 6749 §3.1, §3.2)."""
    values = [value for key, value in params if key == name]
    if len(values) > 1:
        raise _invalid_request(f"`{name}` must not be repeated")
    return values[0] if values and values[0] else None


def _required(params: Sequence[tuple[str, str]], name: str) -> str:
    value = _single(params, name)
    if value is None:
        raise _invalid_request(f"`{name}` is required")
    return value


def _is_redirect_uri(uri: str) -> bool:
    """An absolute http(s) URL without a fragment, in printable ASCII."""
    if not uri.isascii() or any(ch <= " " or ch == "\x7f" for ch in uri):
        return False
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "#" not in uri


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    """`uri` with `params` appended to its query, which is otherwise kept."""
    parts = urlsplit(uri)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _basic_credentials(header: str) -> tuple[str, str]:
    """HTTP Basic client credentials, form-urlencoded first (RFC 6749 §2.3.1)."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise _OAuthError("invalid_client", "unsupported authentication scheme", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise _OAuthError(
            "invalid_client", "malformed Basic credentials", 401
        ) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise _OAuthError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)


# ---------------------------------------------------------------------------
# Faults.


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_OAUTH_FAULT_ERRORS: Final = {401: "invalid_client", 503: "temporarily_unavailable"}


def _error_response(key: str, status: int) -> Response:
    """The body each upstream sends with an error status."""
    reason = _reason(status)
    if key.startswith("oauth/"):
        error = _OAUTH_FAULT_ERRORS.get(status)
        if error is None:
            error = "server_error" if status >= 500 else "invalid_request"
        return _OAuthError(error, f"{status} {reason}", status).response()
    if key == "subgraph":
        return _graphql_errors(f"{status} {reason}", status)
    if key == "rpc":
        return _json_response(_rpc_error(None, -32603, reason), status)
    problem = {"type": "about:blank", "title": reason, "status": status}
    return _json_response(problem, status, PROBLEM_TYPE)


def _drip(response: Response, bytes_per_second: float) -> StreamingResponse:
    body = bytes(response.body)
    chunk = max(1, int(bytes_per_second / 10))  # about ten writes a second

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            piece = body[start : start + chunk]
            await asyncio.sleep(len(piece) / bytes_per_second)
            yield piece

    return StreamingResponse(
        pieces(), status_code=response.status_code, media_type=response.media_type
    )


async def _apply_fault(
    fault: Fault, key: str, answer: Callable[[], Awaitable[Response]]
) -> Response:
    if fault.latency > 0:
        await asyncio.sleep(fault.latency)
    if fault.redirect_to is not None:
        return Response(status_code=302, headers={"location": fault.redirect_to})
    if fault.status is not None:
        response = _error_response(key, fault.status)
    elif fault.body is not None:
        response = Response(fault.body, media_type=fault.content_type)
    else:
        response = await answer()
    if fault.drip_bytes_per_s:
        return _drip(response, fault.drip_bytes_per_s)
    return response


# ---------------------------------------------------------------------------
# The app.

Answer = Callable[[Request, datetime], Awaitable[Response]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Simulator:
    world: SimWorld
    clock: Callable[[], datetime]
    faults: dict[str, Fault]
    calls: Counter[str]
    oauth_clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    oauth_codes: dict[str, OAuthCode] = field(default_factory=dict)
    oauth_deny: set[str] = field(default_factory=set)

    def now(self) -> datetime:
        moment = self.clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def fault_for(self, key: str) -> Fault | None:
        return self.faults.get(key, self.faults.get("*"))

    async def serve(self, key: str, request: Request, answer: Answer) -> Response:
        self.calls[key] += 1
        fault = self.fault_for(key)
        if fault is None:
            return await answer(request, self.now())
        return await _apply_fault(fault, key, lambda: answer(request, self.now()))

    def endpoint(
        self, key: str, answer: Answer
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self.serve(key, request, answer)

        return handle

    def analytics(self, build: Builder) -> Answer:
        async def answer(request: Request, now: datetime) -> Response:
            return _json_response(build(self.world, now, request.query_params))

        return answer

    async def healthz(self, _request: Request, _now: datetime) -> Response:
        return _json_response({"status": "ok"})

    async def subgraph(self, request: Request, now: datetime) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return _graphql_errors("the body is not valid JSON")
        return _subgraph_answer(self.world, now, payload)

    async def rpc(self, request: Request, now: datetime) -> Response:
        return _rpc_answer(self.world, now, await request.body())

    # OAuth provider ---------------------------------------------------------

    def oauth_endpoint(
        self, action: str, answer: Answer
    ) -> Callable[[Request], Awaitable[Response]]:
        """Key `oauth/<slug>/<action>`; a slug with no configured client is 404."""

        async def handle(request: Request) -> Response:
            slug = request.path_params["slug"]
            if slug not in self.oauth_clients:
                return _page_not_found()
            return await self.serve(f"oauth/{slug}/{action}", request, answer)

        return handle

    def purge_codes(self, now: datetime) -> None:
        expired = [
            code
            for code, issued in self.oauth_codes.items()
            if now - issued.issued_at > OAUTH_CODE_TTL
        ]
        for code in expired:
            del self.oauth_codes[code]

    async def authorize(self, request: Request, now: datetime) -> Response:
        self.purge_codes(now)
        try:
            return self._authorize(request, now)
        except _OAuthError as error:
            return error.response()

    def _authorize(self, request: Request, now: datetime) -> Response:
        # Every check fails with 400 and no redirect: in particular a bad client_id
        # or redirect_uri must never redirect (RFC 6749 §4.1.2.1).
        slug = request.path_params["slug"]
        params = request.query_params.multi_items()
        client_id = _required(params, "client_id")
        if client_id != self.oauth_clients[slug][0]:
            raise _invalid_request("unknown `client_id`")
        redirect_uri = _required(params, "redirect_uri")
        if not _is_redirect_uri(redirect_uri):
            raise _invalid_request("`redirect_uri` must be an absolute http(s) URL")
        if _required(params, "response_type") != "code":
            raise _invalid_request("`response_type` must be `code`")
        state = _required(params, "state")
        if _required(params, "code_challenge_method") != "S256":
            raise _invalid_request("`code_challenge_method` must be `S256`")
        challenge = _required(params, "code_challenge")
        if not _CODE_CHALLENGE.fullmatch(challenge):
            raise _invalid_request("`code_challenge` must be 43-128 base64url chars")
        scope = _single(params, "scope")
        if slug in self.oauth_deny:
            answer = {"error": "access_denied", "state": state}
        else:
            while len(self.oauth_codes) >= OAUTH_MAX_CODES:
                del self.oauth_codes[next(iter(self.oauth_codes))]
            code = secrets.token_urlsafe(32)
            self.oauth_codes[code] = OAuthCode(
                slug, client_id, redirect_uri, challenge, scope, now
            )
            answer = {"code": code, "state": state}
        location = _with_query(redirect_uri, answer)
        return Response(status_code=302, headers={"location": location, **_NO_STORE})

    async def token(self, request: Request, now: datetime) -> Response:
        self.purge_codes(now)
        try:
            return self._token(request, await request.body())
        except _OAuthError as error:
            return error.response()

    def _client(
        self, request: Request, params: Sequence[tuple[str, str]]
    ) -> tuple[str, str]:
        """The authenticated client (id, secret): Basic auth or the form body."""
        header = request.headers.get("authorization")
        body_id = _single(params, "client_id")
        if header is None:
            client_id, secret = body_id, _single(params, "client_secret")
            if client_id is None or secret is None:
                raise _OAuthError("invalid_client", "client credentials missing", 401)
        else:
            client_id, secret = _basic_credentials(header)
            if _single(params, "client_secret") is not None:
                raise _invalid_request("use one client authentication method")
            if body_id is not None and body_id != client_id:
                raise _invalid_request("`client_id` differs from the Basic user")
        expected_id, expected_secret = self.oauth_clients[request.path_params["slug"]]
        id_ok = hmac.compare_digest(client_id.encode(), expected_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), expected_secret.encode())
        if not (id_ok and secret_ok):
            raise _OAuthError("invalid_client", "client authentication failed", 401)
        return client_id, secret

    def _token(self, request: Request, body: bytes) -> Response:
        media_type = request.headers.get("content-type", "").partition(";")[0]
        if media_type.strip().lower() != OAUTH_FORM_TYPE:
            raise _invalid_request(f"the body must be {OAUTH_FORM_TYPE}")
        try:
            params = parse_qsl(body.decode(), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise _invalid_request("the body is not a valid form") from None
        slug = request.path_params["slug"]
        client_id, _secret = self._client(request, params)
        grant_type = _required(params, "grant_type")
        if grant_type != "authorization_code":
            raise _OAuthError(
                "unsupported_grant_type", f"grant type `{grant_type}` not supported"
            )
        code = _required(params, "code")
        redirect_uri = _required(params, "redirect_uri")
        verifier = _required(params, "code_verifier")
        issued = self.oauth_codes.get(code)
        if issued is None or (issued.slug, issued.client_id) != (slug, client_id):
            raise _OAuthError("invalid_grant", "the code is unknown or has expired")
        if issued.used:  # a replay; nothing issued earlier is revoked
            raise _OAuthError("invalid_grant", "the code has already been used")
        issued.used = True  # one attempt per code, successful or not
        if redirect_uri != issued.redirect_uri:
            raise _OAuthError("invalid_grant", "`redirect_uri` does not match")
        if not _CODE_VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            _s256(verifier), issued.code_challenge
        ):
            raise _OAuthError("invalid_grant", "PKCE verification failed")
        body_out = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "api_key": provider_api_key(slug),
            "expires_in": OAUTH_TOKEN_EXPIRES_IN,
        }
        return Response(
            encode_json(body_out), media_type=JSON_TYPE, headers=dict(_NO_STORE)
        )


def _page_not_found() -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404)  # chi's text


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return _page_not_found()


def create_simulator(
    *,
    seed: int = 1,
    clock: Callable[[], datetime] | None = None,
    faults: Mapping[str, Fault] | None = None,
    oauth_clients: Mapping[str, tuple[str, str]] | None = None,
    oauth_deny: Iterable[str] = (),
) -> Starlette:
    """The simulator app. `clock` returns an aware UTC datetime (default: now).

    `oauth_clients` maps a billing provider slug to its (client_id, client_secret)
    (default `DEFAULT_OAUTH_CLIENTS`); the simulated user refuses consent for the
    slugs in `oauth_deny`. `app.state.oauth_clients`, `.oauth_deny` and
    `.oauth_codes` (code -> OAuthCode) are the live, mutable state."""
    sim = _Simulator(
        SimWorld(seed),
        clock or _utc_now,
        dict(faults or {}),
        Counter(),
        oauth_clients=dict(
            DEFAULT_OAUTH_CLIENTS if oauth_clients is None else oauth_clients
        ),
        oauth_deny=set(oauth_deny),
    )
    routes = [
        Route(f"/v1/{key}", sim.endpoint(key, sim.analytics(build)), methods=["GET"])
        for key, build in ANALYTICS_ENDPOINTS.items()
    ]
    routes += [
        Route("/healthz", sim.endpoint("healthz", sim.healthz), methods=["GET"]),
        Route("/subgraph", sim.endpoint("subgraph", sim.subgraph), methods=["POST"]),
        Route("/rpc", sim.endpoint("rpc", sim.rpc), methods=["POST"]),
        Route(
            "/oauth/{slug}/authorize",
            sim.oauth_endpoint("authorize", sim.authorize),
            methods=["GET"],
        ),
        Route(
            "/oauth/{slug}/token",
            sim.oauth_endpoint("token", sim.token),
            methods=["POST"],
        ),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.world = sim.world
    app.state.calls = sim.calls
    app.state.faults = sim.faults
    app.state.oauth_clients = sim.oauth_clients
    app.state.oauth_codes = sim.oauth_codes
    app.state.oauth_deny = sim.oauth_deny
    return app


# ---------------------------------------------------------------------------
# CLI: python -m simulator [--host H] [--port P] [--seed S]


def env_lines(host: str, port: int) -> str:
    """The environment that points the API server at a running simulator."""
    netloc = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    base = f"http://{netloc}"
    return (
        f"NAAP_API_SERVER_URL={base}/v1\n"
        f"SUBGRAPH_URL={base}/subgraph\n"
        f"L1_RPC_URL={base}/rpc\n"
    )


def main(argv: Sequence[str] | None = None) -> None:
    import uvicorn  # only the CLI needs a server

    parser = argparse.ArgumentParser(
        prog="python -m simulator",
        description="Serve the deterministic upstream simulator.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8100)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    sys.stdout.write(env_lines(args.host, args.port))
    sys.stdout.flush()
    uvicorn.run(create_simulator(seed=args.seed), host=args.host, port=args.port)
