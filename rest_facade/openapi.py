"""`GET /openapi.json`: an OpenAPI 3.1 document generated from the route table.

Nothing is written by hand per row of `ROUTES`: each parameter is what its parser
accepts (`params.py`), the request body the body variable's input type with its
resolver's rules (`body.py`), the 200 body the operation's selection set
(`openapi_schema`), and each status the row can answer gets its envelope's error
body (`openapi_responses`); links lead from created ids to the rows that take them.
Plain routes are `PlainDoc` rows (`openapi_plain`). A test validates the document;
schemathesis and a generated client check that the server keeps to it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
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
from rest_facade.body import FIELD_RULES, TEXT
from rest_facade.envelope import Standard
from rest_facade.handler import BYPASS_PARAMS
from rest_facade.openapi_plain import SHARED_SCHEMAS, PlainDoc
from rest_facade.openapi_responses import (
    GRAPHQL_FAMILY,
    SERVER_WIDE,
    Responses,
    success,
)
from rest_facade.openapi_schema import (
    STRING,
    JsonSchema,
    OpenApiError,
    SchemaWalker,
    closed,
    is_nullable,
    nullable,
)
from rest_facade.params import PATH_SEGMENT, Enumerated
from rest_facade.prepare import prepare
from rest_facade.routes import ROUTES, Link, RestRoute

__all__ = ["OpenApiError", "build_openapi", "nullable"]

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


# --- the document --------------------------------------------------------------------
def build_openapi(
    schema: strawberry.Schema,
    routes: tuple[RestRoute, ...] = ROUTES,
    plain: Sequence[tuple[str, str, PlainDoc]] = (),
    *,
    vocabularies: Mapping[str, Sequence[str]] | None = None,
    title: str = "naap-api",
    version: str = "0.1.0",
) -> dict[str, Any]:
    """The document; `vocabularies` are the values of `Enumerated` parameters that
    only the running server knows (e.g. "providers": the OAuth billing providers)."""
    builder = _Builder(graphql_schema(schema), vocabularies or {})
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
                "/graphql. Unknown paths and methods answer 404 / 405 (with `Allow` "
                "listing every method of the path) in the envelope of their family: "
                '`{"success": false, "error": {"code", "message"}, "meta"}` under '
                "/api/v1/developer/, /api/v1/billing-providers and /api/v1/auth/ "
                "(bar the bare public row /api/v1/developer/network-models), "
                '`{"error": {"code", "message"}}` elsewhere.'
            ),
        },
        "paths": paths,
        "components": {
            "securitySchemes": SECURITY_SCHEMES,
            "responses": builder.responses.components,
            "schemas": {**SHARED_SCHEMAS, **builder.responses.schemas},
        },
    }


class _Builder:
    def __init__(
        self,
        schema: GraphQLSchema,
        vocabularies: Mapping[str, Sequence[str]] | None = None,
    ) -> None:
        self.schema = schema
        self.vocabularies = vocabularies or {}
        self.walker = SchemaWalker(schema, text=TEXT, rules=FIELD_RULES)
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
                *(
                    self._path_param(name, row.path_params.get(name))
                    for name in path_params
                ),
                *(
                    _query(name, param.schema, param.doc, required=param.required)
                    for name, param in row.params.items()
                ),
                *(
                    _query(
                        name,
                        STRING,
                        "Any value: `1` loads the data again and answers with "
                        "`Cache-Control: no-store`; anything else is ignored.",
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
        if row.links:
            responses["200"]["links"] = {
                link.operation: _link(link) for link in row.links
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
            responses[str(status)] = self.responses.error_ref(row.envelope, status)
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
        family = _refusal_family(path)
        for status in (*SERVER_WIDE, *((429,) if doc.rate_limited else ())):
            responses[str(status)] = self.responses.error_ref(family, status)
        path_params = _PATH_PARAM.findall(path)
        result: JsonSchema = {
            "operationId": _operation_id(path, method),
            "summary": doc.summary,
            "tags": [doc.tag],
            "parameters": [
                *(self._path_param(name, doc.path.get(name)) for name in path_params),
                *(
                    _query(
                        name,
                        schema,
                        "",
                        required=name in doc.required,
                        json=name in doc.json_query,
                    )
                    for name, schema in doc.query.items()
                ),
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

    def _path_param(
        self, name: str, accepts: Mapping[str, Any] | Enumerated | None
    ) -> JsonSchema:
        param: JsonSchema = {"name": name, "in": "path", "required": True}
        if isinstance(accepts, Enumerated):
            values = sorted(self.vocabularies.get(accepts.vocabulary, ()))
            param["schema"] = (
                {"type": "string", "enum": values} if values else dict(PATH_SEGMENT)
            )
            param["description"] = accepts.description
        else:
            param["schema"] = dict(accepts or PATH_SEGMENT)
        return param


def _query(
    name: str,
    schema: Mapping[str, Any],
    description: str,
    *,
    required: bool = False,
    json: bool = False,
) -> JsonSchema:
    param: JsonSchema = {"name": name, "in": "query", "required": required}
    if json:
        param["content"] = {"application/json": {"schema": dict(schema)}}
    else:
        param["schema"] = dict(schema)
    if description:
        param["description"] = description
    return param


def _link(link: Link) -> JsonSchema:
    found: JsonSchema = {"operationId": link.operation}
    if link.parameters:
        found["parameters"] = dict(link.parameters)
    if link.body is not None:
        found["requestBody"] = dict(link.body)
    return found


def _refusal_family(path: str) -> str:
    """The envelope of what the edge refuses on a plain route (rest_facade/
    refusals.py's `error_body`)."""
    if path == "/graphql" or path.startswith("/graphql/"):
        return GRAPHQL_FAMILY
    return "Standard" if path.startswith("/api/v1/") else "Bare"


def _tag(path: str) -> str:
    if path.startswith("/api/v1/dashboard/"):
        return "Dashboard"
    if path.startswith("/api/v1/auth/"):
        return "Auth"
    return "Developer API"


def _operation_id(path: str, method: str) -> str:
    words = re.findall(r"[A-Za-z0-9]+", path.replace("api/v1", ""))
    return method.lower() + ("".join(w.title() for w in words) or "Root")
