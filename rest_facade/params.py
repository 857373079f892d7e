"""Query-string parameters -> GraphQL variables.

Each parser takes the raw first value of its parameter (a repeated parameter uses
its first value, as `URLSearchParams.get` does) and returns the variable's value,
or raises BadRequest. The clamps themselves live in `app.inputs`, shared with the
GraphQL resolvers, so both surfaces agree. Each parser also carries the JSON Schema
of what it accepts (`Parser.schema`: type, range, default), which the OpenAPI
document (`rest_facade/openapi.py`) publishes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from app import inputs
from app.errors import BadRequest
from app.jsmath import parse_int


def first(query: QueryParams, name: str) -> str | None:
    """The first value of a parameter (Starlette's `.get` returns the last)."""
    values = query.getlist(name)
    return values[0] if values else None


class Variables(dict[str, Any]):
    """A parser's result that sets several variables (or none) instead of one."""


JsonSchema = Mapping[str, Any]
STRING: JsonSchema = {"type": "string"}


@dataclass(frozen=True, slots=True)
class Parser:
    """A parse function and the JSON Schema of the values it is documented to take.

    The schema describes the documented input; parsers stay as lenient as the
    original's (clamps, parseInt), and their descriptions say how.
    """

    parse: Callable[[str], Any]
    schema: JsonSchema = field(default_factory=lambda: STRING)

    def __call__(self, raw: str) -> Any:
        return self.parse(raw)


@dataclass(frozen=True, slots=True)
class Param:
    """How one query parameter becomes a GraphQL variable.

    `parse` gets the raw first value and returns the variable's value (None:
    leave it unset), or `Variables` to set several; it raises BadRequest.
    """

    var: str
    parse: Callable[[str], Any]
    description: str = ""

    @property
    def schema(self) -> JsonSchema:
        """The documented JSON Schema (a plain callable: any string)."""
        return self.parse.schema if isinstance(self.parse, Parser) else STRING


def _integer(low: int, high: int | None, default: int | None) -> JsonSchema:
    schema: dict[str, Any] = {"type": "integer", "minimum": low}
    if high is not None:
        schema["maximum"] = high
    if default is not None:
        schema["default"] = default
    return schema


timeframe = Parser(
    lambda raw: str(inputs.timeframe_hours(raw)),
    _integer(inputs.MIN_HOURS, inputs.MAX_HOURS, inputs.DEFAULT_HOURS),
)


def _ignored(raw: str) -> Variables:
    return Variables()


# Accepted for compatibility, deliberately not a variable: every value shares one
# cache entry (and one upstream call).
ignored = Parser(_ignored)

period = Parser(
    lambda raw: f"{inputs.period_hours(raw)}h",
    {"type": "string", "pattern": "^[0-9]+[hHdD]?$", "default": "24h"},
)


def limit(default: int) -> Parser:
    def parse(raw: str) -> int:
        return inputs.limit(raw, default)

    return Parser(parse, _integer(inputs.MIN_LIMIT, inputs.MAX_LIMIT, default))


_IDENTIFIER_MAX = 128  # app.inputs.identifier's limit


def identifier(name: str) -> Parser:
    def parse(raw: str) -> str | None:
        return inputs.identifier(raw, name)

    return Parser(
        parse,
        {
            "type": "string",
            "maxLength": _IDENTIFIER_MAX,
            "pattern": "^[A-Za-z0-9._:/-]*$",
        },
    )


days = Parser(
    inputs.fees_days_param,
    _integer(inputs.FEES_MIN_DAYS, inputs.FEES_MAX_DAYS, inputs.FEES_DEFAULT_DAYS),
)


def page_number(default: int, maximum: int | None = None) -> Parser:
    """`page`/`pageSize`: parseInt; anything non-numeric is the default."""

    def parse(raw: str) -> int:
        value = parse_int(raw)
        return default if value is None else max(-(10**9), min(10**9, value))

    return Parser(parse, _integer(1, maximum, default))


def _true_only(raw: str) -> bool | None:
    return True if raw == "true" else None


# `featured=true` filters; any other value means no filter.
true_only = Parser(_true_only, {"type": "boolean"})


def text(name: str, limit: int = 64) -> Parser:
    def parse(raw: str) -> str | None:
        if len(raw) > limit:
            raise BadRequest(f"{name} must be at most {limit} characters")
        return raw or None

    return Parser(parse, {"type": "string", "maxLength": limit})


def _network_limit(raw: str) -> Variables:
    if raw == "all":
        return Variables(all=True)
    value = parse_int(raw)
    if value is None:
        return Variables()
    # Saturate within GraphQL's 32-bit Int (the resolver clamps to 1-200).
    return Variables(limit=max(-(10**9), min(10**9, value)))


# `limit=all` lists everything; otherwise parseInt (absent/NaN/<1 -> 50).
network_limit = Parser(
    _network_limit,
    {
        "anyOf": [
            _integer(inputs.MIN_LIMIT, inputs.MAX_LIMIT, None),
            {"type": "string", "enum": ["all"]},
        ],
        "default": 50,
    },
)


# --- cache rules --------------------------------------------------------------------


# `pollMs` (job feed): read by JobFeedCache for Cache-Control, not a variable.
poll_ms = Parser(
    _ignored, {"type": "integer", "minimum": 1000, "maximum": 90000, "default": 30000}
)
