"""Planning a read (app/caching/plan.py): which snapshots a document needs."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import parse

from app.caching.plan import ReadPlan, plan_read
from app.schema import PUBLIC_FIELDS, graphql_schema, schema


def plan(query: str, variables: dict[str, Any] | None = None) -> ReadPlan | None:
    return plan_read(
        graphql_schema(schema), parse(query), None, variables, PUBLIC_FIELDS
    )


def keys(found: ReadPlan | None) -> list[str]:
    assert found is not None
    return [need.key for need in found.needs]


def test_argument_spellings_of_the_same_data_name_one_snapshot() -> None:
    spellings = [
        '{ kpi(timeframe: "24") { timeframeHours } }',
        '{ kpi(window: "1d") { timeframeHours } }',
        "{ kpi { timeframeHours } }",
        "query Q($t: String) { kpi(timeframe: $t) { timeframeHours } }",
    ]
    found = {tuple(keys(plan(q, {"t": "24h"}))) for q in spellings}
    assert len(found) == 1


def test_pipelines_and_its_overview_share_one_snapshot() -> None:
    found = plan(
        '{ a: pipelines(limit: 5) { name } b: pipelinesOverview(timeframe: "24")'
        " { streaming { name } } }"
    )
    assert len(keys(found)) == 1


def test_every_network_models_limit_reads_the_whole_list() -> None:
    assert keys(plan("{ networkModels(limit: 3) { count } }")) == keys(
        plan("{ networkModels(all: true) { total } }")
    )


def test_skipped_and_not_included_fields_need_nothing() -> None:
    query = """query Q($no: Boolean!) {
        kpi @skip(if: true) { timeframeHours }
        fees @include(if: $no) { totalEth }
        protocol { currentRound }
    }"""
    assert keys(plan(query, {"no": False})) == [
        keys(plan("{ protocol { currentRound } }"))[0]
    ]


def test_fragments_are_followed_to_their_root_fields() -> None:
    query = """{ ...A ... on Query { pricing { price } } }
        fragment A on Query { protocol { currentRound } }"""
    assert len(keys(plan(query))) == 2


def test_job_feed_makes_the_plan_as_fresh_as_the_feed() -> None:
    with_feed = plan("{ kpi { timeframeHours } jobFeed { queryFailed } }")
    without = plan("{ kpi { timeframeHours } }")
    assert with_feed is not None
    assert without is not None
    assert (with_feed.freshness, without.freshness) == ("job_feed", "dashboard")


@pytest.mark.parametrize(
    ("query", "variables"),
    [
        pytest.param(
            "{ apiKeys { total } kpi { timeframeHours } }", None, id="private"
        ),
        pytest.param("{ __schema { queryType { name } } }", None, id="introspection"),
        pytest.param('mutation { revokeApiKey(id: "x") { id } }', None, id="mutation"),
        pytest.param("{ fees(days: 3) { totalEth } }", None, id="argument-refused"),
        pytest.param('{ kpi(pipeline: "a b") { timeframeHours } }', None, id="bad-id"),
        pytest.param("query Q($d: Int!) { fees(days: $d) { totalEth } }", {}, id="var"),
        pytest.param("{ ...Missing }", None, id="unknown-fragment"),
        pytest.param(
            "query A { protocol { currentRound } } query B { pricing { price } }",
            None,
            id="ambiguous",
        ),
    ],
)
def test_anything_but_a_query_of_public_fields_has_no_plan(
    query: str, variables: dict[str, Any] | None
) -> None:
    assert plan(query, variables) is None


def test_typename_alone_needs_no_snapshot() -> None:
    assert keys(plan("{ __typename }")) == []
