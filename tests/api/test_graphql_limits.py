"""GraphQL limits (app/graphql/limits.py): each from its setting, each reported
once, what legitimate documents need (GraphiQL's introspection query, the REST
facade's operations) within the defaults, and introspection / suggestions
following GRAPHQL_INTROSPECTION.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

import httpx
import pytest
import strawberry
from graphql import get_introspection_query, parse

from app.caching.plan import selected_operation
from app.errors import BadRequest
from app.graphql.endpoint import MAX_CACHEABLE_QUERY
from app.graphql.limits import (
    GraphQLLimits,
    Limits,
    check_limits,
    strip_suggestion,
    validate_with_limits,
)
from app.schema import schema
from app.settings import Settings
from rest_facade.prepare import load_operations
from tests.support.app import serve

DEFAULTS = Limits.from_settings(Settings.model_construct())


def messages(document: str, limits: Limits = DEFAULTS) -> list[str]:
    return [e.message for e in check_limits(parse(document), limits)]


def nested(depth: int) -> str:
    """`{ kpi { successRate { ... } } }`-shaped: `depth` levels of fields."""
    return "{ " + "a { " * (depth - 1) + "b" + " }" * (depth - 1) + " }"


async def post(client: httpx.AsyncClient, query: str, **extra: Any) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query, **extra})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# --- what legitimate documents need fits the defaults ---------------------------
@pytest.mark.parametrize(
    "options",
    [
        {},
        {
            "descriptions": True,
            "specified_by_url": True,
            "directive_is_repeatable": True,
            "schema_description": True,
            "input_value_deprecation": True,
        },
    ],
    ids=["plain", "graphiql-options"],
)
async def test_graphiql_introspection_query_passes_the_default_limits(
    client: httpx.AsyncClient, options: dict[str, bool]
) -> None:
    body = await post(client, get_introspection_query(**options))
    assert "errors" not in body, body["errors"]
    assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_rest_facade_operations_pass_the_default_limits() -> None:
    operations = load_operations(schema)
    assert len(operations) > 10
    for name, document in operations.items():
        parsed = parse(document, max_tokens=DEFAULTS.max_tokens)
        assert check_limits(parsed, DEFAULTS) == [], name
        errors = validate_with_limits(schema._schema, parsed, (), DEFAULTS)
        assert errors == [], name


async def test_limits_are_in_the_schema_so_the_rest_facade_gets_them_too(
    build: Any,
) -> None:
    async with serve(build(graphql_max_depth=1)) as client:
        rest = await client.get("/api/v1/dashboard/kpi")
        graphql = await post(client, "{ kpi { timeframeHours } }")
    assert rest.status_code == 400
    assert "at most 1" in rest.json()["error"]["message"]
    assert "at most 1" in graphql["errors"][0]["message"]


# --- depth ------------------------------------------------------------------------
def test_depth_at_the_limit_passes_and_one_more_is_one_error() -> None:
    assert messages(nested(DEFAULTS.max_depth)) == []
    assert messages(nested(DEFAULTS.max_depth + 1)) == [
        f"The operation is {DEFAULTS.max_depth + 1} fields deep; at most "
        f"{DEFAULTS.max_depth} are allowed."
    ]


def test_depth_counts_through_fragments_and_inline_fragments() -> None:
    limits = replace(DEFAULTS, max_depth=2)
    document = "{ a { ... on T { b { ...F } } } } fragment F on T { c }"
    assert messages(document, limits) == [
        "The operation is 3 fields deep; at most 2 are allowed."
    ]
    assert messages(document, replace(limits, max_depth=3)) == []
    assert messages("{ a { ...F } } fragment F on T { b }", limits) == []
    assert messages("{ a { ...F } } fragment F on T { b { c } }", limits)


def test_depth_stops_at_introspection_fields() -> None:
    limits = replace(DEFAULTS, max_depth=2)
    assert messages("{ __schema { types { fields { type { name } } } } }", limits) == []
    assert messages('{ a { __type(name: "X") { fields { name } } } }', limits) == []


async def test_too_deep_is_refused_through_graphql_with_one_error(
    build: Any,
) -> None:
    async with serve(build(graphql_max_depth=2)) as client:
        body = await post(client, "{ kpi { successRate { value } } }")
        fine = await post(
            client,
            "{ kpi { successRate { value } } }".replace(
                "{ successRate { value } }", "{ timeframeHours }"
            ),
        )
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "The operation is 3 fields deep; at most 2 are allowed."
    ]
    assert fine == {"data": {"kpi": {"timeframeHours": 24}}}


# --- aliases ------------------------------------------------------------------------
def aliases(count: int) -> str:
    return " ".join(f"a{i}: __typename" for i in range(count))


def test_aliases_at_the_limit_pass_and_one_more_is_one_error() -> None:
    assert messages("{ " + aliases(DEFAULTS.max_aliases) + " }") == []
    assert messages("{ " + aliases(DEFAULTS.max_aliases + 1) + " }") == [
        f"The operation uses {DEFAULTS.max_aliases + 1} aliases (fragments "
        f"included); at most {DEFAULTS.max_aliases} are allowed."
    ]


def test_aliases_reached_through_fragment_spreads_are_counted_per_spread() -> None:
    # 4 spreads of a fragment with 10 aliases: 40, though the text has 10.
    document = (
        "{ a { ...F } b { ...F } c { ...F } d { ... on T { ...F } } } "
        "fragment F on T { " + aliases(10) + " }"
    )
    [message] = messages(document)
    assert "uses 40 aliases" in message


def test_multiplying_fragments_are_counted_without_expanding_them() -> None:
    """Each fragment spreads the previous one twice under aliases: 2^40 aliases
    at execution. Counting must be exact and must not take 2^40 steps."""
    fragments = ["fragment F0 on T { x: __typename }"] + [
        f"fragment F{i} on T {{ l: a {{ ...F{i - 1} }} r: a {{ ...F{i - 1} }} }}"
        for i in range(1, 41)
    ]
    document = "{ a { ...F40 } } " + " ".join(fragments)
    limits = replace(DEFAULTS, max_depth=100)
    started = time.perf_counter()
    [message] = messages(document, limits)
    assert time.perf_counter() - started < 0.5
    assert f"uses {2**40 + 2 * (2**40 - 1)} aliases" in message


def test_fragment_cycles_and_unknown_fragments_count_as_empty() -> None:
    # The spec rules report them once the limits pass.
    document = "{ ...A ...Nope } fragment A on Q { ...B } fragment B on Q { ...A }"
    assert messages(document) == []


def test_aliases_count_per_operation() -> None:
    half = aliases(DEFAULTS.max_aliases)
    assert messages(f"query A {{ {half} }} query B {{ {half} }}") == []


# --- tokens -------------------------------------------------------------------------
async def test_too_many_tokens_is_a_syntax_error_before_any_parsing_is_done(
    build: Any,
) -> None:
    async with serve(build(graphql_max_tokens=100)) as client:
        body = await post(client, "{ " + "__typename " * 100 + "}")
        fine = await post(client, "{ " + "__typename " * 5 + "}")
    assert body["data"] is None
    assert [e["message"] for e in body["errors"]] == [
        "Syntax Error: Document contains more than 100 tokens. Parsing aborted."
    ]
    assert fine == {"data": {"__typename": "Query"}}


# --- repeated fields ----------------------------------------------------------------
def test_repeated_field_at_the_limit_passes_and_one_more_is_one_error() -> None:
    limit = DEFAULTS.max_repeated_fields
    assert messages("{ " + "__typename " * limit + "}") == []
    assert messages("{ " + "__typename " * (limit + 1) + "}") == [
        f"'__typename' is selected more than {limit} times in one selection set."
    ]
    assert len(messages("{ " + "__typename " * 500 + "a { b b b b b b } }")) == 1


def test_repeats_count_response_keys_spreads_and_inline_fragments() -> None:
    assert messages("{ " + aliases(10) + " }") == []  # ten different keys
    assert messages("{ x: a x: a x: a x: a x: a x: b }")  # one key, six times
    assert messages("{ ...F ...F ...F ...F ...F ...F } fragment F on Q { a }") == [
        "'...F' is selected more than 5 times in one selection set."
    ]
    assert messages("{ a ... { a ... { a a } } a a }")  # no type: one selection
    typed = " ".join(f"... on T{i} {{ id }}" for i in range(8))
    assert messages("{ node { " + typed + " } }") == []  # eight types, once each


# --- repeated directives ------------------------------------------------------------
def test_directives_at_the_limit_pass_and_one_more_is_one_error() -> None:
    limit = DEFAULTS.max_directives
    assert messages("{ __typename " + "@include(if: true)" * limit + " }") == []
    assert messages("{ __typename " + "@aa" * (limit + 1) + " }") == [
        f"More than {limit} directives in one place."
    ]


@pytest.mark.parametrize(
    "document",
    [
        "query Q($v: Int @a@a@a@a@a@a) { __typename }",
        "query Q @a@a@a@a@a@a { __typename }",
        "{ ...F @a@a@a@a@a@a } fragment F on Query { __typename }",
        "{ ...F } fragment F on Query @a@a@a@a@a@a { __typename }",
        "{ ... @a@a@a@a@a@a { __typename } }",
    ],
    ids=["variable", "operation", "spread", "fragment", "inline-fragment"],
)
def test_directives_are_limited_at_every_location(document: str) -> None:
    assert messages(document) == ["More than 5 directives in one place."]


async def test_500_unknown_directives_are_one_small_error(
    client: httpx.AsyncClient,
) -> None:
    """Not 500 `Unknown directive` errors: the spec rules do not run at all."""
    response = await client.post(
        "/graphql", json={"query": "query { __typename " + "@aa" * 500 + " }"}
    )
    assert response.status_code == 200
    assert response.json() == {
        "data": None,
        "errors": [
            {
                "message": "More than 5 directives in one place.",
                "locations": [{"line": 1, "column": 9}],
            }
        ],
    }
    assert len(response.content) < 200


async def test_every_broken_limit_is_reported_once(client: httpx.AsyncClient) -> None:
    query = "{ " + "__typename @aa@aa@aa@aa@aa@aa " * 40 + aliases(40) + " }"
    body = await post(client, query)
    assert [e["message"] for e in body["errors"]] == [
        "'__typename' is selected more than 5 times in one selection set.",
        "More than 5 directives in one place.",
        "The operation uses 40 aliases (fragments included); at most 30 are allowed.",
    ]


async def test_a_long_fragment_chain_is_refused_not_a_crash(build: Any) -> None:
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(3000))
    document = "{ ...F0 } " + chain + " fragment F3000 on Query { __typename }"
    async with serve(build(graphql_max_tokens=100_000)) as client:
        response = await client.post("/graphql", json={"query": document})
    assert response.status_code == 200, response.text[:300]
    assert response.json()["errors"] == [
        {"message": "The document nests fragments too deeply."}
    ]


async def test_a_fragment_chain_within_the_default_limits_is_refused_cleanly(
    client: httpx.AsyncClient,
) -> None:
    """450 links: under the public-query planner's 16 KB, so it walks them too."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(450))
    document = "{ ...F0 } " + chain + " fragment F450 on Query { __typename }"
    assert len(document) < MAX_CACHEABLE_QUERY
    response = await client.post("/graphql", json={"query": document})
    assert response.status_code == 200
    [error] = response.json()["errors"]
    assert error["message"] in {
        "Validation aborted.",  # graphql-core's own guard
        "The document nests fragments too deeply.",
    }


# --- the spec rules still run for documents within the limits ---------------------
async def test_validation_errors_are_capped(client: httpx.AsyncClient) -> None:
    body = await post(client, "{ " + " ".join(f"f{i}" for i in range(40)) + " }")
    assert len(body["errors"]) == 21  # 20 and "Too many validation errors"
    assert "Validation aborted" in body["errors"][-1]["message"]


# --- introspection and suggestions ------------------------------------------------
INTROSPECTION = "{ __schema { types { name } } }"


async def test_introspection_and_suggestions_are_on_by_default(
    client: httpx.AsyncClient,
) -> None:
    body = await post(client, INTROSPECTION)
    assert body["data"]["__schema"]["types"]
    typo = await post(client, "{ kpix }")
    assert typo["errors"][0]["message"].endswith("Did you mean 'kpi'?")


async def test_introspection_off_refuses_schema_and_type_but_not_typename(
    build: Any,
) -> None:
    async with serve(build(graphql_introspection=False)) as client:
        schema_query = await post(client, INTROSPECTION)
        type_query = await post(client, '{ __type(name: "KPI") { name } }')
        typename = await post(client, "{ __typename protocol { __typename } }")
    assert schema_query["data"] is None
    assert "introspection has been disabled" in schema_query["errors"][0]["message"]
    assert type_query["data"] is None
    assert "'__type'" in type_query["errors"][0]["message"]
    assert typename == {
        "data": {"__typename": "Query", "protocol": {"__typename": "Protocol"}}
    }


@pytest.mark.parametrize(
    ("query", "variables", "without"),
    [
        ("{ kpix }", None, "Cannot query field 'kpix' on type 'Query'."),
        ('{ kpi(windw: "2d") { timeframeHours } }', None, "Unknown argument"),
        ("query($x: Strng) { __typename }", None, "Unknown type 'Strng'."),
        ("{ kpi }", None, "must have a selection of subfields"),
        (
            "mutation($i: CreateProjectInput!) { createProject(input: $i) "
            "{ project { id } } }",
            {"i": {"nme": "x"}},
            "not to include unknown field 'nme'. Found: {'nme': 'x'}.",
        ),
    ],
    ids=["field", "argument", "type", "subfields", "input-field-at-execution"],
)
async def test_suggestions_go_off_with_introspection(
    build: Any, query: str, variables: dict[str, Any] | None, without: str
) -> None:
    async with serve(build()) as client:
        on = await post(client, query, variables=variables)
    async with serve(build(graphql_introspection=False)) as client:
        off = await post(client, query, variables=variables)
    assert "Did you mean" in str(on["errors"])  # so the test can fail
    assert "Did you mean" not in str(off["errors"])
    assert any(without in e["message"] for e in off["errors"]), off


def test_strip_suggestion_removes_only_the_suggestion() -> None:
    assert strip_suggestion("Unknown 'x'. Did you mean 'y' or 'z'?") == "Unknown 'x'."
    assert strip_suggestion("Unknown 'x'.") == "Unknown 'x'."


def test_the_public_query_planner_walks_a_long_fragment_chain_without_recursion() -> (
    None
):
    """3000 spreads deep: a recursive walk hit Python's recursion limit; the walk
    is iterative, each fragment expanded once."""
    chain = " ".join(f"fragment F{i} on Query {{ ...F{i + 1} }}" for i in range(3000))
    document = "{ ...F0 } " + chain + " fragment F3000 on Query { __typename }"
    selected = selected_operation(parse(document, max_tokens=100_000), None)
    assert selected is not None
    assert [field.name.value for field in selected[1]] == ["__typename"]


async def test_our_own_error_messages_are_not_stripped() -> None:
    """Only graphql-core's messages lose their suggestion; an AppError says what
    we wrote, even without introspection."""

    @strawberry.type
    class Query:
        @strawberry.field
        def pipeline(self) -> str:
            raise BadRequest("Unknown pipeline 'x'. Did you mean 'y'?")

    tiny = strawberry.Schema(
        query=Query,
        extensions=[lambda: GraphQLLimits(replace(DEFAULTS, introspection=False))],
    )
    result = await tiny.execute("{ pipeline }")
    [error] = result.errors or []
    assert error.message == "Unknown pipeline 'x'. Did you mean 'y'?"
    typo = await tiny.execute("{ pipelin }")
    assert [e.message for e in typo.errors or []] == [
        "Cannot query field 'pipelin' on type 'Query'."
    ]


@pytest.mark.parametrize(
    ("document", "operation", "expected"),
    [
        (
            "{ kpi { timeframeHours } protocol { currentRound } }",
            None,
            {"kpi", "protocol"},
        ),
        (
            "query A { kpi { timeframeHours } } query B { fees { totalEth } }",
            "B",
            {"fees"},
        ),
        (
            "query A { kpi { timeframeHours } } query B { fees { totalEth } }",
            None,
            None,
        ),
        (
            "{ ...F } fragment F on Query { ...G kpi { timeframeHours } }"
            " fragment G on Query { ...F protocol { currentRound } }",
            None,
            {"kpi", "protocol"},
        ),
        ("{ ... on Query { jobFeed { queryFailed } } }", None, {"jobFeed"}),
        ("{ ...Missing }", None, None),
    ],
)
def test_selected_operation_walks_fragments_once_and_refuses_the_ambiguous(
    document: str, operation: str | None, expected: set[str] | None
) -> None:
    """Runs before validation (cache plan, metrics label): a fragment cycle ends,
    an unknown fragment or an ambiguous operation is None, never an exception."""
    selected = selected_operation(parse(document), operation)
    names = {f.name.value for f in selected[1]} if selected is not None else None
    assert names == expected
