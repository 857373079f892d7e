"""The one generic REST handler: query string -> variables -> operation -> envelope.

Every row of `ROUTES` is served by `handle`, executing its named operation in
process against the same schema the `/graphql` endpoint serves, so the two
surfaces return the same data by construction. Operations are parsed and validated
against the schema once, at startup (`load_operations`): a typo fails startup and
`make test`, not a request.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

import strawberry
from graphql import GraphQLError, parse, validate
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.cache import NO_STORE
from app.context import Context, Services
from app.errors import AppError, BadRequest
from rest_facade.envelope import json_response
from rest_facade.params import first
from rest_facade.routes import ROUTES, RestRoute

log = logging.getLogger("naap.rest")

OPERATIONS_DIR = Path(__file__).parent / "operations"
BYPASS_PARAMS = ("refresh", "nocache")


class OperationError(RuntimeError):
    """An operation file is missing or does not validate against the schema."""


def load_operations(
    schema: strawberry.Schema, rows: tuple[RestRoute, ...] = ROUTES
) -> dict[str, str]:
    documents: dict[str, str] = {}
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
        names = [getattr(d, "name", None) for d in document.definitions]
        if row.operation not in {n.value for n in names if n is not None}:
            raise OperationError(f"{path.name} does not define {row.operation}")
        documents[row.operation] = source
    return documents


def build_routes(schema: strawberry.Schema, services: Services) -> list[Route]:
    documents = load_operations(schema)
    return [
        Route(
            row.path,
            partial(
                handle,
                row=row,
                schema=schema,
                services=services,
                document=documents[row.operation],
            ),
            methods=list(row.methods),
            name=row.operation,
        )
        for row in ROUTES
    ]


def variables_from_query(row: RestRoute, request: Request) -> dict[str, Any]:
    variables: dict[str, Any] = {}
    for name, param in row.params.items():
        raw = first(request.query_params, name)  # a repeated parameter: its first
        if raw is None:
            continue
        value = param.parse(raw)
        if value is not None:
            variables[param.var] = value
    return variables


def pick(data: Any, path: str) -> Any:
    for part in path.split("."):
        data = None if data is None else data.get(part)
    return data


async def handle(
    request: Request,
    *,
    row: RestRoute,
    schema: strawberry.Schema,
    services: Services,
    document: str,
) -> Response:
    query = request.query_params
    bypass = any(first(query, name) == "1" for name in BYPASS_PARAMS)
    try:
        variables = variables_from_query(row, request)
    except BadRequest as exc:
        return _error(row, exc, NO_STORE.header)

    context = Context(services=services, bypass_cache=bypass)
    result = await schema.execute(
        document,
        variable_values=variables,
        context_value=context,
        operation_name=row.operation,
    )
    if result.errors:
        error = _first_app_error(result.errors)
        policy = row.cache.failure(query) if error.status >= 500 else NO_STORE
        return _error(row, error, NO_STORE.header if bypass else policy.header)

    degraded = bool(context.degraded)
    policy = row.cache.failure(query) if degraded else row.cache.success(query)
    headers = {"cache-control": NO_STORE.header if bypass else policy.header}
    return json_response(
        row.envelope.success(pick(result.data, row.pick)), 200, headers
    )


def _first_app_error(errors: list[GraphQLError]) -> AppError:
    for error in errors:
        if isinstance(error.original_error, AppError):
            return error.original_error
    for error in errors:
        code = (error.extensions or {}).get("code")
        if error.original_error is None and code != "INTERNAL_ERROR":
            # Variable coercion or validation: the request, not the server, is wrong.
            return BadRequest(error.message)
    log.error("unexpected error in a REST operation: %s", errors[0].message)
    return AppError("Internal error")


def _error(row: RestRoute, error: AppError, cache_control: str) -> Response:
    return json_response(
        row.envelope.error(error.code, error.message),
        error.status,
        {"cache-control": cache_control},
    )
