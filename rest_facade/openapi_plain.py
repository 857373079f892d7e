"""What the plain routes' part of the OpenAPI document is made of: a `PlainDoc` per
method of a row of rest_facade/plain.py, and the GraphQL request and result
schemas `/graphql` is documented with (components.schemas, by name), and the
bodies a few plain routes answer with."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_facade.openapi_schema import STRING, JsonSchema, array, closed, nullable
from rest_facade.params import Enumerated


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
    required: tuple[str, ...] = ()  # query parameters whose absence is a 400
    path: Mapping[str, JsonSchema | Enumerated] = field(default_factory=dict)
    # Query parameters sent as JSON text (OpenAPI's `content`, not `schema`).
    json_query: tuple[str, ...] = ()
    # Counted by the `public` rate limit (429); health, readiness and metrics are not.
    rate_limited: bool = True
    request_headers: Mapping[str, JsonSchema] = field(default_factory=dict)


HTML_PAGE: JsonSchema = {"type": "string"}
# `extensions.persistedQuery`: a registered operation (or an APQ registration) by the
# SHA-256 of its text; anything else there is a 400.
PERSISTED_QUERY: JsonSchema = {
    "type": "object",
    "required": ["version", "sha256Hash"],
    "properties": {
        "version": {"const": 1},
        "sha256Hash": {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"},
    },
}
GRAPHQL_EXTENSIONS: JsonSchema = {
    "type": ["object", "null"],
    # null: no persisted query (a document must come)
    "properties": {"persistedQuery": nullable(PERSISTED_QUERY)},
}
GRAPHQL_VARIABLES: JsonSchema = {"type": ["object", "null"]}
_OPERATION_NAME: JsonSchema = {"type": ["string", "null"]}
# Schemas shared by name (components.schemas): what a generated client calls them.
SHARED_SCHEMAS: dict[str, JsonSchema] = {
    "GraphQLResult": {
        "type": "object",
        "properties": {
            "data": {"type": ["object", "null"]},
            "errors": array({"type": "object"}),
            "extensions": {"type": "object"},
        },
    },
    # A document (and, with a hash beside it, an APQ registration)...
    "GraphQLDocumentRequest": {
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string", "minLength": 1},
            "operationName": _OPERATION_NAME,
            "variables": GRAPHQL_VARIABLES,
            "extensions": GRAPHQL_EXTENSIONS,
        },
    },
    # ... or a persisted operation by hash alone.
    "PersistedOperationRequest": {
        "type": "object",
        "required": ["extensions"],
        "properties": {
            "query": {"type": ["string", "null"]},
            "operationName": _OPERATION_NAME,
            "variables": GRAPHQL_VARIABLES,
            "extensions": {
                "type": "object",
                "required": ["persistedQuery"],
                "properties": {"persistedQuery": PERSISTED_QUERY},
            },
        },
    },
}
GRAPHQL_RESULT: JsonSchema = {"$ref": "#/components/schemas/GraphQLResult"}
GRAPHQL_REQUEST: JsonSchema = {
    "anyOf": [
        {"$ref": "#/components/schemas/GraphQLDocumentRequest"},
        {"$ref": "#/components/schemas/PersistedOperationRequest"},
    ]
}


# --- bodies of plain routes ---------------------------------------------------------
NOT_FOUND_BODY = closed(
    {"error": closed({"code": {"const": "NOT_FOUND"}, "message": STRING})}
)
PERSISTED_MANIFEST = closed(
    {
        "format": {"const": "apollo-persisted-query-manifest"},
        "version": {"const": 1},
        "operations": array(
            closed(
                {
                    "id": {"type": "string", "pattern": "^[0-9a-f]{64}$"},
                    "name": {"type": ["string", "null"]},
                    "type": {"enum": ["query", "mutation", "subscription"]},
                    "body": STRING,
                }
            )
        ),
    }
)


def dashboard_error(code: str) -> dict[str, Any]:
    """A public route's refusal with `code`, in the dashboard's error envelope."""
    return {
        "application/json": closed(
            {"error": closed({"code": {"const": code}, "message": STRING})}
        )
    }


SSE_STREAM = {
    "type": "string",
    "description": "Server-sent events. First `retry: <ms>` (2000-10000), then "
    "`snapshot`, `delta` and `status` events, each with `id: <seq>` and one JSON "
    "`data:` line; `: ping` every 15 s; a last `retry:` when the server stops. "
    "snapshot: {seq, keys, streams (exactly the job feed's entries), stale, "
    "lastSuccessAt}; delta: {seq, added: [{key, stream}], updated: [{key, "
    "stream}], removed: [key]}; status: {seq, stale, lastSuccessAt}.",
}
