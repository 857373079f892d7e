"""Query-string parameters -> GraphQL variables, and the request-dependent cache rules.

Each parser takes the raw first value of its parameter (a repeated parameter uses
its first value, as `URLSearchParams.get` does) and returns the variable's value,
or raises BadRequest. The clamps themselves live in `app.inputs`, shared with the
GraphQL resolvers, so both surfaces agree. Each parser also carries the JSON Schema
of what it accepts (`Parser.schema`: type, range, default), which the OpenAPI
document (`rest_facade/openapi.py`) publishes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from app import inputs
from app.cache import (
    DASHBOARD_SUCCESS,
    DASHBOARD_UNAVAILABLE,
    NO_STORE,
    PRIVATE_NO_STORE,
    CachePolicy,
)
from app.errors import BadRequest
from app.jsmath import js_round, parse_int


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

    The schema describes the documented input; parsers stay lenient where the
    spec says so (clamps, parseInt), and their descriptions say how.
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
    """`page`/`pageSize`: parseInt; anything non-numeric is the default (§13 #17)."""

    def parse(raw: str) -> int:
        value = parse_int(raw)
        return default if value is None else max(-(10**9), min(10**9, value))

    return Parser(parse, _integer(1, maximum, default))


def _true_only(raw: str) -> bool | None:
    return True if raw == "true" else None


# `featured=true` filters; any other value means no filter (§8.8).
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
class DashboardCache:
    """Appendix A: one hour at the CDN for data, five seconds for a 503.

    `shared`: the server's response cache keeps these answers (as `dashboard`
    entries); Cache-Control is computed per request, never stored with the entry.
    """

    shared: str | None = "dashboard"

    def success(self, query: QueryParams) -> CachePolicy:
        return DASHBOARD_SUCCESS

    def failure(self, query: QueryParams) -> CachePolicy:
        return DASHBOARD_UNAVAILABLE

    def rejected(self, query: QueryParams) -> CachePolicy:
        return NO_STORE


class PrivateCache:
    """Authenticated data: never stored by a CDN, the browser or this server."""

    shared: str | None = None

    def success(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE

    def failure(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE

    def rejected(self, query: QueryParams) -> CachePolicy:
        return PRIVATE_NO_STORE


_DECIMAL = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_HEX = re.compile(r"0[xX][0-9a-fA-F]+")


def js_number(raw: str | None) -> float | None:
    """JavaScript `Number(raw)` for a query value; None for absent, empty or NaN."""
    text = (raw or "").strip()
    if not text:
        return None
    if _HEX.fullmatch(text):
        try:
            return float(int(text, 16))
        except OverflowError:  # Infinity in JavaScript: treated like `1e999`
            return None
    if _DECIMAL.fullmatch(text):
        value = float(text)
        return value if math.isfinite(value) else None
    return None


def poll_seconds(raw: str | None) -> int:
    """The job feed's max-age follows the client's poll interval (1-90 s)."""
    poll_ms = js_number(raw)
    ms = poll_ms if poll_ms is not None and poll_ms >= 1000 else 30000
    return min(90, max(1, js_round(ms / 1000)))


# `pollMs` (job feed): read by JobFeedCache for Cache-Control, not a variable.
poll_ms = Parser(
    _ignored, {"type": "integer", "minimum": 1000, "maximum": 90000, "default": 30000}
)


class JobFeedCache:
    """§3.9: CDN and browser caching match the dashboard's refresh cadence."""

    shared: str | None = "job_feed"

    def success(self, query: QueryParams) -> CachePolicy:
        poll = poll_seconds(first(query, "pollMs"))
        return CachePolicy.public(poll, poll, min(2 * poll, poll + 3600))

    def failure(self, query: QueryParams) -> CachePolicy:
        poll = poll_seconds(first(query, "pollMs"))
        return CachePolicy.public(0, min(5, max(2, poll // 2)), 0)

    def rejected(self, query: QueryParams) -> CachePolicy:
        return NO_STORE
