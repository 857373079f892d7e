"""The `PERSISTED_OPERATIONS` policies on `/graphql`: `audit` counts and logs what
`enforce-anonymous` refuses (documents not registered, sent without a token), which
also turns APQ registration off; `off` takes no hashes."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.context import Context
from app.graphql.policy import REQUIRED_MESSAGE
from tests.support.app import auth, serve
from tests.support.metrics import sample
from tests.support.persisted import (
    APQ_QUERY,
    PUBLIC_CACHE,
    SOURCE,
    errors_of,
    hashed_get,
    persisted,
    sha256,
)


@pytest.fixture
async def enforcing(build: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(build(persisted_operations="enforce-anonymous")) as http:
        yield http


async def test_audit_counts_and_logs_unregistered_documents_without_a_token(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    registered = SOURCE["DashboardProtocol"].decode()
    counted = "naap_graphql_persisted_total"
    before = sample(counted, result="unregistered")
    with caplog.at_level(logging.INFO, logger="naap.graphql.persisted"):
        for _ in range(2):  # answered from the cache the second time: still counted
            await client.post("/graphql", json={"query": APQ_QUERY})
        await client.post("/graphql", json={"query": "{ __typename }"})  # not cached
        await client.post("/graphql", json={"query": APQ_QUERY}, headers=auth())
        await client.post("/graphql", json={"query": registered})
    assert sample(counted, result="unregistered") == before + 3
    logged = [r.getMessage() for r in caplog.records]
    assert (
        logged.count(
            f"unregistered GraphQL document without a token: sha256 {sha256(APQ_QUERY)}"
        )
        == 1
    )
    assert any(sha256("{ __typename }") in line for line in logged)
    assert not any(sha256(registered) in line for line in logged)


async def test_enforce_anonymous_refuses_an_unregistered_document(
    enforcing: httpx.AsyncClient,
) -> None:
    before = sample("naap_graphql_persisted_total", result="refused")
    for request in (
        enforcing.post("/graphql", json={"query": APQ_QUERY}),
        enforcing.get("/graphql", params={"query": APQ_QUERY}),
        enforcing.post("/graphql", json={"query": "mutation { __typename }"}),
        enforcing.post(
            "/graphql",
            json={"query": APQ_QUERY},
            headers={"authorization": "Bearer not-a-token"},
        ),
    ):
        response = await request
        assert response.status_code == 200
        body = response.json()
        assert body["data"] is None
        assert errors_of(response) == ["PERSISTED_OPERATION_REQUIRED"]
        assert body["errors"][0]["message"] == REQUIRED_MESSAGE
        assert response.headers["cache-control"] == "private, no-store"
    assert sample("naap_graphql_persisted_total", result="refused") == before + 4


async def test_enforce_anonymous_runs_registered_operations(
    enforcing: httpx.AsyncClient,
) -> None:
    source = SOURCE["DashboardProtocol"].decode()
    by_text = await enforcing.post("/graphql", json={"query": source})
    by_hash = await enforcing.get(hashed_get(sha256(source)))
    assert by_text.json()["data"]["protocol"]["currentRound"] > 0
    assert by_hash.content == by_text.content
    assert by_hash.headers["cache-control"] == PUBLIC_CACHE


async def test_enforce_anonymous_runs_a_token_holders_ad_hoc_query(
    enforcing: httpx.AsyncClient,
) -> None:
    response = await enforcing.post(
        "/graphql", json={"query": APQ_QUERY}, headers=auth()
    )
    assert response.json()["data"]["protocol"]["currentRound"] > 0
    developer = await enforcing.post(
        "/graphql", json={"query": "{ projects { name } }"}, headers=auth()
    )
    assert "errors" not in developer.json()


async def test_enforce_anonymous_turns_apq_registration_off(
    enforcing: httpx.AsyncClient,
) -> None:
    digest = sha256(APQ_QUERY)
    miss = await enforcing.post("/graphql", json={"extensions": persisted(digest)})
    assert errors_of(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    anonymous = await enforcing.post(
        "/graphql", json={"query": APQ_QUERY, "extensions": persisted(digest)}
    )
    assert errors_of(anonymous) == ["PERSISTED_OPERATION_REQUIRED"]
    token = await enforcing.post(
        "/graphql",
        json={"query": APQ_QUERY, "extensions": persisted(digest)},
        headers=auth(),
    )
    assert token.json()["data"]["protocol"]["currentRound"] > 0  # runs, unregistered
    still = await enforcing.post("/graphql", json={"extensions": persisted(digest)})
    assert errors_of(still) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_graphiql_says_why_ad_hoc_queries_are_refused_when_enforcing(
    enforcing: httpx.AsyncClient, build: Any
) -> None:
    page = await enforcing.get("/graphql", headers={"accept": "text/html"})
    assert page.status_code in (200, 503)  # 503: GraphiQL's files not installed
    if page.status_code == 200:
        assert "PERSISTED_OPERATION_REQUIRED" in page.text
        assert "Authorization" in page.text
    async with serve(build()) as http:
        usual = await http.get("/graphql", headers={"accept": "text/html"})
    assert "PERSISTED_OPERATION_REQUIRED" not in usual.text


async def test_off_runs_documents_and_takes_no_hashes(build: Any) -> None:
    source = SOURCE["DashboardProtocol"].decode()
    before = sample("naap_graphql_persisted_total", result="unregistered")
    async with serve(build(persisted_operations="off")) as http:
        text = await http.post("/graphql", json={"query": APQ_QUERY})
        by_hash = await http.post(
            "/graphql", json={"extensions": persisted(sha256(source))}
        )
        by_get = await http.get(hashed_get(sha256(source)))
    assert text.json()["data"]["protocol"]["currentRound"] > 0
    assert errors_of(by_hash) == errors_of(by_get) == ["PERSISTED_QUERY_NOT_SUPPORTED"]
    assert sample("naap_graphql_persisted_total", result="unregistered") == before


async def test_the_extension_refuses_in_band_for_any_transport(
    app: Starlette, client: httpx.AsyncClient
) -> None:
    """What Strawberry runs without the HTTP front (a WebSocket or SSE transport):
    the policy's extension answers malformed and unknown hashes as errors of the
    result, never by raising, and registers a document sent with its hash."""
    services = app.state.services
    schema = app.state.schema

    async def run(query: str | None, extensions: Any) -> Any:
        context = Context(services=services, persisted_policy=True)
        return await schema.execute(
            query, operation_extensions=extensions, context_value=context
        )

    malformed = await run(None, {"persistedQuery": "x"})
    assert [e.extensions["code"] for e in malformed.errors] == ["BAD_REQUEST"]
    digest = sha256(APQ_QUERY)
    miss = await run(None, persisted(digest))
    assert [e.extensions["code"] for e in miss.errors] == ["PERSISTED_QUERY_NOT_FOUND"]
    registered = await run(APQ_QUERY, persisted(digest))
    assert registered.errors is None
    hit = await run(None, persisted(digest))
    assert hit.data == registered.data


def test_an_unknown_policy_is_a_configuration_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from app.settings import SettingsError, load_settings

    monkeypatch.setenv("PERSISTED_OPERATIONS", "enforce")
    with pytest.raises(SettingsError, match="persisted_operations"):
        load_settings()
