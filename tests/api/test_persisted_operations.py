"""Persisted operations on `/graphql`: every REST operation file by hash (POST and
GET, the same answer as its text), the cached hashed GET, malformed requests, the
manifest route, and APQ (miss, register, hit; mismatches; its bound; its rate
budget). The policies are in test_persisted_policy.py."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from app.graphql.policy import NOT_FOUND_CACHE_CONTROL
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

SESSION = "ab" * 32
# What each operation file is run with: deterministic answers (errors included),
# so the text and the hash can be compared byte for byte.
VARIABLES: dict[str, dict[str, Any]] = {
    "ApiKey": {"id": "no-such-key"},
    "ApiKeys": {"page": 1, "pageSize": 5},
    "CreateApiKey": {"input": {"billingProviderId": "nope", "rawApiKey": "dd_x1"}},
    "CreateProject": {"input": {"name": " "}},
    "DashboardFees": {"days": 30},
    "DashboardGPUCapacity": {"timeframe": "12"},
    "DashboardKPI": {"timeframe": "12", "pipeline": "live-video-to-video"},
    "DashboardOrchestrators": {"period": "2d"},
    "DashboardPipelines": {"limit": 3},
    "Model": {"id": "no-such-model"},
    "Models": {"featured": True},
    "NetworkModels": {"all": True},
    "ProviderLoginResult": {"slug": "daydream", "login_session_id": SESSION},
    "RevokeApiKey": {"id": "no-such-key"},
    "StartProviderLogin": {"slug": "nope"},
    "Usage": {"from": "2026-11-01", "to": "2026-11-30"},
}
PUBLIC = (
    "BillingProviders",
    "DashboardFees",
    "DashboardGPUCapacity",
    "DashboardJobFeed",
    "DashboardKPI",
    "DashboardOrchestrators",
    "DashboardPipelineCatalog",
    "DashboardPipelines",
    "DashboardPricing",
    "DashboardProtocol",
    "NetworkModels",
)


# --- registered operations by hash -----------------------------------------------
@pytest.mark.parametrize("name", list(SOURCE))
async def test_every_operation_file_runs_by_hash_as_its_text(
    client: httpx.AsyncClient, name: str
) -> None:
    body = SOURCE[name].decode()
    digest = sha256(SOURCE[name])
    variables = VARIABLES.get(name, {})
    headers = auth("persisted-user")
    text = await client.post(
        "/graphql", json={"query": body, "variables": variables}, headers=headers
    )
    by_post = await client.post(
        "/graphql",
        json={"extensions": persisted(digest), "variables": variables},
        headers=headers,
    )
    assert text.status_code == by_post.status_code == 200
    assert by_post.content == text.content
    as_get = await client.get(
        "/graphql",
        params={"query": body, "variables": json.dumps(variables)},
        headers=headers,
    )
    by_get = await client.get(hashed_get(digest, variables), headers=headers)
    assert by_get.status_code == as_get.status_code  # mutations: 405 both ways
    assert by_get.content == as_get.content


@pytest.mark.parametrize("name", PUBLIC)
async def test_a_hashed_get_of_a_public_operation_is_cached_publicly(
    client: httpx.AsyncClient, name: str
) -> None:
    digest = sha256(SOURCE[name])
    url = hashed_get(digest, VARIABLES.get(name))
    first = await client.get(url)
    second = await client.get(url)
    assert first.status_code == second.status_code == 200
    assert "errors" not in second.json()
    assert second.headers["x-cache"] == "HIT"
    assert second.headers["cache-control"].startswith("public, ")
    assert second.content == first.content


async def test_a_hashed_get_shares_the_text_forms_cached_answer(
    client: httpx.AsyncClient,
) -> None:
    source = SOURCE["DashboardProtocol"].decode()
    text = await client.get("/graphql", params={"query": source})
    by_hash = await client.get(hashed_get(sha256(source)))
    assert text.headers["x-cache"] == "MISS"
    assert by_hash.headers["x-cache"] == "HIT"
    assert by_hash.headers["cache-control"] == PUBLIC_CACHE
    assert by_hash.content == text.content


async def test_a_malformed_persisted_query_extension_is_a_400(
    client: httpx.AsyncClient,
) -> None:
    for extension in (
        {"persistedQuery": {"version": 2, "sha256Hash": "a" * 64}},
        # Was a miss, not a 400 (schemathesis): Python reads JSON's true as 1.
        {"persistedQuery": {"version": True, "sha256Hash": "a" * 64}},
        {"persistedQuery": {"version": 1, "sha256Hash": "xyz"}},
        {"persistedQuery": "a" * 64},
    ):
        for response in (
            await client.post("/graphql", json={"extensions": extension}),
            await client.get("/graphql", params={"extensions": json.dumps(extension)}),
            await client.post(
                "/graphql", json={"query": APQ_QUERY, "extensions": extension}
            ),
        ):
            assert response.status_code == 400
            assert errors_of(response) == ["BAD_REQUEST"]
            assert "persistedQuery" in response.json()["errors"][0]["message"]


@pytest.mark.parametrize(
    "params",
    [
        {"variables": "{not json"},
        {"variables": ""},
        {"extensions": "[1]"},
        {"extensions": "5"},
        {"variables": "[]", "query": "{ __typename }"},
    ],
)
async def test_get_parameters_that_should_be_json_objects_are_a_400(
    client: httpx.AsyncClient, params: dict[str, str]
) -> None:
    response = await client.get(
        "/graphql", params=params, headers={"accept": "text/html"}
    )
    assert response.status_code == 400
    assert errors_of(response) == ["BAD_REQUEST"]


async def test_a_cached_query_with_a_malformed_field_is_refused_like_strawberry(
    client: httpx.AsyncClient,
) -> None:
    await client.post("/graphql", json={"query": APQ_QUERY})  # now cached
    for payload in (
        {"query": APQ_QUERY, "extensions": 5},
        {"query": APQ_QUERY, "operationName": 5},
        {"query": APQ_QUERY, "variables": [1]},
    ):
        response = await client.post("/graphql", json=payload)
        assert response.status_code == 400, payload
        assert "must be" in response.json()["errors"][0]["message"]


async def test_a_hashed_request_is_labelled_by_its_document(
    client: httpx.AsyncClient,
) -> None:
    digest = sha256(SOURCE["DashboardProtocol"])
    label = "/graphql query:protocol"
    before = sample("naap_http_requests_total", route=label, method="GET", status="200")
    await client.get(hashed_get(digest))
    after = sample("naap_http_requests_total", route=label, method="GET", status="200")
    assert after == before + 1


# --- the manifest ---------------------------------------------------------------------
async def test_the_manifest_lists_every_operation_file_under_its_hash(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/graphql/persisted-operations.json")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "public, max-age=300"
    manifest = response.json()
    assert manifest["format"] == "apollo-persisted-query-manifest"
    assert manifest["version"] == 1
    by_name = {op["name"]: op for op in manifest["operations"]}
    assert len(manifest["operations"]) == len(SOURCE) == len(by_name)
    for name, source in SOURCE.items():
        entry = by_name[name]
        assert entry["id"] == sha256(source) == sha256(entry["body"])
        assert entry["type"] == (
            "mutation"
            if name
            in ("CreateApiKey", "CreateProject", "RevokeApiKey", "StartProviderLogin")
            else "query"
        )


# --- APQ ----------------------------------------------------------------------------


async def test_apq_miss_then_registration_then_hit_by_hash_alone(
    client: httpx.AsyncClient,
) -> None:
    digest = sha256(APQ_QUERY)
    miss = await client.post("/graphql", json={"extensions": persisted(digest)})
    assert miss.status_code == 200
    assert errors_of(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert miss.json()["errors"][0]["message"] == "PersistedQueryNotFound"
    assert miss.headers["cache-control"] == NOT_FOUND_CACHE_CONTROL
    get_miss = await client.get(hashed_get(digest))
    assert errors_of(get_miss) == ["PERSISTED_QUERY_NOT_FOUND"]
    assert get_miss.headers["cache-control"] == NOT_FOUND_CACHE_CONTROL

    registered = await client.post(
        "/graphql", json={"query": APQ_QUERY, "extensions": persisted(digest)}
    )
    assert registered.status_code == 200
    assert registered.json()["data"]["protocol"]["currentRound"] > 0

    hit = await client.post("/graphql", json={"extensions": persisted(digest)})
    assert hit.json() == registered.json()
    by_get = await client.get(hashed_get(digest))
    assert by_get.json() == registered.json()
    assert by_get.headers["cache-control"] == PUBLIC_CACHE


async def test_apq_refuses_a_hash_that_is_not_the_texts(
    client: httpx.AsyncClient,
) -> None:
    wrong = sha256(APQ_QUERY + " ")
    response = await client.post(
        "/graphql", json={"query": APQ_QUERY, "extensions": persisted(wrong)}
    )
    assert response.status_code == 200
    assert response.json()["data"] is None
    assert errors_of(response) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    # Nothing was registered under either hash.
    for digest in (wrong, sha256(APQ_QUERY)):
        again = await client.post("/graphql", json={"extensions": persisted(digest)})
        assert errors_of(again) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_apq_registers_only_documents_that_validate(
    client: httpx.AsyncClient,
) -> None:
    bad = "{ protocol { noSuchField } }"
    response = await client.post(
        "/graphql", json={"query": bad, "extensions": persisted(sha256(bad))}
    )
    assert response.json()["data"] is None
    assert "noSuchField" in response.json()["errors"][0]["message"]
    again = await client.post("/graphql", json={"extensions": persisted(sha256(bad))})
    assert errors_of(again) == ["PERSISTED_QUERY_NOT_FOUND"]


async def test_apq_store_keeps_its_bound(build: Any) -> None:
    documents = [f"{{ a{n}: __typename }}" for n in range(4)]
    async with serve(build(apq_max_entries=3)) as http:
        for document in documents:
            await http.post(
                "/graphql",
                json={"query": document, "extensions": persisted(sha256(document))},
            )
        oldest, *newest = documents
        miss = await http.post(
            "/graphql", json={"extensions": persisted(sha256(oldest))}
        )
        assert errors_of(miss) == ["PERSISTED_QUERY_NOT_FOUND"]
        for document in newest:
            hit = await http.post(
                "/graphql", json={"extensions": persisted(sha256(document))}
            )
            assert hit.json()["data"] is not None


async def test_apq_registrations_spend_the_clients_upstream_budget(
    build: Any,
) -> None:
    async with serve(build(rate_limit_upstream="2/minute")) as http:
        codes = []
        for n in range(3):
            document = f"{{ r{n}: __typename }}"
            response = await http.post(
                "/graphql",
                json={"query": document, "extensions": persisted(sha256(document))},
            )
            codes.append(errors_of(response))
    assert codes[:2] == [[], []]
    assert codes[2] == ["RATE_LIMITED"]
