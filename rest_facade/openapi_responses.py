"""The OpenAPI document's response bodies: each envelope's success and error bodies.

Error responses are shared: `Responses` fills `components.responses` with one entry
per envelope family and status as rows use them, and `components.schemas` with
their bodies (named, so a generated client has one `StandardNotFoundError` model
rather than one per route), and hands out `$ref`s to them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_facade.envelope import Bare, Envelope, Standard
from rest_facade.openapi_schema import STRING, JsonSchema, OpenApiError, closed

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
# Answered before any route runs (request size limits), in the path's error family.
SERVER_WIDE: Mapping[int, tuple[str, str]] = {
    413: ("PAYLOAD_TOO_LARGE", "Request body too large"),
    414: ("URI_TOO_LONG", "Query string too long"),
    431: ("HEADERS_TOO_LARGE", "Request headers too large"),
}
# `/graphql` answers its refusals as a GraphQL result: {"errors": [{message,
# extensions: {code}}]}.
GRAPHQL_FAMILY = "GraphQL"
GRAPHQL_RESULT_REF: JsonSchema = {"$ref": "#/components/schemas/GraphQLResult"}


class Responses:
    """`components.responses`, filled as rows refer to its entries."""

    def __init__(self) -> None:
        self.components: dict[str, Any] = {}
        self.schemas: dict[str, Any] = {}

    def error_ref(self, envelope: Envelope | str, status: int) -> JsonSchema:
        """The error response of one status in one family (an envelope, or
        "GraphQL"), statuses of rows and the refusals of size caps alike."""
        code, text = ERRORS[status] if status in ERRORS else SERVER_WIDE[status]
        family = envelope if isinstance(envelope, str) else _family(envelope)
        name = f"{family}{status}"
        if name not in self.components:
            details = (
                closed({"retryAfter": {"type": "integer", "minimum": 0}})
                if status == 429
                else {"type": "object"}
            )
            words = "".join(part.title() for part in code.split("_"))
            body = (
                GRAPHQL_RESULT_REF
                if family == GRAPHQL_FAMILY
                else self._schema(
                    f"{family}{words}Error",
                    _error_body(family, {"const": code}, details),
                )
            )
            entry: JsonSchema = {
                "description": text,
                "content": {"application/json": {"schema": body}},
            }
            if status == 429:
                entry["headers"] = {
                    "Retry-After": {"schema": {"type": "integer", "minimum": 0}}
                }
            self.components[name] = entry
        return {"$ref": f"#/components/responses/{name}"}

    def _schema(self, name: str, schema: JsonSchema) -> JsonSchema:
        self.schemas.setdefault(name, schema)
        return {"$ref": f"#/components/schemas/{name}"}


def success(
    envelope: Envelope, data: JsonSchema, meta: JsonSchema, operation: str
) -> JsonSchema:
    """The 200 body: the data itself (bare) or `{success, data, meta}` (standard)."""
    family = _family(envelope)
    if family == "Bare":
        if meta:
            raise OpenApiError(f"{operation}: a bare body has no meta")
        return data
    properties = {"success": {"const": True}, "data": data}
    if meta:
        properties["meta"] = meta
    return closed(properties)


def _family(envelope: Envelope) -> str:
    if isinstance(envelope, Bare):
        return "Bare"
    if isinstance(envelope, Standard):
        return "Standard"
    raise OpenApiError(f"no schema for the envelope {envelope!r}")


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
