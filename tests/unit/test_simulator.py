"""The upstream simulator: wire conformance with the upstream OpenAPI document (every
listed property required), GraphQL and JSON-RPC shapes, determinism under a fixed
clock, scale, faults, and parameter parsing. Every request goes through the ASGI
interface with httpx, as the API server reaches the simulator."""

from __future__ import annotations

import itertools
import re
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx
import jsonschema
import pytest
import yaml
from starlette.applications import Starlette

from simulator import (
    ANALYTICS_ENDPOINTS,
    Fault,
    create_simulator,
    env_lines,
    main,
    parse_limit,
    parse_window_hours,
)
from tests.support.app import REFERENCE

OPENAPI = REFERENCE / "upstream-openapi.yaml"
NOW = datetime(2026, 5, 1, 10, 30, 17, 250000, tzinfo=UTC)

# The two queries the API server sends (app/upstream/subgraph.py).
PROTOCOL_OVERVIEW = """
query ProtocolOverview {
  protocol(id: "0") {
    roundLength
    totalActiveStake
    currentRound { id startBlock initialized }
  }
}
"""
FEES_OVERVIEW = """
query FeesOverview($first: Int!) {
  days(first: $first, orderBy: date, orderDirection: desc) { date volumeETH volumeUSD }
  protocol(id: "0") { totalVolumeETH totalVolumeUSD }
}
"""

LIVE = "live-video-to-video"
DECIMAL = re.compile(r"\d+(\.\d+)?")
RFC3339 = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)")
FEED_STATES = {
    "loading",
    "online",
    "degraded_input",
    "degraded_inference",
    "degraded_output",
}


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def fixed(moment: datetime = NOW) -> Clock:
    return Clock(moment)


async def call(
    sim: Starlette, path: str, params: dict[str, str] | None = None
) -> httpx.Response:
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        return await http.get(path, params=params)


async def post(
    sim: Starlette, path: str, body: Any = None, *, content: bytes = b""
) -> httpx.Response:
    transport = httpx.ASGITransport(app=sim)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        if body is None:
            return await http.post(path, content=content)
        return await http.post(path, json=body)


async def get_json(sim: Starlette, key: str, **params: str) -> Any:
    response = await call(sim, f"/v1/{key}", params)
    assert response.status_code == 200, response.text
    return response.json()


async def subgraph(sim: Starlette, query: str, **variables: Any) -> dict[str, Any]:
    response = await post(sim, "/subgraph", {"query": query, "variables": variables})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.fixture(scope="module")
def sim() -> Starlette:
    """One simulator at a fixed instant, shared so its memo caches warm up once."""
    return create_simulator(seed=1, clock=fixed())


# ---------------------------------------------------------------------------
# 1. Conformance with the OpenAPI document, every listed property required.


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    if not OPENAPI.exists():
        pytest.skip(f"upstream OpenAPI reference not available at {OPENAPI}")
    document: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())
    return document


def _resolve(document: dict[str, Any], ref: str) -> dict[str, Any]:
    node: Any = document
    for part in ref.removeprefix("#/").split("/"):
        node = node[part]
    assert isinstance(node, dict)
    return node


def strict_schema(schema: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    """Inline $refs, require every listed property, make `nullable` a type union."""
    if "$ref" in schema:
        return strict_schema(_resolve(document, schema["$ref"]), document)
    skipped = {"nullable", "example", "properties", "items"}
    out = {key: value for key, value in schema.items() if key not in skipped}
    if schema.get("nullable"):
        out["type"] = [schema["type"], "null"]
    if "properties" in schema:
        properties = schema["properties"]
        out["properties"] = {
            name: strict_schema(sub, document) for name, sub in properties.items()
        }
        out["required"] = list(properties)
    if "items" in schema:
        out["items"] = strict_schema(schema["items"], document)
    return out


def _is_rfc3339(value: object) -> bool:
    return not isinstance(value, str) or RFC3339.fullmatch(value) is not None


# jsonschema checks "date-time" only with an optional package; check it ourselves.
FORMATS = jsonschema.FormatChecker()
FORMATS.checks("date-time")(_is_rfc3339)


def validator_for(
    document: dict[str, Any], key: str
) -> jsonschema.Draft202012Validator:
    operation = document["paths"][f"/v1/{key}"]["get"]
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    return jsonschema.Draft202012Validator(
        strict_schema(schema, document), format_checker=FORMATS
    )


def empty_arrays(value: Any, path: str = "$") -> list[str]:
    """Paths of empty arrays (`regions` is reserved and always empty upstream)."""
    if isinstance(value, list):
        found = [] if value or path.endswith(".regions") else [path]
        for i, item in enumerate(value):
            found += empty_arrays(item, f"{path}[{i}]")
        return found
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in empty_arrays(v, f"{path}.{k}")]
    return []


CONFORMANCE_CASES = [
    ("dashboard/kpi", {}),
    ("dashboard/kpi", {"window": "7d"}),
    ("dashboard/kpi", {"window": "1h", "pipeline": "live-video-to-video"}),
    (
        "dashboard/kpi",
        {"pipeline": "live-video-to-video", "model_id": "streamdiffusion"},
    ),
    ("dashboard/pipelines", {}),
    ("dashboard/pipelines", {"limit": "20", "window": "48h"}),
    ("dashboard/orchestrators", {}),
    ("dashboard/orchestrators", {"window": "1h"}),
    ("dashboard/orchestrators", {"window": "7d"}),
    ("dashboard/gpu-capacity", {"window": "6h"}),
    ("dashboard/pipeline-catalog", {}),
    ("dashboard/pricing", {}),
    ("dashboard/job-feed", {}),
    ("dashboard/job-feed", {"limit": "3"}),
    ("streaming/models", {}),
    ("streaming/orchestrators", {"limit": "1000"}),
    ("requests/models", {}),
    ("requests/orchestrators", {"limit": "1000"}),
]


def test_cases_cover_every_endpoint() -> None:
    assert {key for key, _ in CONFORMANCE_CASES} == set(ANALYTICS_ENDPOINTS)


@pytest.mark.parametrize(("key", "params"), CONFORMANCE_CASES)
async def test_body_conforms_to_openapi_with_all_properties_required(
    sim: Starlette, openapi: dict[str, Any], key: str, params: dict[str, str]
) -> None:
    response = await call(sim, f"/v1/{key}", params)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content.endswith(b"}\n") or response.content.endswith(b"]\n")
    body = response.json()
    validator_for(openapi, key).validate(body)
    assert body, "an empty body would prove nothing"
    assert empty_arrays(body) == []


@pytest.mark.parametrize(
    ("key", "remove"),
    [
        ("dashboard/kpi", ("streaming", "hourlyUsage")),
        ("dashboard/kpi", ("requests", "byoc", "avg_duration_ms")),
        ("dashboard/orchestrators", (0, "serviceUri")),
        ("dashboard/pipelines", ("streaming", 0, "modelMins", 0, "avgFps")),
        ("dashboard/job-feed", (0, "job_type")),
        ("dashboard/pricing", (0, "orchName")),
    ],
)
async def test_strict_validation_rejects_a_missing_property(
    sim: Starlette, openapi: dict[str, Any], key: str, remove: tuple[Any, ...]
) -> None:
    body = await get_json(sim, key)
    validator = validator_for(openapi, key)
    validator.validate(body)
    parent = body
    for step in remove[:-1]:
        parent = parent[step]
    del parent[remove[-1]]
    with pytest.raises(jsonschema.ValidationError):
        validator.validate(body)


async def test_strict_validation_rejects_wrong_types(
    sim: Starlette, openapi: dict[str, Any]
) -> None:
    body = await get_json(sim, "dashboard/gpu-capacity")
    body["totalGPUs"] = 1.5
    with pytest.raises(jsonschema.ValidationError):
        validator_for(openapi, "dashboard/gpu-capacity").validate(body)


# ---------------------------------------------------------------------------
# Semantics of the analytics payloads: the numbers follow the upstream's derivations.


async def test_kpi_numbers_follow_the_upstream_derivation(sim: Starlette) -> None:
    body = await get_json(sim, "dashboard/kpi")
    kpi = body["streaming"]
    hours = [bucket["hour"] for bucket in kpi["hourlySessions"]]
    assert hours == sorted(hours)
    assert all(hour.endswith(":00:00Z") for hour in hours)
    assert hours[-1] == "2026-05-01T10:00:00Z"  # the current, partial hour
    assert hours[0] == "2026-04-30T11:00:00Z"  # the hour holding now-24h is excluded
    sessions = [bucket["value"] for bucket in kpi["hourlySessions"]]
    assert kpi["dailySessionCount"]["value"] == sum(sessions)
    usage = sum(bucket["value"] for bucket in kpi["hourlyUsage"])
    assert kpi["dailyUsageMins"]["value"] == pytest.approx(usage)
    assert 80 <= kpi["successRate"]["value"] <= 100
    assert kpi["dailyNetworkFeesEth"] == {"value": 0, "delta": 0}
    assert kpi["timeframeHours"] == 24
    assert kpi["orchestratorsObserved"]["value"] > 20
    for family in ("ai_batch", "byoc"):
        stats = body["requests"][family]
        assert 0 <= stats["success_rate"] <= 1
        assert stats["selected_jobs"] + stats["no_orch_jobs"] == stats["total_jobs"]


async def test_orchestrator_table_rows(sim: Starlette) -> None:
    rows = await get_json(sim, "dashboard/orchestrators")
    order = [(-row["knownSessions"], row["address"]) for row in rows]
    assert order == sorted(order)
    idle = [row for row in rows if row["effectiveSuccessRate"] is None]
    assert 1 <= len(idle) < len(rows) // 2
    assert all(row["successRatio"] == 0 and row["slaScore"] is None for row in idle)
    for row in rows:
        assert row["address"] == row["address"].lower()
        assert re.fullmatch(r"0x[0-9a-f]{40}", row["address"])
        assert urlsplit(row["serviceUri"]).hostname.endswith(".example")
        assert row["pipelines"] == sorted(row["pipelines"])
        ids = [entry["pipelineId"] for entry in row["pipelineModels"]]
        assert ids == sorted(ids) == row["pipelines"]
        assert all(
            e["modelIds"] == sorted(e["modelIds"]) for e in row["pipelineModels"]
        )
        if row["effectiveSuccessRate"] is not None:
            assert 0 <= row["effectiveSuccessRate"] <= 1
            assert 0 <= row["noSwapRatio"] <= 1
            assert 0 <= row["slaScore"] <= 100
            assert row["successRatio"] == pytest.approx(
                row["effectiveSuccessRate"] * 100
            )


async def test_inventory_uses_its_own_spelling_and_knows_extra_nodes(
    sim: Starlette,
) -> None:
    table = await get_json(sim, "dashboard/orchestrators")
    streaming = await get_json(sim, "streaming/orchestrators")
    requests = await get_json(sim, "requests/orchestrators")
    inventory = streaming + requests
    assert any(row["address"] != row["address"].lower() for row in inventory)
    extra = {row["address"].lower() for row in inventory} - {
        r["address"] for r in table
    }
    assert 1 <= len(extra) <= 2
    for rows in (streaming, requests):
        order = [(-row["gpu_count"], row["address"]) for row in rows]
        assert order == sorted(order)
        assert all(RFC3339.fullmatch(row["last_seen"]) for row in rows)
    assert all("/" not in model for row in streaming for model in row["models"])
    capabilities = {cap for row in requests for cap in row["capabilities"]}
    assert all(row["capabilities"] == sorted(row["capabilities"]) for row in requests)
    assert "llm:meta-llama/Meta-Llama-3.1-8B-Instruct" in capabilities
    assert any(cap.startswith("openai-chat-completions:") for cap in capabilities)


async def test_capacity_catalog_pricing_and_models(sim: Starlette) -> None:
    gpu = await get_json(sim, "dashboard/gpu-capacity")
    assert gpu["availableCapacity"] == max(0, gpu["totalGPUs"] - gpu["activeGPUs"])
    assert sum(row["count"] for row in gpu["models"]) == gpu["totalGPUs"]
    ai_models = [m["model"] for p in gpu["pipelineGPUs"] for m in p["models"]]
    assert "streamdiffusion-sdxl" in ai_models
    assert not any(model.startswith("NVIDIA") for model in ai_models)

    catalog = await get_json(sim, "dashboard/pipeline-catalog")
    assert [entry["id"] for entry in catalog] == sorted(e["id"] for e in catalog)
    assert all(e["name"] == e["id"] and e["regions"] == [] for e in catalog)

    pricing = await get_json(sim, "dashboard/pricing")
    live = [row["priceWeiPerUnit"] for row in pricing if row["pipeline"] == LIVE]
    llm = [row["priceWeiPerUnit"] for row in pricing if row["pipeline"] == "llm"]
    assert 2000 <= min(live) <= max(live) <= 3500
    assert 15_000_000 <= min(llm) <= max(llm) <= 100_000_000
    assert all(row["orchName"].endswith(".example") for row in pricing)
    assert any(not row["isWarm"] for row in pricing)

    streaming = await get_json(sim, "streaming/models")
    for row in streaming:
        assert row["pipeline"] == LIVE
        assert row["available_capacity"] == row["gpu_slots"] - row["active_streams"]
    requests = await get_json(sim, "requests/models")
    assert {row["job_type"] for row in requests} == {"ai-batch", "byoc"}
    assert all(row["gpu_slots"] == 0 for row in requests if row["job_type"] == "byoc")


async def test_job_feed_items(sim: Starlette) -> None:
    feed = await get_json(sim, "dashboard/job-feed")
    assert 5 <= len(feed) <= 40
    last_seen = [item["lastSeen"] for item in feed]
    assert last_seen == sorted(last_seen, reverse=True)
    for item in feed:
        assert item["pipeline"] == LIVE
        assert item["job_type"] == "streaming"
        assert item["state"] in FEED_STATES
        started = datetime.fromisoformat(item["firstSeen"])
        elapsed = (NOW - started).total_seconds()  # firstSeen drops sub-seconds
        assert elapsed - 1 < item["durationSeconds"] <= elapsed
        assert item["durationSeconds"] < 25 * 60
        assert 25 <= item["inputFps"] <= 30 or item["state"] == "degraded_input"
        assert item["outputFps"] <= 21


# ---------------------------------------------------------------------------
# 2. Subgraph.


async def test_protocol_overview_query(sim: Starlette) -> None:
    body = await subgraph(sim, PROTOCOL_OVERVIEW)
    assert "errors" not in body
    protocol = body["data"]["protocol"]
    assert protocol["roundLength"] == "5760"
    assert DECIMAL.fullmatch(protocol["totalActiveStake"])
    assert 30e6 <= float(protocol["totalActiveStake"]) <= 32e6
    current = protocol["currentRound"]
    assert current["id"].isdigit()
    assert current["startBlock"].isdigit()
    assert current["initialized"] is True


async def test_fees_overview_query(sim: Starlette) -> None:
    body = await subgraph(sim, FEES_OVERVIEW, first=30)
    assert "errors" not in body
    days = body["data"]["days"]
    assert len(days) == 30
    dates = [day["date"] for day in days]
    assert dates == sorted(dates, reverse=True)
    assert dates[0] == int(datetime(2026, 5, 1, tzinfo=UTC).timestamp())  # today
    assert all(a - b == 86_400 for a, b in itertools.pairwise(dates))
    for day in days:
        assert DECIMAL.fullmatch(day["volumeETH"])
        assert DECIMAL.fullmatch(day["volumeUSD"])
        if day["date"] != dates[0]:  # full days
            eth = float(day["volumeETH"])
            assert 2 <= eth <= 15
            assert 2500 <= float(day["volumeUSD"]) / eth <= 4000
    totals = body["data"]["protocol"]
    assert float(totals["totalVolumeETH"]) > sum(float(d["volumeETH"]) for d in days)
    assert DECIMAL.fullmatch(totals["totalVolumeUSD"])


async def test_subgraph_paging_and_ascending_order(sim: Starlette) -> None:
    query = "query($s: Int) { days(first: 3, skip: $s) { id date } }"
    first = (await subgraph(sim, query, s=0))["data"]["days"]
    second = (await subgraph(sim, query, s=3))["data"]["days"]
    dates = [day["date"] for day in first + second]
    assert dates == sorted(dates)
    assert len(set(dates)) == 6


async def test_subgraph_reports_invalid_queries_as_graphql_errors(
    sim: Starlette,
) -> None:
    body = await subgraph(sim, '{ protocol(id: "0") { noSuchField } }')
    assert "data" not in body
    assert "noSuchField" in body["errors"][0]["message"]
    response = await post(sim, "/subgraph", content=b"{not json")
    assert response.status_code == 400
    assert response.json()["errors"]


# ---------------------------------------------------------------------------
# 3. L1 JSON-RPC.


async def test_block_number_matches_the_subgraph_round(sim: Starlette) -> None:
    request = {"jsonrpc": "2.0", "id": 7, "method": "eth_blockNumber", "params": []}
    response = await post(sim, "/rpc", request)
    body = response.json()
    assert body["jsonrpc"] == "2.0"
    assert body["id"] == 7
    assert re.fullmatch(r"0x[0-9a-f]+", body["result"])
    block = int(body["result"], 16)
    protocol = (await subgraph(sim, PROTOCOL_OVERVIEW))["data"]["protocol"]
    start = int(protocol["currentRound"]["startBlock"])
    assert 0 <= block - start < int(protocol["roundLength"])


async def test_block_number_ticks_every_twelve_seconds() -> None:
    clock = fixed()
    sim = create_simulator(clock=clock)
    request = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    before = int((await post(sim, "/rpc", request)).json()["result"], 16)
    clock.now += timedelta(minutes=2)
    after = int((await post(sim, "/rpc", request)).json()["result"], 16)
    assert after - before == 10


async def test_rpc_errors(sim: Starlette) -> None:
    request = {"jsonrpc": "2.0", "id": 3, "method": "eth_mine", "params": []}
    body = (await post(sim, "/rpc", request)).json()
    assert body == {
        "jsonrpc": "2.0",
        "id": 3,
        "error": {"code": -32601, "message": "Method not found"},
    }
    body = (await post(sim, "/rpc", content=b"{oops")).json()
    assert body["error"]["code"] == -32700
    assert body["id"] is None


# ---------------------------------------------------------------------------
# 4. Determinism.


async def all_bodies(sim: Starlette) -> dict[str, bytes]:
    bodies = {
        key: (await call(sim, f"/v1/{key}")).content for key in ANALYTICS_ENDPOINTS
    }
    fees = {"query": FEES_OVERVIEW, "variables": {"first": 400}}
    bodies["subgraph"] = (await post(sim, "/subgraph", fees)).content
    rpc = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}
    bodies["rpc"] = (await post(sim, "/rpc", rpc)).content
    return bodies


async def test_same_seed_and_clock_give_identical_bytes(sim: Starlette) -> None:
    twin = create_simulator(seed=1, clock=fixed())
    assert await all_bodies(sim) == await all_bodies(twin)


async def test_another_seed_gives_another_world(sim: Starlette) -> None:
    other = await all_bodies(create_simulator(seed=2, clock=fixed()))
    ours = await all_bodies(sim)
    assert other["rpc"] == ours["rpc"]  # the chain clock is not seeded
    assert other["subgraph"] != ours["subgraph"]
    changed = {key for key in ANALYTICS_ENDPOINTS if other[key] != ours[key]}
    # The catalog can coincide: every seed offers every model somewhere.
    assert changed >= set(ANALYTICS_ENDPOINTS) - {"dashboard/pipeline-catalog"}


async def test_an_hour_later_the_series_moves_by_one_bucket() -> None:
    clock = fixed()
    sim = create_simulator(clock=clock)
    before = (await get_json(sim, "dashboard/kpi"))["streaming"]["hourlySessions"]
    clock.now += timedelta(hours=1)
    after = (await get_json(sim, "dashboard/kpi"))["streaming"]["hourlySessions"]
    assert len(before) == len(after) == 24
    assert after[:-2] == before[1:-1]  # finished hours never change
    assert after[-2]["hour"] == before[-1]["hour"]
    assert after[-2]["value"] > before[-1]["value"]  # that hour was half done before


async def test_the_current_hour_grows_with_the_clock() -> None:
    clock = fixed()
    sim = create_simulator(clock=clock)
    values = []
    for _ in range(3):
        usage = (await get_json(sim, "dashboard/kpi"))["streaming"]["hourlyUsage"]
        values.append(usage[-1]["value"])
        clock.now += timedelta(minutes=10)
    assert values == sorted(values)
    assert values[0] < values[-1]


def stream_identity(item: dict[str, Any]) -> tuple[str, ...]:
    # The feed's `id` is the latest event id, so a stream is tracked by its facts.
    return (item["firstSeen"], item["orchestratorAddress"], item["gateway"])


async def test_job_feed_streams_start_degrade_and_finish() -> None:
    clock = fixed()
    sim = create_simulator(clock=clock)
    snapshots = []
    for _ in range(60):  # 30 minutes, every 30 s
        snapshots.append(await get_json(sim, "dashboard/job-feed", limit="200"))
        clock.now += timedelta(seconds=30)
    seen = [{stream_identity(item) for item in feed} for feed in snapshots]
    assert all(5 <= len(streams) <= 40 for streams in seen)
    assert seen[0] - seen[-1], "some streams finished"
    assert seen[-1] - seen[0], "some streams started"
    states = [{item["state"] for item in feed} for feed in snapshots]
    assert any(
        s & {"degraded_input", "degraded_inference", "degraded_output"} for s in states
    )
    ids = [{item["id"] for item in feed} for feed in snapshots[:2]]
    assert ids[0] != ids[1]


# ---------------------------------------------------------------------------
# 5. Scale.


async def test_world_scale(sim: Starlette) -> None:
    table = await get_json(sim, "dashboard/orchestrators")
    assert 35 <= len(table) <= 45
    catalog = await get_json(sim, "dashboard/pipeline-catalog")
    assert len(catalog) >= 5
    assert len({model for entry in catalog for model in entry["models"]}) >= 15
    kpi = await get_json(sim, "dashboard/kpi", window="7d")
    assert kpi["streaming"]["timeframeHours"] == 168
    assert len(kpi["streaming"]["hourlySessions"]) == 168
    assert len(kpi["streaming"]["hourlyUsage"]) == 168
    body = await subgraph(sim, FEES_OVERVIEW, first=1000)
    assert len(body["data"]["days"]) >= 365


async def test_requests_stay_cheap_once_warm(sim: Starlette) -> None:
    await get_json(sim, "dashboard/kpi", window="7d")
    started = time.perf_counter()
    for _ in range(5):
        await get_json(sim, "dashboard/kpi", window="7d")
        await get_json(sim, "dashboard/orchestrators", window="7d")
    assert (time.perf_counter() - started) / 10 < 0.1  # generous: CI machines vary


# ---------------------------------------------------------------------------
# 6. Faults.


async def test_status_fault_answers_problem_json() -> None:
    sim = create_simulator(clock=fixed(), faults={"dashboard/kpi": Fault(status=503)})
    response = await call(sim, "/v1/dashboard/kpi")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == {
        "type": "about:blank",
        "title": "Service Unavailable",
        "status": 503,
    }
    assert (await call(sim, "/v1/dashboard/pricing")).status_code == 200


async def test_body_fault_answers_exactly_those_bytes() -> None:
    fault = Fault(body=b"<html>upstream gateway</html>", content_type="text/html")
    sim = create_simulator(clock=fixed(), faults={"streaming/models": fault})
    response = await call(sim, "/v1/streaming/models")
    assert response.status_code == 200
    assert response.content == b"<html>upstream gateway</html>"
    assert response.headers["content-type"].startswith("text/html")


async def test_latency_fault_delays_the_answer() -> None:
    sim = create_simulator(clock=fixed(), faults={"rpc": Fault(latency=0.05)})
    started = time.monotonic()
    response = await post(sim, "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "x"})
    assert time.monotonic() - started >= 0.045
    assert response.json()["error"]["code"] == -32601


async def test_wildcard_fault_applies_everywhere_but_a_specific_key_wins() -> None:
    faults = {"*": Fault(status=500), "dashboard/pricing": Fault(body=b"null")}
    sim = create_simulator(clock=fixed(), faults=faults)
    assert (await call(sim, "/v1/dashboard/kpi")).status_code == 500
    assert (await call(sim, "/healthz")).status_code == 500
    pricing = await call(sim, "/v1/dashboard/pricing")
    assert (pricing.status_code, pricing.content) == (200, b"null")
    graph = await post(sim, "/subgraph", {"query": PROTOCOL_OVERVIEW})
    assert graph.status_code == 500
    assert graph.json()["errors"]
    rpc = await post(sim, "/rpc", {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"})
    assert rpc.status_code == 500
    assert rpc.json()["error"]["code"] == -32603


async def test_calls_are_counted_as_they_arrive_even_when_faulted() -> None:
    sim = create_simulator(clock=fixed(), faults={"dashboard/kpi": Fault(status=502)})
    await call(sim, "/v1/dashboard/kpi")
    await call(sim, "/v1/dashboard/kpi", {"window": "1h"})
    await post(sim, "/subgraph", {"query": PROTOCOL_OVERVIEW})
    await call(sim, "/v1/no/such/path")
    assert sim.state.calls == {"dashboard/kpi": 2, "subgraph": 1}


async def test_redirect_fault_and_runtime_changes() -> None:
    sim = create_simulator(clock=fixed())
    sim.state.faults["dashboard/job-feed"] = Fault(
        redirect_to="http://elsewhere.example/"
    )
    response = await call(sim, "/v1/dashboard/job-feed")
    assert response.status_code == 302
    assert response.headers["location"] == "http://elsewhere.example/"
    del sim.state.faults["dashboard/job-feed"]
    assert (await call(sim, "/v1/dashboard/job-feed")).status_code == 200


async def test_drip_fault_still_delivers_the_whole_body(sim: Starlette) -> None:
    dripping = create_simulator(
        clock=fixed(),
        faults={"dashboard/pipeline-catalog": Fault(drip_bytes_per_s=1e7)},
    )
    slow = await call(dripping, "/v1/dashboard/pipeline-catalog")
    assert slow.content == (await call(sim, "/v1/dashboard/pipeline-catalog")).content


# ---------------------------------------------------------------------------
# 7. Parameters, routing, CLI.


@pytest.mark.parametrize(
    ("window", "hours"),
    [
        ("2d", 48),
        ("500", 168),
        ("x", 24),
        ("0", 24),
        ("-3", 24),
        ("12h", 12),
        (" 6h ", 6),
        ("8d", 168),
        ("1.5h", 24),
        (None, 24),
    ],
)
async def test_window_parsing(sim: Starlette, window: str | None, hours: int) -> None:
    assert parse_window_hours(window) == hours
    params = {} if window is None else {"window": window}
    body = await get_json(sim, "dashboard/kpi", **params)
    assert body["streaming"]["timeframeHours"] == hours


@pytest.mark.parametrize(
    ("raw", "pipelines", "job_feed"),
    [
        (None, 5, 50),
        ("0", 5, 50),
        ("-2", 5, 50),
        ("x", 5, 50),
        ("7", 7, 7),
        ("500", 20, 200),
    ],
)
def test_limit_parsing(raw: str | None, pipelines: int, job_feed: int) -> None:
    assert parse_limit(raw, default=5, cap=20) == pipelines
    assert parse_limit(raw, default=50, cap=200) == job_feed


async def test_limits_over_http(sim: Starlette) -> None:
    assert len((await get_json(sim, "dashboard/pipelines"))["streaming"]) == 5
    assert (
        len((await get_json(sim, "dashboard/pipelines", limit="2"))["streaming"]) == 2
    )
    everything = (await get_json(sim, "dashboard/pipelines", limit="500"))["streaming"]
    assert 5 < len(everything) <= 20
    assert everything[0]["name"] == LIVE  # live video dominates the demand
    sessions = [row["sessions"] for row in everything]
    assert sessions == sorted(sessions, reverse=True)
    assert len(await get_json(sim, "dashboard/job-feed", limit="3")) == 3
    whole_feed = await get_json(sim, "dashboard/job-feed", limit="500")
    assert await get_json(sim, "dashboard/job-feed") == whole_feed[:50]


async def test_kpi_filters_apply_to_streaming_only(sim: Starlette) -> None:
    everything = await get_json(sim, "dashboard/kpi")
    live = await get_json(sim, "dashboard/kpi", pipeline=LIVE)
    one_model = await get_json(
        sim, "dashboard/kpi", pipeline=LIVE, model_id="streamdiffusion-sdxl"
    )
    counts = [
        body["streaming"]["dailySessionCount"]["value"]
        for body in (everything, live, one_model)
    ]
    assert counts[0] > counts[1] > counts[2] > 0
    assert everything["requests"] == live["requests"] == one_model["requests"]


async def test_healthz_and_unknown_paths(sim: Starlette) -> None:
    health = await call(sim, "/healthz")
    assert (health.status_code, health.content) == (200, b'{"status":"ok"}\n')
    for path in ("/v1/streaming/sla", "/v1/dashboard/nope", "/nope"):
        response = await call(sim, path)
        assert (response.status_code, response.text) == (404, "404 page not found\n")


def test_cli_prints_the_environment_and_serves(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import uvicorn

    served: dict[str, Any] = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: served.update(kw, app=app))
    main(["--port", "8123", "--seed", "4"])
    assert capsys.readouterr().out.splitlines() == [
        "NAAP_API_SERVER_URL=http://127.0.0.1:8123/v1",
        "SUBGRAPH_URL=http://127.0.0.1:8123/subgraph",
        "L1_RPC_URL=http://127.0.0.1:8123/rpc",
    ]
    assert (served["host"], served["port"]) == ("127.0.0.1", 8123)
    assert served["app"].state.world.seed == 4
    assert env_lines("::1", 80).startswith("NAAP_API_SERVER_URL=http://[::1]:80/v1")


def test_who_was_online_is_memoised_apart_and_equals_the_full_hour() -> None:
    from simulator.units import HOUR_US, epoch_us
    from simulator.world import SimWorld

    traffic = SimWorld(seed=1).traffic
    last = epoch_us(NOW) // HOUR_US
    for hour in range(last - 72, last + 1):
        assert traffic.online_at(hour) == traffic.hour(hour).online
