"""The one generic REST handler: request -> variables -> operation -> envelope.

Every row of `ROUTES` is served by `handle`, executing its named operation in
process against the same schema the `/graphql` endpoint serves, so the two
surfaces return the same data by construction. Operations are parsed and
validated against the schema once, at startup (`prepare`): a typo fails startup
and `make test`, not a request.

Variables come from the path (`{id}` -> `$id`), the query string (the row's
`params`) and, for rows with `body`, the JSON body, checked against the
variable's GraphQL input type first so that a wrong field is a 400 naming it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import strawberry
from graphql import (
    GraphQLError,
    GraphQLInputType,
    OperationDefinitionNode,
    is_input_type,
    parse,
    print_ast,
    type_from_ast,
    validate,
)
from graphql.utilities import validate_input_value
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.cache_backends import FlightFailed
from app.context import Context, Services
from app.errors import AppError, BadRequest, RateLimited, UpstreamUnavailable
from app.response_cache import Entry, cache_key, to_response
from app.upstream._http import track_data_sources
from rest_facade.envelope import json_response
from rest_facade.params import Variables, first
from rest_facade.routes import ROUTES, RestRoute

log = logging.getLogger("naap.rest")

OPERATIONS_DIR = Path(__file__).parent / "operations"
# (operation, raw query string) -> (cache key, variables): a repeated public read
# skips parameter parsing and key hashing. Bounded; cleared when full.
_QUERY_MEMO: dict[tuple[str, bytes], PlannedRead] = {}
_QUERY_MEMO_SIZE = 4096
_QUERY_MEMO_MAX_QUERY = 2048  # bytes: so the memo stays small
BYPASS_PARAMS = ("refresh", "nocache")
MAX_JSON_BODY = 64 * 1024


class OperationError(RuntimeError):
    """An operation file is missing or does not validate against the schema."""


@dataclass(frozen=True, slots=True)
class Prepared:
    row: RestRoute
    document: str
    body_type: GraphQLInputType | None
    normalized: str  # the document as printed from its AST: the cache key's part


def prepare(
    schema: strawberry.Schema, rows: tuple[RestRoute, ...] = ROUTES
) -> list[Prepared]:
    prepared: list[Prepared] = []
    for row in rows:
        path = OPERATIONS_DIR / f"{row.operation}.graphql"
        try:
            source = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise OperationError(f"{row.path}: cannot read {path}") from exc
        try:
            document = parse(source)
        except GraphQLError as exc:
            raise OperationError(f"{path.name}: {exc.message}") from exc
        errors = validate(schema._schema, document)
        if errors:
            raise OperationError(f"{path.name}: {errors[0].message}")
        operations = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode) and d.name is not None
        }
        operation = operations.get(row.operation)
        if operation is None:
            raise OperationError(f"{path.name} does not define {row.operation}")
        body_type = None
        if row.body is not None:
            definitions = {
                v.variable.name.value: v for v in operation.variable_definitions or ()
            }
            if row.body not in definitions:
                raise OperationError(f"{path.name} has no ${row.body} for the body")
            found = type_from_ast(schema._schema, definitions[row.body].type)
            if not is_input_type(found):
                raise OperationError(f"{path.name}: ${row.body} is not an input")
            body_type = found
        prepared.append(Prepared(row, source, body_type, print_ast(document)))
    return prepared


def load_operations(schema: strawberry.Schema) -> dict[str, str]:
    """Operation name -> document text, for every row (tests use it)."""
    return {p.row.operation: p.document for p in prepare(schema)}


class RowEndpoint:
    """A row's ASGI endpoint: `handle`, without Starlette's per-request function
    wrapper (errors still reach the app's exception middleware)."""

    def __init__(
        self, prepared: Prepared, schema: strawberry.Schema, services: Services
    ) -> None:
        self.handle = partial(
            handle, prepared=prepared, schema=schema, services=services
        )

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        response = await self.handle(Request(scope, receive))
        await response(scope, receive, send)


def build_routes(schema: strawberry.Schema, services: Services) -> list[Route]:
    return [
        Route(
            p.row.path,
            RowEndpoint(p, schema, services),
            methods=list(p.row.methods),
            name=p.row.operation,
        )
        for p in prepare(schema)
    ]


def _text(value: str, name: str) -> str:
    """A path or query value: text a database can store (PostgreSQL refuses NUL)."""
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    return value


def _no_nul(value: Any, path: str) -> None:
    """Every string in a variable or JSON body, keys included, without NUL."""
    if isinstance(value, str):
        _text(value, path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            _text(key, path or "body")
            _no_nul(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _no_nul(item, f"{path}.{index}")


def variables_from_query(row: RestRoute, request: Request) -> dict[str, Any]:
    variables: dict[str, Any] = {
        name: _text(value, name) for name, value in request.path_params.items()
    }
    for name, param in row.params.items():
        raw = first(request.query_params, name)  # a repeated parameter: its first
        if raw is None:
            continue
        value = param.parse(raw)
        if isinstance(value, Variables):
            for item in value.values():
                _no_nul(item, name)
            variables.update(value)
        elif value is not None:
            _no_nul(value, name)  # what is passed on as text (parsers go first)
            variables[param.var] = value
    return variables


_REQUIRED_FIELD = re.compile(r"include required field '([^']+)'")
_UNKNOWN_FIELD = re.compile(r"unknown field '([^']+)'")
_NULL = re.compile(r"non-null type '[^']+' (to be provided|not to be None)")
_WRONG_TYPE = re.compile(
    r"Expected value of type '\[?([A-Za-z]+)|^([A-Za-z]+) cannot represent"
)
_TYPE_WORDS = {
    "String": "string",
    "Int": "integer",
    "Float": "number",
    "Boolean": "boolean",
    "ID": "string",
}


def _problem(message: str, path: list[str | int]) -> str:
    """graphql-core's validation message, said in the body's own terms."""
    field = ".".join(str(p) for p in path) or "body"
    if match := _REQUIRED_FIELD.search(message):
        name = ".".join([*map(str, path), match.group(1)])
        return f"{name} is required"
    if match := _UNKNOWN_FIELD.search(message):
        return f"Unknown field: {'.'.join([*map(str, path), match.group(1)])}"
    if _NULL.search(message):
        return f"{field} is required"
    if match := _WRONG_TYPE.search(message):
        name = match.group(1) or match.group(2)
        kind = _TYPE_WORDS.get(name, name)
        return f"{field} must be a {kind}"
    return f"{field}: {message}"


async def body_variable(request: Request, body_type: GraphQLInputType) -> Any:
    """The JSON body, checked against the input type with field-level messages."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";")[0].strip().lower() != "application/json":
        raise BadRequest("Content-Type must be application/json")
    raw = await request.body()
    if len(raw) > MAX_JSON_BODY:
        raise BadRequest(f"Request body must be at most {MAX_JSON_BODY} bytes")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise BadRequest("Invalid JSON in request body") from exc
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object")
    _no_nul(body, "")
    problems: list[str] = []
    validate_input_value(
        body,
        body_type,
        lambda error, path: problems.append(_problem(error.message, list(path))),
    )
    if problems:
        raise BadRequest(problems[0] if len(problems) == 1 else "; ".join(problems))
    return body


async def handle(
    request: Request,
    *,
    prepared: Prepared,
    schema: strawberry.Schema,
    services: Services,
) -> Response:
    """(Starlette calls any ASGI callable returned here; cached reads return the
    cache's lighter `RawResponse`.)"""
    row = prepared.row
    if row.cache.shared is not None and request.method == "GET":
        # Public reads: no caller to identify, and a cache hit needs no context.
        memo_key = (row.operation, request.scope["query_string"])
        read = _QUERY_MEMO.get(memo_key)
        if read is None:
            try:
                read = _plan_read(prepared, request)
            except AppError as exc:
                return _error(row, exc, row.cache.rejected(request.query_params).header)
            if len(memo_key[1]) <= _QUERY_MEMO_MAX_QUERY:
                if len(_QUERY_MEMO) >= _QUERY_MEMO_SIZE:
                    _QUERY_MEMO.clear()
                _QUERY_MEMO[memo_key] = read
        response = await _cached(request, prepared, schema, services, read)
        return response  # type: ignore[no-any-return]

    query = request.query_params
    bypass = any(first(query, name) == "1" for name in BYPASS_PARAMS)
    context = Context.for_request(services, request, bypass_cache=bypass)
    try:
        if row.auth:
            # Spec §8's order: who is asking (401), CSRF (403), then the input (400),
            # so anonymous clients cannot probe the validation.
            await context.user(write=request.method != "GET")
        variables = variables_from_query(row, request)
        if prepared.body_type is not None and row.body is not None:
            variables[row.body] = await body_variable(request, prepared.body_type)
    except AppError as exc:
        return _error(row, exc, row.cache.rejected(query).header)

    status, body, error = await _execute(prepared, schema, context, variables)
    if error is not None:
        if bypass:
            cache_control = "no-store"
        elif error.status >= 500:
            cache_control = row.cache.failure(query).header
        else:
            cache_control = row.cache.rejected(query).header
        return _error(row, error, cache_control)
    policy = row.cache.failure(query) if context.degraded else row.cache.success(query)
    headers = {"cache-control": "no-store" if bypass else policy.header}
    return json_response(body, status, headers)


async def _execute(
    prepared: Prepared,
    schema: strawberry.Schema,
    context: Context,
    variables: dict[str, Any],
) -> tuple[int, Any, AppError | None]:
    """Run the row's operation: (status, envelope body, the error if any)."""
    row = prepared.row
    result = await schema.execute(
        prepared.document,
        variable_values=variables,
        context_value=context,
        operation_name=row.operation,
    )
    if result.errors:
        error = _first_app_error(result.errors)
        return error.status, row.envelope.error(error.code, error.message), error
    data = pick(result.data, row.pick)
    meta = None
    if row.meta is not None and isinstance(data, dict):
        data = dict(data)
        meta = data.pop(row.meta)
    return 200, row.envelope.success(data, meta), None


@dataclass(frozen=True, slots=True)
class PlannedRead:
    """Everything a public read derives from its query string, computed once."""

    key: str
    variables: dict[str, Any]
    bypass: bool
    success: str  # Cache-Control headers for this query string
    failure: str
    rejected: str


def _plan_read(prepared: Prepared, request: Request) -> PlannedRead:
    row = prepared.row
    query = request.query_params
    variables = variables_from_query(row, request)
    return PlannedRead(
        key=cache_key(
            "rest " + row.path, prepared.normalized, row.operation, variables
        ),
        variables=variables,
        bypass=any(first(query, name) == "1" for name in BYPASS_PARAMS),
        success=row.cache.success(query).header,
        failure=row.cache.failure(query).header,
        rejected=row.cache.rejected(query).header,
    )


async def _cached(
    request: Request,
    prepared: Prepared,
    schema: strawberry.Schema,
    services: Services,
    read: PlannedRead,
) -> Any:
    """A public read through the response cache (see app/response_cache.py)."""
    row = prepared.row
    shared = row.cache.shared
    assert shared is not None  # noqa: S101  (only called for shared rows)
    freshness = services.freshness[shared]
    variables = read.variables

    async def fetch() -> Entry:
        sources = track_data_sources()
        context = Context.for_request(services, request, bypass_cache=read.bypass)
        status, body, _ = await _execute(prepared, schema, context, variables)
        headers = {"content-type": "application/json"}
        if "simulator" in sources:
            headers["x-data-source"] = "simulator"
        return Entry.build(
            status=status,
            body=orjson.dumps(body),
            headers=headers,
            freshness=freshness,
            cacheable=status == 200 and not context.degraded,
            now=services.responses.clock(),
        )

    try:
        entry, x_cache = await services.responses.serve(
            read.key, fetch, bypass=read.bypass
        )
    except FlightFailed:
        error = UpstreamUnavailable("Service unavailable")
        return _error(row, error, read.failure)
    if read.bypass:
        cache_control = "no-store"
    elif entry.status == 200:
        cache_control = read.success if entry.cacheable else read.failure
    elif entry.status >= 500:
        cache_control = read.failure
    else:
        cache_control = read.rejected
    return to_response(
        entry,
        x_cache,
        request.headers,
        cache_control=cache_control,
        now=services.responses.clock(),
    )


def pick(data: Any, path: str) -> Any:
    for part in filter(None, path.split(".")):
        data = None if data is None else data.get(part)
    return data


def _first_app_error(errors: list[GraphQLError]) -> AppError:
    for error in errors:
        if isinstance(error.original_error, AppError):
            return error.original_error
    for error in errors:
        code = (error.extensions or {}).get("code")
        if error.path is None and code != "INTERNAL_ERROR":
            # Variable coercion or validation (no path: nothing was executed; a
            # value out of Int's range carries a GraphQLError as its original):
            # the request, not the server, is wrong.
            return BadRequest(error.message)
    log.error("unexpected error in a REST operation: %s", errors[0].message)
    return AppError("Internal error")


def _error(row: RestRoute, error: AppError, cache_control: str) -> Response:
    headers = {"cache-control": cache_control}
    details = None
    if isinstance(error, RateLimited):
        headers["retry-after"] = str(error.retry_after)
        details = {"retryAfter": error.retry_after}
    return json_response(
        row.envelope.error(error.code, error.message, details), error.status, headers
    )
