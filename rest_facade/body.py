"""A row's JSON body, checked against its GraphQL input type before anything runs,
with messages in the body's own terms ("name is required", "label must be a
string") rather than GraphQL's. `FIELD_RULES` is what the resolvers refuse beyond
the GraphQL types, as JSON Schema, for the OpenAPI document's request bodies."""

from __future__ import annotations

from typing import Any

import orjson
from graphql import (
    GraphQLEnumType,
    GraphQLError,
    GraphQLInputType,
    GraphQLScalarType,
    is_enum_type,
    is_input_object_type,
    is_list_type,
    is_non_null_type,
    is_required_input_field,
)
from graphql.pyutils import Undefined
from starlette.requests import Request

from app.errors import BadRequest
from app.inputs import MAX_KEY_LENGTH
from resolvers.keys import MAX_LABEL
from resolvers.projects import MAX_NAME
from rest_facade.params import WHITESPACE

MAX_JSON_BODY = 64 * 1024
# Every string of a body (`no_nul`), and those that must hold more than white space.
TEXT = {"pattern": "^[^\\x00]*$"}
NOT_BLANK = {"minLength": 1, "pattern": f"^[^\\x00]*[^{WHITESPACE}\\x00][^\\x00]*$"}
FIELD_RULES: dict[tuple[str, str], dict[str, Any]] = {
    ("CreateApiKeyInput", "billingProviderId"): NOT_BLANK,
    ("CreateApiKeyInput", "rawApiKey"): {**NOT_BLANK, "maxLength": MAX_KEY_LENGTH},
    ("CreateApiKeyInput", "label"): {"maxLength": MAX_LABEL},
    ("CreateApiKeyInput", "projectName"): {"maxLength": MAX_LABEL},
    ("CreateProjectInput", "name"): {**NOT_BLANK, "maxLength": MAX_NAME},
}
_TYPE_WORDS = {
    "String": "string",
    "Int": "integer",
    "Float": "number",
    "Boolean": "boolean",
    "ID": "string",
}


def text(value: str, name: str) -> str:
    """A path or query value: text a database can store (PostgreSQL refuses NUL)."""
    if "\x00" in value:
        raise BadRequest(f"{name} must not contain NUL characters")
    return value


def no_nul(value: Any, path: str) -> None:
    """Every string in a variable or JSON body, keys included, without NUL."""
    if isinstance(value, str):
        text(value, path or "body")
    elif isinstance(value, dict):
        for key, item in value.items():
            text(key, path or "body")
            no_nul(item, f"{path}.{key}" if path else key)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            no_nul(item, f"{path}.{index}")


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
    no_nul(body, "")
    problems = input_problems(body, body_type, [])
    if problems:
        raise BadRequest(problems[0] if len(problems) == 1 else "; ".join(problems))
    return body


def input_problems(value: Any, kind: GraphQLInputType, path: list[str]) -> list[str]:
    """What is wrong with `value` as a `kind`, in GraphQL's own order: fields in
    definition order, then unknown fields."""
    where = ".".join(path) or "body"
    if is_non_null_type(kind):
        if value is None or value is Undefined:
            return [f"{where} is required"]
        kind = kind.of_type
    if value is None:
        return []
    if is_list_type(kind):
        items = value if isinstance(value, list) else [value]
        return [
            problem
            for index, item in enumerate(items)
            for problem in input_problems(item, kind.of_type, [*path, str(index)])
        ]
    if is_input_object_type(kind):
        if not isinstance(value, dict):
            return [f"{where} must be an object"]
        problems: list[str] = []
        for name, field in kind.fields.items():
            if name in value:
                problems += input_problems(value[name], field.type, [*path, name])
            elif is_required_input_field(field):
                problems.append(f"{'.'.join([*path, name])} is required")
        problems += [
            f"Unknown field: {'.'.join([*path, name])}"
            for name in value
            if name not in kind.fields
        ]
        return problems
    leaf: GraphQLScalarType | GraphQLEnumType = kind  # type: ignore[assignment]
    try:
        coerced = leaf.coerce_input_value(value)
    except GraphQLError as error:
        if is_enum_type(kind):
            return [f"{where}: {error.message}"]
        coerced = Undefined
    except (TypeError, ValueError):
        coerced = Undefined
    if coerced is Undefined:
        return [f"{where} must be a {_TYPE_WORDS.get(leaf.name, leaf.name)}"]
    return []
