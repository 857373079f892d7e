"""`GET /openapi.json`: an OpenAPI 3.1 document generated from the route table.

Nothing is written by hand per row of `ROUTES`:

- parameters: path `{id}` typed by the operation's variable; query parameters from
  each `Param`'s schema (type, range, default); `refresh` / `nocache` everywhere;
- request body: the JSON Schema of the body variable's GraphQL input type;
- 200: the operation's selection set walked against the schema's types (non-null
  -> required and not null, lists -> arrays, aliases and fragments followed), then
  the row's `pick`, `meta` and envelope; objects are closed, so drift shows;
- errors: the row envelope's error body for each status the row can answer;
- security: a bearer JWT or the session cookie on rows with `auth=True`.

Plain routes (pages.py's, `/graphql`) are `PlainDoc` rows, one line each. A test
validates the document and checks that every route of the app is in it; the fuzz
tests check that the server keeps to it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    is_input_type,
    parse,
    type_from_ast,
)
from graphql.pyutils import Undefined

from app.auth import AUTH_COOKIE, CSRF_HEADER
from rest_facade.envelope import Bare, Envelope, Standard
from rest_facade.handler import BYPASS_PARAMS
from rest_facade.prepare import prepare
from rest_facade.routes import ROUTES, RestRoute

JsonSchema = dict[str, Any]

OPENAPI_VERSION = "3.1.0"
STRING: JsonSchema = {"type": "string"}
SCALARS: Mapping[str, JsonSchema] = {
    "String": STRING,
    "ID": STRING,
    "Int": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
}
ERRORS: Mapping[int, tuple[str, str]] = {
    400: ("BAD_REQUEST", "Invalid input; the message names the parameter or field"),
    401: ("UNAUTHORIZED", "No token, or an invalid or expired one"),
    403: (
        "FORBIDDEN",
        "A cookie-authenticated write without the CSRF token, or "
        "a resource that is not yours",
    ),
    404: ("NOT_FOUND", "No such resource (another user's is not found either)"),
    409: ("CONFLICT", "Conflicts with an existing resource"),
    429: ("RATE_LIMITED", "Too many requests: retry after `Retry-After` seconds"),
    503: ("SERVICE_UNAVAILABLE", "An upstream service is unavailable"),
}
# Answered before any route runs (request size limits), in either error family.
SERVER_WIDE: Mapping[int, str] = {
    413: "Request body too large",
    414: "Query string too long",
    431: "Request headers too large",
}
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


class OpenApiError(RuntimeError):
    """The route table cannot be described (e.g. an envelope without a schema)."""


# --- JSON Schema helpers -----------------------------------------------------------
def closed(
    properties: Mapping[str, JsonSchema], required: list[str] | None = None
) -> JsonSchema:
    """An object with exactly these keys (all required unless `required` says)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def array(items: JsonSchema) -> JsonSchema:
    return {"type": "array", "items": items}


def nullable(schema: JsonSchema) -> JsonSchema:
    """The same schema, also allowing null."""
    kind = schema.get("type")
    if kind is None:
        constrained = any(k in schema for k in ("const", "enum", "anyOf", "$ref"))
        return {"anyOf": [schema, {"type": "null"}]} if constrained else schema
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if "null" in kinds:
        return schema
    result = {**schema, "type": [*kinds, "null"]}
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


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
    builder = _Builder(schema._schema)
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
            "responses": builder.responses,
        },
    }


class _Builder:
    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.responses: dict[str, Any] = {}  # components.responses, filled as used

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
        data = self._selection(root, operation.selection_set, fragments)
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
                "content": {"application/json": {"schema": self._input(body_type)}},
            }
        return result

    def _pick(self, row: RestRoute, data: JsonSchema) -> tuple[JsonSchema, JsonSchema]:
        """The schema of the picked data, and of `meta` (empty when there is none)."""
        for part in filter(None, row.pick.split(".")):
            child = data["properties"][part]
            data = nullable(child) if _is_nullable(data) else child
        if row.meta is None:
            return data, {}
        if _is_nullable(data):  # pragma: no cover  (no such row)
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
                        "schema": _success(row.envelope, body, meta, row.operation)
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
            responses[str(status)] = self._error_ref(row.envelope, status)
        for status in SERVER_WIDE:
            responses[str(status)] = self._server_wide_ref(status)
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
            responses[str(status)] = self._error_ref(Standard(), status)
        for status in SERVER_WIDE:
            responses[str(status)] = self._server_wide_ref(status)
        path_params = _PATH_PARAM.findall(path)
        result: JsonSchema = {
            "operationId": _operation_id(path, method),
            "summary": doc.summary,
            "tags": [doc.tag],
            "parameters": [
                *(self._path_param(name, None) for name in path_params),
                *(_query(name, schema, "") for name, schema in doc.query.items()),
            ],
            "responses": dict(sorted(responses.items())),
        }
        if doc.body is not None:
            result["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": doc.body}},
            }
        return result

    # --- shared pieces ---------------------------------------------------------------
    def _path_param(self, name: str, type_: GraphQLInputType | None) -> JsonSchema:
        schema = STRING if type_ is None else self._input(type_)
        return {"name": name, "in": "path", "required": True, "schema": schema}

    def _error_ref(self, envelope: Envelope, status: int) -> JsonSchema:
        code, text = ERRORS[status]
        family = _family(envelope)
        name = f"{family}{status}"
        if name not in self.responses:
            details = (
                closed({"retryAfter": {"type": "integer", "minimum": 0}})
                if status == 429
                else {"type": "object"}
            )
            entry: JsonSchema = {
                "description": text,
                "content": {
                    "application/json": {
                        "schema": _error_body(family, {"const": code}, details)
                    }
                },
            }
            if status == 429:
                entry["headers"] = {
                    "Retry-After": {"schema": {"type": "integer", "minimum": 0}}
                }
            self.responses[name] = entry
        return {"$ref": f"#/components/responses/{name}"}

    def _server_wide_ref(self, status: int) -> JsonSchema:
        name = f"ServerWide{status}"
        if name not in self.responses:
            schema = {
                "anyOf": [
                    _error_body("Bare", STRING, {"type": "object"}),
                    _error_body("Standard", STRING, {"type": "object"}),
                ]
            }
            self.responses[name] = {
                "description": SERVER_WIDE[status],
                "content": {"application/json": {"schema": schema}},
            }
        return {"$ref": f"#/components/responses/{name}"}

    # --- GraphQL types -> JSON Schema ----------------------------------------------
    def _output(
        self,
        type_: GraphQLOutputType,
        selection: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._output_value(type_.of_type, selection, fragments)
        return nullable(self._output_value(type_, selection, fragments))

    def _output_value(
        self,
        type_: GraphQLOutputType,
        selection: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return array(self._output(type_.of_type, selection, fragments))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return _leaf(type_)
        if selection is None:  # pragma: no cover  (validation requires one)
            raise OpenApiError(f"{type_} without a selection")
        assert isinstance(type_, GraphQLNamedType)  # noqa: S101  (object-like)
        return self._selection(type_, selection, fragments)

    def _selection(
        self,
        parent: GraphQLNamedType,
        selection: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for node, owner, conditional in self._fields(
            parent, selection, fragments, False
        ):
            key = node.alias.value if node.alias else node.name.value
            if node.name.value == "__typename":
                schema = STRING
            else:
                assert isinstance(  # noqa: S101  (validated document)
                    owner, GraphQLObjectType | GraphQLInterfaceType
                )
                definition = owner.fields[node.name.value]
                schema = self._output(definition.type, node.selection_set, fragments)
            properties.setdefault(key, schema)
            if not conditional and key not in required:
                required.append(key)
        return closed(properties, required)

    def _fields(
        self,
        parent: GraphQLNamedType,
        selection: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        conditional: bool,
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType, bool]]:
        """Every field a selection set can put in the response, following fragments;
        `conditional` when it may be absent (a narrower type, @skip/@include)."""
        for node in selection.selections:
            maybe = conditional or bool(node.directives)
            if isinstance(node, FieldNode):
                yield node, parent, maybe
                continue
            if isinstance(node, FragmentSpreadNode):
                fragment = fragments[node.name.value]
                condition: Any = fragment.type_condition
                inner = fragment.selection_set
            else:
                assert isinstance(node, InlineFragmentNode)  # noqa: S101
                condition = node.type_condition
                inner = node.selection_set
            owner = parent
            if condition is not None:
                named = self.schema.get_type(condition.name.value)
                assert named is not None  # noqa: S101  (validated document)
                owner = named
            yield from self._fields(owner, inner, fragments, maybe or owner != parent)

    def _input(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._input_value(type_.of_type)
        return nullable(self._input_value(type_))

    def _input_value(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return array(self._input(type_.of_type))
        if isinstance(type_, GraphQLInputObjectType):
            properties = {}
            required = []
            for name, input_field in type_.fields.items():
                schema = self._input(input_field.type)
                if input_field.description:
                    schema = {**schema, "description": input_field.description}
                properties[name] = schema
                # graphql-core 3.3 keeps an SDL default in `default`, 3.2 in
                # `default_value`: with either, a non-null field may be left out.
                has_default = input_field.default_value is not Undefined or (
                    getattr(input_field, "default", None) is not None
                )
                if isinstance(input_field.type, GraphQLNonNull) and not has_default:
                    required.append(name)
            return closed(properties, required)
        assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)  # noqa: S101
        return _leaf(type_)


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> JsonSchema:
    if isinstance(type_, GraphQLEnumType):
        return {"type": "string", "enum": list(type_.values)}
    known = SCALARS.get(type_.name)
    if known is not None:
        return dict(known)
    # A custom scalar: any JSON value, described by the scalar's own text.
    return {"description": type_.description or type_.name}


def _is_nullable(schema: JsonSchema) -> bool:
    kind = schema.get("type")
    return isinstance(kind, list) and "null" in kind


def _family(envelope: Envelope) -> str:
    if isinstance(envelope, Bare):
        return "Bare"
    if isinstance(envelope, Standard):
        return "Standard"
    raise OpenApiError(f"no schema for the envelope {envelope!r}")


def _success(
    envelope: Envelope, data: JsonSchema, meta: JsonSchema, operation: str
) -> JsonSchema:
    family = _family(envelope)
    if family == "Bare":
        if meta:
            raise OpenApiError(f"{operation}: a bare body has no meta")
        return data
    properties = {"success": {"const": True}, "data": data}
    if meta:
        properties["meta"] = meta
    return closed(properties)


def _error_body(family: str, code: JsonSchema, details: JsonSchema) -> JsonSchema:
    if family == "Bare":
        return closed({"error": closed({"code": code, "message": STRING})})
    error = closed(
        {"code": code, "message": STRING, "details": details}, ["code", "message"]
    )
    return closed(
        {
            "success": {"const": False},
            "error": error,
            "meta": closed({"timestamp": STRING}),
        }
    )


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
