"""Query-string parameters -> GraphQL variables.

Each parser takes the raw first value of its parameter (a repeated parameter uses
its first value, as `URLSearchParams.get` does) and returns the variable's value,
or raises BadRequest. The clamps themselves live in `app.inputs`, shared with the
GraphQL resolvers, so both surfaces agree. Each parser also carries the JSON Schema
of exactly what it accepts (`Parser.schema`) and its rule in words (`Parser.rule`),
which the OpenAPI document (`rest_facade/openapi.py`) publishes: a lenient parser
(a clamp, parseInt) takes any string, and says how it reads it; a strict one has
the pattern, format or length past which it answers 400.
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
# What Python's str.strip() removes (every character for which isspace() is true),
# as one character class that ECMAScript and Python regular expressions read alike.
WHITESPACE = (
    r"\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f"
    r"\u205f\u3000"
)


@dataclass(frozen=True, slots=True)
class Parser:
    """A parse function, the JSON Schema of every value it accepts (anything else
    is a 400), and its rule in words for the documentation."""

    parse: Callable[[str], Any]
    schema: JsonSchema = field(default_factory=lambda: STRING)
    rule: str = ""

    def __call__(self, raw: str) -> Any:
        return self.parse(raw)


@dataclass(frozen=True, slots=True)
class Param:
    """How one query parameter becomes a GraphQL variable.

    `parse` gets the raw first value and returns the variable's value (None:
    leave it unset), or `Variables` to set several; it raises BadRequest.
    `required`: documented as required (its absence is a 400).
    """

    var: str
    parse: Callable[[str], Any]
    description: str = ""
    required: bool = False

    @property
    def schema(self) -> JsonSchema:
        """The documented JSON Schema (a plain callable: any string)."""
        return self.parse.schema if isinstance(self.parse, Parser) else STRING

    @property
    def doc(self) -> str:
        """The parameter's description: its own, and the parser's rule."""
        rule = self.parse.rule if isinstance(self.parse, Parser) else ""
        return " ".join(part for part in (self.description, rule) if part)


@dataclass(frozen=True, slots=True)
class Enumerated:
    """A path parameter whose values the server knows only when it runs (the
    configured OAuth providers): the OpenAPI builder fills in the enum."""

    vocabulary: str
    description: str = ""


timeframe = Parser(
    lambda raw: str(inputs.timeframe_hours(raw)),
    rule=f"Any value: the leading integer, as JavaScript's parseInt reads it, "
    f"clamped to {inputs.MIN_HOURS}-{inputs.MAX_HOURS}; anything else means "
    f"{inputs.DEFAULT_HOURS}.",
)


def _ignored(raw: str) -> Variables:
    return Variables()


# Accepted for compatibility, deliberately not a variable: every value shares one
# cache entry (and one upstream call).
ignored = Parser(_ignored, rule="Any value: accepted and ignored.")

period = Parser(
    lambda raw: f"{inputs.period_hours(raw)}h",
    rule="Any value: `N`, `Nh` or `Nd` (bare N = hours), clamped to 1-168 h; "
    "anything else means 24h.",
)


def limit(default: int) -> Parser:
    def parse(raw: str) -> int:
        return inputs.limit(raw, default)

    return Parser(
        parse,
        rule=f"Any value: parseInt, clamped to {inputs.MIN_LIMIT}-"
        f"{inputs.MAX_LIMIT}; anything else means {default}.",
    )


_IDENTIFIER_MAX = 128  # app.inputs.identifier's limit


def identifier(name: str) -> Parser:
    def parse(raw: str) -> str | None:
        return inputs.identifier(raw, name)

    return Parser(
        parse,
        {
            "type": "string",
            "maxLength": _IDENTIFIER_MAX,
            "pattern": f"^[A-Za-z0-9._:/-]{{0,{_IDENTIFIER_MAX}}}$",
        },
        rule="Empty means none.",
    )


# 7-365 with any leading zeros, within white space (what fees_days_param reads).
_DAYS = "0*(?:[7-9]|[1-9][0-9]|[12][0-9]{2}|3[0-5][0-9]|36[0-5])"
days = Parser(
    inputs.fees_days_param,
    {
        "type": "string",
        "pattern": f"^[{WHITESPACE}]*{_DAYS}[{WHITESPACE}]*$",
        "default": str(inputs.FEES_DEFAULT_DAYS),
    },
    rule=f"An integer {inputs.FEES_MIN_DAYS}-{inputs.FEES_MAX_DAYS} in decimal "
    "digits (white space around it is allowed).",
)


def page_number(default: int, maximum: int | None = None) -> Parser:
    """`page`/`pageSize`: parseInt; anything non-numeric is the default."""

    def parse(raw: str) -> int:
        value = parse_int(raw)
        return default if value is None else max(-(10**9), min(10**9, value))

    bound = f"1-{maximum}" if maximum is not None else "at least 1"
    return Parser(
        parse,
        rule=f"Any value: parseInt, clamped to {bound}; 0 or anything unreadable "
        f"means {default}.",
    )


def _true_only(raw: str) -> bool | None:
    return True if raw == "true" else None


# `featured=true` filters; any other value means no filter.
true_only = Parser(
    _true_only, rule="Any value: `true` filters; anything else means no filter."
)


def text(name: str, limit: int = 64) -> Parser:
    def parse(raw: str) -> str | None:
        if len(raw) > limit:
            raise BadRequest(f"{name} must be at most {limit} characters")
        return raw or None

    return Parser(
        parse,
        {"type": "string", "maxLength": limit, "pattern": f"^[^\\x00]{{0,{limit}}}$"},
        rule="Empty means none.",
    )


def date_bound(name: str) -> Parser:
    """`from`/`to`: an RFC 3339 date or date-time (the resolver reads it), or
    empty for no bound."""
    short = text(name, 40)
    dated = [
        {"type": "string", "format": kind, "maxLength": 40}
        for kind in ("date", "date-time")
    ]
    return Parser(
        short.parse,
        {"anyOf": [*dated, {"type": "string", "maxLength": 0}]},
        rule="A date (2026-05-01) or an RFC 3339 date-time, counted by its UTC date; "
        "empty means no bound.",
    )


# A provider login's id: 64 hex digits, in any case, within white space.
session_id = Parser(
    text("login_session_id", 128).parse,
    {
        "type": "string",
        "maxLength": 128,
        "pattern": f"^[{WHITESPACE}]*[0-9a-fA-F]{{64}}[{WHITESPACE}]*$",
    },
)


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
    rule=f"Any value: `all` lists every model; else parseInt, clamped to "
    f"{inputs.MIN_LIMIT}-{inputs.MAX_LIMIT}; anything unreadable means 50.",
)


# --- cache rules --------------------------------------------------------------------


# `pollMs` (job feed): read by JobFeedCache for Cache-Control, not a variable.
poll_ms = Parser(
    _ignored,
    rule="Any value: read as JavaScript's Number(); the answer's max-age is it in "
    "seconds, clamped to 1-90 (below 1000 ms or unreadable: 30 s).",
)

# Path parameters: one URL segment (a `/` would be another path), no NUL.
PATH_SEGMENT: JsonSchema = {"type": "string", "minLength": 1, "pattern": "^[^/\\x00]+$"}
# A billing provider with OAuth endpoints configured (`OAUTH_PROVIDERS`, or in
# development the simulated ones).
PROVIDER_SLUG = Enumerated(
    "providers", "A billing provider configured for OAuth (OAUTH_PROVIDERS)."
)
