"""Operations: /healthz, /readyz, /metrics and the access log."""

from __future__ import annotations

import logging
import secrets
from typing import Any

import httpx
import orjson
import pytest
from starlette.applications import Starlette

from app.auth import user_hash
from app.edge.logs import ConsoleFormatter, JsonFormatter, request_id
from app.graphql.labels import OperationLabels
from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock, auth, serve, token_for

KPI = "/api/v1/dashboard/kpi"
KEYS = "/api/v1/developer/keys"


# --- /healthz and /readyz -------------------------------------------------------------


async def test_readyz_is_503_until_startup_has_finished(app: Starlette) -> None:
    # No lifespan yet: the app answers, but is not ready.
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as http:
        response = await http.get("/readyz")
        assert response.status_code == 503
        assert response.json() == {"status": "starting"}
        assert response.headers["cache-control"] == "no-store"
        assert (await http.get("/healthz")).status_code == 200  # alive already


async def test_readyz_reports_dependencies_once_started(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["database"]["ok"] is True
    assert body["database"]["latencyMs"] >= 0
    assert body["upstreams"] == {
        name: {"state": "closed", "simulated": True}
        for name in ("analytics", "subgraph", "l1-rpc")
    }
    assert body["cache"] == {"backend": "memory", "ok": True}
    assert response.headers["cache-control"] == "no-store"


# --- /metrics -------------------------------------------------------------------------


async def test_metrics_has_the_families_with_bounded_labels(
    client: httpx.AsyncClient,
) -> None:
    await client.get(KPI)
    await client.get(KPI)
    await client.get(f"{KPI}?refresh=1")
    await client.post("/graphql", json={"query": "{ protocol { currentRound } }"})
    await client.post("/graphql", json={"query": "{ protocol { currentRound } }"})
    await client.post(
        "/graphql",
        json={"query": "query Whatever { __typename }", "operationName": "Whatever"},
    )
    await client.get("/nowhere/42")
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    for family in (
        "naap_http_requests_total",
        "naap_http_request_duration_seconds",
        "naap_http_refused_total",
        "naap_cache_requests_total",
        "naap_upstream_request_duration_seconds",
        "naap_upstream_errors_total",
        "naap_upstream_dropped_rows_total",
        "naap_upstream_breaker_state",
        "naap_readiness",
    ):
        assert f"# TYPE {family} " in text, family
    labels = (
        'route="/api/v1/dashboard/kpi"',
        'route="/graphql query:protocol"',
        'route="/graphql introspection"',
        'route="unmatched"',
    )
    requests = [
        line
        for line in text.splitlines()
        if line.startswith("naap_http_requests_total{")
    ]
    for label in labels:
        assert any(label in line for line in requests), label
    assert "/nowhere/42" not in text  # raw paths never become labels
    assert "Whatever" not in text  # nor client operation names
    for result in ("hit", "miss", "bypass"):
        assert f'naap_cache_requests_total{{result="{result}",surface="rest"}}' in text
    assert 'naap_cache_requests_total{result="hit",surface="graphql"}' in text
    assert 'naap_upstream_breaker_state{upstream="analytics"} 0.0' in text


async def test_metrics_token_is_required_when_set(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    guarded = settings.model_copy(update={"metrics_token": "scrape-secret"})
    async with serve(create_app(guarded, simulator=simulator, clock=clock)) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert (await http.get("/metrics", headers=wrong)).status_code == 401
        right = {"authorization": "Bearer scrape-secret"}
        response = await http.get("/metrics", headers=right)
    assert response.status_code == 200
    assert "naap_http_requests_total" in response.text


def test_graphql_operation_labels_are_bounded() -> None:
    labels = OperationLabels(
        {"query": frozenset({"kpi", "protocol", "fees", "pricing"})}
    )

    def label(document: Any) -> str:
        scope = {"method": "POST", "query_string": b""}
        return labels(scope, [orjson.dumps(document)])

    assert label({"query": "{ protocol { x } kpi { y } }"}) == "query:kpi,protocol"
    assert label({"query": "{ a: kpi { y } b: kpi { y } }"}) == "query:kpi"
    assert label({"query": "{ kpi protocol fees pricing }"}) == "query:other"
    assert label({"query": "{ secretField }"}) == "query:other"
    assert label({"query": "{ __schema { types { name } } }"}) == "introspection"
    assert label({"query": "{ nope"}) == "invalid"
    assert label({"query": "query A { kpi } query B { fees }"}) == "invalid"
    assert (
        label({"query": "query A { kpi } query B { fees }", "operationName": "B"})
        == "query:fees"
    )
    assert label({"query": "mutation { kpi }"}) == "mutation:other"
    assert label({"query": "{ ...F } fragment F on Query { kpi }"}) == "query:kpi"
    get = {"method": "GET", "query_string": b"query=%7B%20kpi%20%7D"}
    assert labels(get, None) == "query:kpi"


# --- The access log -------------------------------------------------------------------


def access_records(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    return [r.access for r in caplog.records if hasattr(r, "access")]


async def test_one_access_line_per_request_with_its_fields(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="naap.access")
    await client.get(KPI, headers={"x-request-id": "req-1"})
    await client.get(KPI, headers={"x-request-id": "req-2"})
    await client.post("/graphql", json={"query": "{ protocol { currentRound } }"})
    lines = access_records(caplog)
    assert len(lines) == 3
    first, second, graphql = lines
    assert first["request_id"] == "req-1"
    assert first["method"] == "GET"
    assert first["route"] == KPI
    assert first["status"] == 200
    assert first["cache"] == "MISS"
    assert second["cache"] == "HIT"
    assert first["duration_ms"] > 0
    assert first["user"] is None
    assert first["client"] == "127.0.0.1"
    assert "operation" not in first
    assert graphql["route"] == "/graphql"
    assert graphql["operation"] == "query:protocol"


async def test_an_authenticated_request_logs_a_user_hash_and_no_secrets(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="naap.access")
    token = token_for("user-a")
    bearer = {"authorization": f"Bearer {token}"}
    providers = await client.get("/api/v1/billing-providers")
    provider_id = providers.json()["data"]["providers"][0]["id"]
    raw_key = "pmth_" + secrets.token_hex(16)
    caplog.clear()
    created = await client.post(
        KEYS,
        json={"billingProviderId": provider_id, "rawApiKey": raw_key},
        headers=bearer,
    )
    assert created.status_code == 200, created.text
    await client.get(f"{KEYS}?secret=hunter2", headers=auth("user-a"))
    [write, read] = access_records(caplog)
    assert write["user"] == read["user"] == user_hash("user-a")
    assert write["route"] == KEYS
    formatter = JsonFormatter()
    text = caplog.text + "".join(
        formatter.format(r) for r in caplog.records if r.name == "naap.access"
    )
    assert KEYS in text  # the lines were captured and formatted
    for secret in (token, token.split(".")[2], raw_key, "hunter2", "user-a"):
        assert secret not in text


def test_the_json_line_format() -> None:
    fields = {
        "request_id": "r1",
        "method": "GET",
        "route": KPI,
        "status": 200,
        "duration_ms": 0.81,
        "cache": "HIT",
        "user": None,
        "client": "203.0.113.9",
    }
    record = logging.makeLogRecord(
        {"name": "naap.access", "levelno": logging.INFO, "levelname": "INFO"}
    )
    record.access = fields
    line = JsonFormatter().format(record)
    assert "\n" not in line
    parsed = orjson.loads(line)
    assert parsed.pop("ts").endswith("Z")
    assert parsed == {"level": "info", "logger": "naap.access", **fields}
    console = ConsoleFormatter().format(record)
    assert f"INFO access GET {KPI} 200 0.81ms cache=HIT client=203.0.113.9" in console


def test_other_records_carry_the_request_id_while_it_runs() -> None:
    record = logging.LogRecord(
        "naap.x", logging.WARNING, "", 0, "upstream %s", ("down",), None
    )
    token = request_id.set("abc")
    try:
        line = orjson.loads(JsonFormatter().format(record))
    finally:
        request_id.reset(token)
    assert line["msg"] == "upstream down"
    assert line["request_id"] == "abc"
    assert line["level"] == "warning"
    assert "request_id" not in orjson.loads(JsonFormatter().format(record))
