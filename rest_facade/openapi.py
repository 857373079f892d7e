"""`GET /openapi.json`: an OpenAPI 3.1 document generated from the route table.

Nothing is written by hand per row of `ROUTES`: parameters are typed by the
operation's variables and each `Param`'s schema, the request body by the body
variable's input type, the 200 body by the operation's selection set
(`openapi_schema`), and each status the row can answer gets its envelope's error
body (`openapi_responses`). Plain routes are `PlainDoc` rows. A test validates the
document; the fuzz tests check that the server keeps to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLInputType,
    GraphQLSchema,
    OperationDefinitionNode,
    is_input_type,
    parse,
    type_from_ast,
)

from app.auth import AUTH_COOKIE, CSRF_HEADER
from app.schema import graphql_schema
from rest_facade.envelope import Standard
from rest_facade.handler import BYPASS_PARAMS
from rest_facade.openapi_responses import SERVER_WIDE, Responses, success
from rest_facade.openapi_schema import (
    STRING,
    JsonSchema,
    OpenApiError,
    SchemaWalker,
    array,
    closed,
    is_nullable,
    nullable,
)
from rest_facade.prepare import prepare
from rest_facade.routes import ROUTES, RestRoute

__all__ = [
    "GRAPHQL_REQUEST",
    "GRAPHQL_RESULT",
    "HTML_PAGE",
    "STRING",
    "OpenApiError",
    "PlainDoc",
    "PlainResponse",
    "array",
    "build_openapi",
    "closed",
    "nullable",
]

OPENAPI_VERSION = "3.1.0"
SECURITY_SCHEMES: JsonSchema = {
    "bearerAuth": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A JWT from the platform's identity service.",
    },
    "cookieAuth": {
        "type": "apiKey",
        "in": "cookie",
        "name": AUTH_COOKIE,
        "description": "The same JWT in the session cookie; writes then need "
        f"`{CSRF_HEADER}` equal to the CSRF cookie (GET /api/v1/auth/csrf).",
    },
}
_PATH_PARAM = re.compile(r"{([A-Za-z_][A-Za-z0-9_]*)}")


# --- plain routes ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PlainResponse:
    description: str
    content: Mapping[str, JsonSchema] = field(default_factory=dict)  # media -> schema
    headers: Mapping[str, str] = field(default_factory=dict)  # name -> description


@dataclass(frozen=True, slots=True)
class PlainDoc:
    """One method of a plain route (not a row of ROUTES) as the document shows it;
    the route's row in the plain-route table gives its path and method."""

    summary: str
    responses: Mapping[int, PlainResponse]
    query: Mapping[str, JsonSchema] = field(default_factory=dict)
    body: JsonSchema | None = None
    errors: tuple[int, ...] = ()  # statuses answered with the standard error body
    tag: str = "Service"
    request_headers: Mapping[str, JsonSchema] = field(default_factory=dict)


HTML_PAGE: JsonSchema = {"type": "string"}
GRAPHQL_RESULT: JsonSchema = {
    "type": "object",
    "properties": {
        "data": {"type": ["object", "null"]},
        "errors": array({"type": "object"}),
        "extensions": {"type": "object"},
    },
}
GRAPHQL_REQUEST: JsonSchema = {
    "type": "object",
    "required": ["query"],
    "properties": {
        "query": STRING,
        "operationName": {"type": ["string", "null"]},
        "variables": {"type": ["object", "null"]},
    },
}


# --- the document --------------------------------------------------------------------
def build_openapi(
    schema: strawberry.Schema,
    routes: tuple[RestRoute, ...] = ROUTES,
    plain: Sequence[tuple[str, str, PlainDoc]] = (),
    *,
    title: str = "naap-api",
    version: str = "0.1.0",
) -> dict[str, Any]:
    builder = _Builder(graphql_schema(schema))
    paths: dict[str, dict[str, Any]] = {}
    for prepared in prepare(schema, routes):
        document = parse(prepared.document)
        for method in prepared.row.methods:
            operation = builder.route(prepared.row, document, method)
            paths.setdefault(prepared.row.path, {})[method.lower()] = operation
    for path, method, doc in plain:
        paths.setdefault(path, {})[method.lower()] = builder.plain(path, method, doc)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "Generated from the REST route table (rest_facade/routes.py): each "
                "route runs a named GraphQL operation of the schema served at "
                "/graphql. Unknown paths and methods answer 404 / 405 with "
                '`{"error": {"code", "message"}}`.'
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "responses": builder.responses.components,
        },
    }


class _Builder:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.walker = SchemaWalker(schema)
        self.responses = Responses()  # components.responses, filled as used

    # --- rows --------------------------------------------------------------------
    def route(self, row: RestRoute, document: DocumentNode, method: str) -> JsonSchema:
        operation = next(
            d
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
            and d.name is not None
            and d.name.value == row.operation
        )
        fragments = {
            d.name.value: d
            for d in document.definitions
            if isinstance(d, FragmentDefinitionNode)
        }
        variables: dict[str, GraphQLInputType] = {}
        for definition in operation.variable_definitions or ():
            found = type_from_ast(self.schema, definition.type)
            if is_input_type(found):
                variables[definition.variable.name.value] = found
        root = self.schema.get_root_type(operation.operation)
        if root is None:  # pragma: no cover  (prepare() validated the document)
            raise OpenApiError(f"{row.operation}: no root type")
        data = self.walker.selection(root, operation.selection_set, fragments)
        body, meta = self._pick(row, data)
        path_params = _PATH_PARAM.findall(row.path)
        result: JsonSchema = {
            "operationId": row.operation
            if len(row.methods) == 1
            else f"{row.operation}{method.title()}",
            "summary": row.summary or row.operation,
            "tags": [_tag(row.path)],
            "parameters": [
                *(self._path_param(name, variables.get(name)) for name in path_params),
                *(
                    _query(name, param.schema, param.description)
                    for name, param in row.params.items()
                ),
                *(
                    _query(
                        name,
                        {"type": "string", "enum": ["1"]},
                        "`1`: bypass cached data (`Cache-Control: no-store`).",
                    )
                    for name in BYPASS_PARAMS
                ),
            ],
            "responses": self._row_responses(
                row, body, meta, has_input=bool(path_params), write=method != "GET"
            ),
        }
        if row.cache.shared is not None:
            result["parameters"].append(
                {
                    "name": "If-None-Match",
                    "in": "header",
                    "required": False,
                    "schema": STRING,
                    "description": "An ETag from an earlier answer: 304 if unchanged.",
                }
            )
        if row.auth:
            result["security"] = [{"bearerAuth": []}, {"cookieAuth": []}]
            if method != "GET":
                result["parameters"].append(
                    {
                        "name": CSRF_HEADER,
                        "in": "header",
                        "required": False,
                        "schema": STRING,
                        "description": "The CSRF cookie's value; needed only when "
                        "the token comes from the cookie.",
                    }
                )
        if row.body is not None:
            body_type = variables.get(row.body)
            if body_type is None:  # pragma: no cover  (prepare() checked it)
                raise OpenApiError(f"{row.operation}: no ${row.body}")
            result["requestBody"] = {
                "required": True,
                "content": {
                    "application/json": {"schema": self.walker.input(body_type)}
                },
            }
        return result

    def _pick(self, row: RestRoute, data: JsonSchema) -> tuple[JsonSchema, JsonSchema]:
        """The schema of the picked data, and of `meta` (empty when there is none)."""
        for part in filter(None, row.pick.split(".")):
            child = data["properties"][part]
            data = nullable(child) if is_nullable(data) else child
        if row.meta is None:
            return data, {}
        if is_nullable(data):  # pragma: no cover  (no such row)
            raise OpenApiError(f"{row.operation}: meta from nullable data")
        meta = data["properties"][row.meta]
        data = closed(
            {k: v for k, v in data["properties"].items() if k != row.meta},
            [k for k in data["required"] if k != row.meta],
        )
        meta = closed(
            {**meta["properties"], "timestamp": STRING},
            [*meta["required"], "timestamp"],
        )
        return data, meta

    def _row_responses(
        self,
        row: RestRoute,
        body: JsonSchema,
        meta: JsonSchema,
        *,
        has_input: bool,
        write: bool,
    ) -> JsonSchema:
        headers = {"Cache-Control": {"schema": STRING}}
        if row.cache.shared is not None:
            headers["ETag"] = {"schema": STRING}
            headers["X-Cache"] = {
                "schema": {"type": "string", "enum": ["HIT", "STALE", "MISS"]}
            }
        responses: JsonSchema = {
            "200": {
                "description": row.summary or "OK",
                "headers": headers,
                "content": {
                    "application/json": {
                        "schema": success(row.envelope, body, meta, row.operation)
                    }
                },
            }
        }
        if row.cache.shared is not None:
            responses["304"] = {"description": "Not modified (If-None-Match)"}
        statuses = {429, *row.errors}
        if row.params or row.body or has_input:
            statuses.add(400)
        if row.auth:
            statuses.add(401)
        if row.auth and write:
            statuses.add(403)  # CSRF, for cookie-authenticated writes
        if row.cache.shared is not None:
            statuses.add(503)
        for status in sorted(statuses):
            responses[str(status)] = self.responses.error_ref(row.envelope, status)
        for status in SERVER_WIDE:
            responses[str(status)] = self.responses.server_wide_ref(status)
        return responses

    # --- plain routes --------------------------------------------------------------
    def plain(self, path: str, method: str, doc: PlainDoc) -> JsonSchema:
        responses: JsonSchema = {}
        for status, response in doc.responses.items():
            entry: JsonSchema = {"description": response.description}
            if response.content:
                entry["content"] = {
                    media: {"schema": schema} if schema else {}
                    for media, schema in response.content.items()
                }
            if response.headers:
                entry["headers"] = {
                    name: {"description": text, "schema": STRING}
                    for name, text in response.headers.items()
                }
            responses[str(status)] = entry
        for status in doc.errors:
            responses[str(status)] = self.responses.error_ref(Standard(), status)
        for status in SERVER_WIDE:
            responses[str(status)] = self.responses.server_wide_ref(status)
        path_params = _PATH_PARAM.findall(path)
        result: JsonSchema = {
            "operationId": _operation_id(path, method),
            "summary": doc.summary,
            "tags": [doc.tag],
            "parameters": [
                *(self._path_param(name, None) for name in path_params),
                *(_query(name, schema, "") for name, schema in doc.query.items()),
                *(
                    {"name": name, "in": "header", "required": False, "schema": schema}
                    for name, schema in doc.request_headers.items()
                ),
            ],
            "responses": dict(sorted(responses.items())),
        }
        if doc.body is not None:
            result["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": doc.body}},
            }
        return result

    def _path_param(self, name: str, type_: GraphQLInputType | None) -> JsonSchema:
        schema = STRING if type_ is None else self.walker.input(type_)
        return {"name": name, "in": "path", "required": True, "schema": schema}


def _query(name: str, schema: Mapping[str, Any], description: str) -> JsonSchema:
    param: JsonSchema = {
        "name": name,
        "in": "query",
        "required": False,
        "schema": dict(schema),
    }
    if description:
        param["description"] = description
    return param


def _tag(path: str) -> str:
    if path.startswith("/api/v1/dashboard/"):
        return "Dashboard"
    if path.startswith("/api/v1/auth/"):
        return "Auth"
    return "Developer API"


def _operation_id(path: str, method: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("api/v1", ""))
    return method.lower() + "".join(w.title() for w in words)
