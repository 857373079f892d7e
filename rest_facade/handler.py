"""The one generic REST handler: request -> variables -> operation -> envelope.

Every row of `ROUTES` is served by `handle`, executing its named operation in
process against the same schema `/graphql` serves. Public rows go through the
cached read (app/caching/read.py) with the same plan a GraphQL query of the same
data gets, so both surfaces answer from the same snapshots. Variables come from
the path (`{id}` -> `$id`), the query string (the row's `params`) and, for rows
with `body`, the JSON body.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import GraphQLError
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.caching.plan import ReadPlan, plan_read
from app.caching.read import Found, Rendered
from app.caching.render import render_key, to_response
from app.context import Context, Services
from app.errors import AppError, BadRequest, RateLimited
from app.schema import PUBLIC_FIELDS, graphql_schema
from rest_facade.body import body_variable, no_nul, text
from rest_facade.envelope import json_response
from rest_facade.params import Variables, first
from rest_facade.prepare import Prepared, prepare
from rest_facade.routes import RestRoute

log = logging.getLogger("naap.rest")

BYPASS_PARAMS = ("refresh", "nocache")
# A repeated public read skips parameter parsing, planning and hashing; bounded.
_MEMO_SIZE = 4096
_MEMO_MAX_QUERY = 2048  # bytes of query string


@dataclass(frozen=True, slots=True)
class PlannedRead:
    """Everything a public read derives from its query string, computed once."""

    plan: ReadPlan | None  # None: the arguments do not plan; executed uncached
    render_key: str
    variables: dict[str, Any]
    bypass: bool
    success: str  # Cache-Control headers for this query string
    failure: str
    rejected: str


class RowEndpoint:
    """A row's ASGI endpoint (Starlette calls any ASGI app a route points at)."""

    def __init__(
        self, prepared: Prepared, schema: strawberry.Schema, services: Services
    ) -> None:
        self.prepared = prepared
        self.schema = schema
        self.services = services
        self._reads: dict[bytes, PlannedRead] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        row = self.prepared.row
        if row.cache.shared and request.method == "GET":
            response: Any = await self._public(request)
        else:
            response = await handle(request, self.prepared, self.schema, self.services)
        await response(scope, receive, send)

    async def _public(self, request: Request) -> Any:
        raw = request.scope["query_string"]
        read = self._reads.get(raw)
        if read is None:
            try:
                read = self._plan(request)
            except AppError as exc:
                rejected = self.prepared.row.cache.rejected(request.query_params)
                return _error(self.prepared.row, exc, rejected.header)
            if len(raw) <= _MEMO_MAX_QUERY:
                if len(self._reads) >= _MEMO_SIZE:
                    self._reads.clear()
                self._reads[raw] = read
        return await _cached(request, self.prepared, self.schema, self.services, read)

    def _plan(self, request: Request) -> PlannedRead:
        prepared, row = self.prepared, self.prepared.row
        query = request.query_params
        variables = variables_from_query(row, request)
        plan = plan_read(
            graphql_schema(self.schema),
            prepared.ast,
            row.operation,
            variables,
            PUBLIC_FIELDS,
        )
        return PlannedRead(
            plan=plan,
            render_key=render_key(
                "rest " + row.path, prepared.normalized, row.operation, variables
            ),
            variables=variables,
            bypass=any(first(query, name) == "1" for name in BYPASS_PARAMS),
            success=row.cache.success(query).header,
            failure=row.cache.failure(query).header,
            rejected=row.cache.rejected(query).header,
        )


class PathEndpoint:
    """The rows of one path (`GET` and `DELETE /keys/{id}`), as one route: so a
    405 on that path lists every method it takes in `Allow`."""

    def __init__(self, rows: dict[str, RowEndpoint]) -> None:
        self.rows = rows
        if "GET" in rows:
            self.rows.setdefault("HEAD", rows["GET"])

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await self.rows[scope["method"]](scope, receive, send)


def build_routes(schema: strawberry.Schema, services: Services) -> list[Route]:
    """One route per path of the table, in the table's order."""
    by_path: dict[str, dict[str, RowEndpoint]] = {}
    names: dict[str, list[str]] = {}
    for prepared in prepare(schema):
        row = prepared.row
        row_endpoint = RowEndpoint(prepared, schema, services)
        for method in row.methods:
            by_path.setdefault(row.path, {})[method] = row_endpoint
        names.setdefault(row.path, []).append(row.operation)
    routes = []
    for path, rows in by_path.items():
        methods = list(rows)
        endpoint: RowEndpoint | PathEndpoint = (
            next(iter(rows.values())) if len(rows) == 1 else PathEndpoint(dict(rows))
        )
        routes.append(
            Route(path, endpoint, methods=methods, name="+".join(names[path]))
        )
    return routes


def variables_from_query(row: RestRoute, request: Request) -> dict[str, Any]:
    variables: dict[str, Any] = {
        name: text(value, name) for name, value in request.path_params.items()
    }
    for name, param in row.params.items():
        raw = first(request.query_params, name)  # a repeated parameter: its first
        if raw is None:
            continue
        value = param.parse(raw)
        if isinstance(value, Variables):
            for item in value.values():
                no_nul(item, name)
            variables.update(value)
        elif value is not None:
            no_nul(value, name)  # what is passed on as text (parsers go first)
            variables[param.var] = value
    return variables


async def handle(
    request: Request, prepared: Prepared, schema: strawberry.Schema, services: Services
) -> Response:
    """A row outside the cached read: authenticated, or a write."""
    row = prepared.row
    query = request.query_params
    bypass = any(first(query, name) == "1" for name in BYPASS_PARAMS)
    context = Context.for_request(services, request)
    try:
        if row.auth:
            # Who is asking (401), CSRF (403), then the input (400), so anonymous
            # clients cannot probe the validation.
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


async def _cached(
    request: Request,
    prepared: Prepared,
    schema: strawberry.Schema,
    services: Services,
    read: PlannedRead,
) -> Any:
    """A public read: the row's snapshots through the cached read."""

    async def render(found: Found | None) -> Rendered:
        context = Context.for_request(services, request, found=found)
        status, body, _ = await _execute(prepared, schema, context, read.variables)
        complete = status == 200 and not context.degraded
        return Rendered(status, orjson.dumps(body), complete)

    if read.plan is None:  # arguments a resolver refuses: answered, never shared
        rendered = await render(None)
        cache_control = read.failure if rendered.status >= 500 else read.rejected
        return Response(
            rendered.body,
            rendered.status,
            {"cache-control": cache_control},
            media_type="application/json",
        )
    served = await services.reads.read(
        read.plan, read.render_key, render, bypass=read.bypass, surface="rest"
    )
    status = served.entry.status
    if read.bypass:
        cache_control = "no-store"
    elif status == 200:
        cache_control = read.success if served.complete else read.failure
    elif status >= 500:
        cache_control = read.failure
    else:
        cache_control = read.rejected
    return to_response(
        served.entry,
        served.x_cache,
        request.scope["headers"],
        cache_control=cache_control,
        age=served.age,
    )


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
