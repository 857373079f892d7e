"""The three upstream clients at the httpx edge, with `httpx.MockTransport`.

Each test builds a real `JsonTransport` around a
handler that records the requests it saw, then checks the URL/body sent, the
typed result, the failure type, or the cache seam's sharing and expiry.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Coroutine
from typing import Any

import httpx
import pytest

from app.errors import UpstreamBadPayload, UpstreamStatusError, UpstreamTimeout
from app.upstream._http import JsonTransport
from app.upstream.analytics import (
    AnalyticsClient,
    HourlyBucket,
    JobsStats,
    MetricDelta,
    ModelCount,
    PipelineGPUs,
)
from app.upstream.l1rpc import L1RpcClient
from app.upstream.subgraph import (
    FEES_OVERVIEW,
    PROTOCOL_OVERVIEW,
    FeeDay,
    SubgraphClient,
)
from tests.support.metrics import dropped_rows, errors, sample

BASE = "http://up/v1"
Handler = (
    Callable[[httpx.Request], httpx.Response]
    | Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
)


class Recorder:
    """A MockTransport handler that records every request and answers `reply`."""

    def __init__(
        self,
        reply: Any = None,
        *,
        status: int = 200,
        content: bytes | None = None,
        delay: float = 0.0,
        gate: asyncio.Event | None = None,
    ) -> None:
        self.reply = reply
        self.status = status
        self.content = content
        self.delay = delay
        self.gate = gate
        self.started = asyncio.Event()
        self.requests: list[httpx.Request] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    async def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        self.started.set()
        if self.gate is not None:
            await self.gate.wait()
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.content is not None:
            return httpx.Response(self.status, content=self.content)
        # Encoded here: httpx's `json=None` would send an empty body, not `null`.
        return httpx.Response(
            self.status,
            content=json.dumps(self.reply).encode(),
            headers={"content-type": "application/json"},
        )


Factory = Callable[..., JsonTransport]


@pytest.fixture
async def make_http() -> AsyncIterator[Factory]:
    built: list[JsonTransport] = []

    def build(
        handler: Handler,
        *,
        timeout: float = 1.0,
        base_url: str = BASE,
        name: str = "analytics",
    ) -> JsonTransport:
        http = JsonTransport(
            name=name,
            base_url=base_url,
            timeout=timeout,
            connect_timeout=1,
            transport=httpx.MockTransport(handler),
        )
        built.append(http)
        return http

    yield build
    for http in built:
        await http.aclose()


def analytics(http: JsonTransport) -> AnalyticsClient:
    return AnalyticsClient(http)


# --- fixtures of upstream bodies ------------------------------------------------------
def delta(value: float, change: float = 0.0) -> dict[str, float]:
    return {"value": value, "delta": change}


STREAMING_KPI: dict[str, Any] = {
    "successRate": delta(97.5, -1.2),
    "orchestratorsObserved": delta(41, 3),
    "dailyUsageMins": delta(1234.5, 10),
    "dailySessionCount": delta(321, -4),
    "dailyNetworkFeesEth": delta(0),
    "timeframeHours": 24,
    "hourlyUsage": [{"hour": "2026-05-01T10:00:00Z", "value": 12.5}],
    "hourlySessions": [{"hour": "2026-05-01T10:00:00Z", "value": 7}],
}
STATS: dict[str, Any] = {
    "total_jobs": 10,
    "selected_jobs": 9,
    "no_orch_jobs": 1,
    "success_rate": 0.9,
    "avg_duration_ms": 1500.5,
}


def orchestrator_row(address: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "address": address,
        "serviceUri": "https://orch.example:8935",
        "knownSessions": 10,
        "successSessions": 8,
        "successRatio": 80.0,
        "effectiveSuccessRate": 0.8,
        "noSwapRatio": 0.9,
        "slaScore": 84.5,
        "pipelines": ["live-video-to-video"],
        "pipelineModels": [
            {"pipelineId": "live-video-to-video", "modelIds": ["streamdiffusion"]}
        ],
        "gpuCount": 2,
    }
    row.update(overrides)
    return row


# --- URL building ---------------------------------------------------------------------
async def test_dashboard_kpi_requests_kpi_path_with_window_pipeline_and_model(
    make_http: Factory,
) -> None:
    handler = Recorder({"streaming": STREAMING_KPI, "requests": None})
    client = analytics(make_http(handler))

    await client.dashboard_kpi(window="2d", pipeline="llm", model_id="m")

    assert handler.calls == 1
    request = handler.requests[0]
    assert request.method == "GET"
    assert str(request.url.copy_with(query=None)) == "http://up/v1/dashboard/kpi"
    assert sorted(request.url.params.multi_items()) == [
        ("model_id", "m"),
        ("pipeline", "llm"),
        ("window", "2d"),
    ]


async def test_dashboard_kpi_omits_pipeline_and_model_when_none(
    make_http: Factory,
) -> None:
    handler = Recorder(STREAMING_KPI)
    client = analytics(make_http(handler))

    await client.dashboard_kpi(window="24h")

    assert str(handler.requests[0].url) == "http://up/v1/dashboard/kpi?window=24h"


@pytest.mark.parametrize(
    ("call", "url"),
    [
        ("dashboard_orchestrators", "http://up/v1/dashboard/orchestrators?window=24h"),
        ("dashboard_gpu_capacity", "http://up/v1/dashboard/gpu-capacity"),
        ("dashboard_pricing", "http://up/v1/dashboard/pricing"),
        ("dashboard_pipeline_catalog", "http://up/v1/dashboard/pipeline-catalog"),
        ("dashboard_job_feed", "http://up/v1/dashboard/job-feed?limit=50"),
        ("streaming_models", "http://up/v1/streaming/models"),
        ("requests_models", "http://up/v1/requests/models"),
        ("streaming_orchestrators", "http://up/v1/streaming/orchestrators"),
        ("requests_orchestrators", "http://up/v1/requests/orchestrators"),
    ],
)
async def test_analytics_method_requests_its_upstream_path(
    make_http: Factory, call: str, url: str
) -> None:
    handler = Recorder(
        {"totalGPUs": 0, "activeGPUs": 0, "availableCapacity": 0}
        if call == "dashboard_gpu_capacity"
        else []
    )
    client = analytics(make_http(handler))
    kwargs = {"window": "24h"} if call == "dashboard_orchestrators" else {}

    await getattr(client, call)(**kwargs)

    assert handler.calls == 1
    assert handler.requests[0].method == "GET"
    assert str(handler.requests[0].url) == url


@pytest.mark.parametrize(
    "base_url", ["http://up/subgraphs/id/abc", "http://up/subgraphs/id/abc/"]
)
async def test_subgraph_posts_query_and_variables_to_exact_base_url(
    make_http: Factory, base_url: str
) -> None:
    handler = Recorder({"data": {"days": [], "protocol": None}})
    client = SubgraphClient(make_http(handler, base_url=base_url))

    await client.fees_overview(first=30)

    request = handler.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://up/subgraphs/id/abc"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "query": FEES_OVERVIEW,
        "variables": {"first": 30},
    }


async def test_rpc_posts_eth_block_number_to_base_url(make_http: Factory) -> None:
    handler = Recorder({"jsonrpc": "2.0", "id": 1, "result": "0x10"})
    client = L1RpcClient(make_http(handler, base_url="http://rpc.example/key"))

    await client.block_number()

    request = handler.requests[0]
    assert request.method == "POST"
    assert str(request.url) == "http://rpc.example/key"
    body = json.loads(request.content)
    assert body["method"] == "eth_blockNumber"
    assert body["jsonrpc"] == "2.0"
    assert body["params"] == []


# --- parsing into typed objects ------------------------------------------------------
async def test_dashboard_kpi_parses_current_streaming_and_requests_shape(
    make_http: Factory,
) -> None:
    body = {"streaming": STREAMING_KPI, "requests": {"ai_batch": STATS, "byoc": STATS}}
    client = analytics(make_http(Recorder(body)))

    kpi = await client.dashboard_kpi(window="24h")

    assert kpi.streaming.success_rate == MetricDelta(97.5, -1.2)
    assert kpi.streaming.orchestrators_observed == MetricDelta(41.0, 3.0)
    assert kpi.streaming.timeframe_hours == 24
    assert kpi.streaming.hourly_usage == [HourlyBucket("2026-05-01T10:00:00Z", 12.5)]
    assert kpi.requests is not None
    assert kpi.requests.ai_batch == JobsStats(10, 9, 1, 0.9, 1500.5)
    assert kpi.requests.byoc.total_jobs == 10


async def test_dashboard_kpi_parses_legacy_flat_shape(make_http: Factory) -> None:
    client = analytics(make_http(Recorder(STREAMING_KPI)))

    kpi = await client.dashboard_kpi(window="24h")

    assert kpi.streaming.daily_session_count == MetricDelta(321.0, -4.0)
    assert kpi.streaming.hourly_sessions == [HourlyBucket("2026-05-01T10:00:00Z", 7.0)]
    assert kpi.requests is None


async def test_dashboard_kpi_hourly_series_are_none_when_omitted(
    make_http: Factory,
) -> None:
    streaming = {
        k: v
        for k, v in STREAMING_KPI.items()
        if k not in {"hourlyUsage", "hourlySessions"}
    }
    client = analytics(make_http(Recorder({"streaming": streaming})))

    kpi = await client.dashboard_kpi(window="24h")

    assert kpi.streaming.hourly_usage is None
    assert kpi.streaming.hourly_sessions is None


async def test_dashboard_kpi_is_bad_payload_when_a_metric_is_missing(
    make_http: Factory,
) -> None:
    streaming = {k: v for k, v in STREAMING_KPI.items() if k != "successRate"}
    client = analytics(make_http(Recorder({"streaming": streaming})))

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_kpi(window="24h")


async def test_dashboard_pipelines_null_request_lists_are_empty(
    make_http: Factory,
) -> None:
    body = {
        "streaming": [
            {
                "name": "live-video-to-video",
                "mins": 12.5,
                "sessions": 3,
                "avgFps": 15.2,
                "modelMins": [
                    {"model": "sd", "mins": 12.5, "sessions": 3, "avgFps": 15.2}
                ],
            }
        ],
        "requests": {"by_pipeline": None, "by_capability": None},
    }
    client = analytics(make_http(Recorder(body)))

    result = await client.dashboard_pipelines(limit=5, window="24h")

    assert result.by_pipeline == []
    assert result.by_capability == []
    assert [p.name for p in result.streaming] == ["live-video-to-video"]
    assert result.streaming[0].model_mins is not None
    assert result.streaming[0].model_mins[0].model == "sd"


async def test_dashboard_pipelines_request_rows_are_keyed(make_http: Factory) -> None:
    body = {
        "streaming": [],
        "requests": {
            "by_pipeline": [{"pipeline": "llm", **STATS}],
            "by_capability": [{"capability": "openai-chat", **STATS}],
        },
    }
    client = analytics(make_http(Recorder(body)))

    result = await client.dashboard_pipelines(limit=5, window="24h")

    assert result.by_pipeline is not None
    assert result.by_capability is not None
    assert [r.key for r in result.by_pipeline] == ["llm"]
    assert [r.key for r in result.by_capability] == ["openai-chat"]
    assert result.by_pipeline[0].stats.selected_jobs == 9


async def test_dashboard_pipelines_without_requests_block_is_none(
    make_http: Factory,
) -> None:
    client = analytics(make_http(Recorder({"streaming": []})))

    result = await client.dashboard_pipelines(limit=5, window="24h")

    assert result.by_pipeline is None
    assert result.by_capability is None


async def test_dashboard_pricing_null_is_an_empty_list(make_http: Factory) -> None:
    client = analytics(make_http(Recorder(None)))

    assert await client.dashboard_pricing() == []


async def test_dashboard_pricing_parses_rows_with_and_without_model(
    make_http: Factory,
) -> None:
    body = [
        {
            "orchAddress": "0xa",
            "pipeline": "llm",
            "model": "glm",
            "priceWeiPerUnit": 23916807,
            "pixelsPerUnit": 1,
            "isWarm": True,
        },
        {"orchAddress": "0xb", "pipeline": "byoc", "priceWeiPerUnit": 5},
    ]
    client = analytics(make_http(Recorder(body)))

    rows = await client.dashboard_pricing()

    assert [(r.pipeline, r.model, r.is_warm) for r in rows] == [
        ("llm", "glm", True),
        ("byoc", None, False),
    ]
    assert rows[0].price_wei_per_unit == 23916807.0
    assert rows[1].pixels_per_unit is None


async def test_dashboard_gpu_capacity_parses_into_typed_object(
    make_http: Factory,
) -> None:
    body = {
        "totalGPUs": 67,
        "activeGPUs": 12,
        "availableCapacity": 55,
        "models": [{"model": "NVIDIA GeForce RTX 4090", "count": 36}],
        "pipelineGPUs": [
            {
                "name": "live-video-to-video",
                "gpus": 60,
                "models": [{"model": "streamdiffusion-sdxl", "gpus": 34}],
            },
            {"name": "llm", "gpus": 7},
        ],
    }
    client = analytics(make_http(Recorder(body)))

    capacity = await client.dashboard_gpu_capacity()

    assert capacity.total_gpus == 67
    assert capacity.active_gpus == 12
    assert capacity.available_capacity == 55.0
    assert capacity.models == [ModelCount("NVIDIA GeForce RTX 4090", 36)]
    assert capacity.pipeline_gpus == [
        PipelineGPUs(
            "live-video-to-video", 60, [ModelCount("streamdiffusion-sdxl", 34)]
        ),
        PipelineGPUs("llm", 7, None),
    ]


async def test_dashboard_gpu_capacity_is_bad_payload_when_totals_missing(
    make_http: Factory,
) -> None:
    client = analytics(make_http(Recorder({"models": []})))

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_gpu_capacity()


async def test_job_feed_reads_snake_case_aliases_and_lowercases_state(
    make_http: Factory,
) -> None:
    body = [
        {
            "stream_id": "s1",
            "pipeline_id": "live-video-to-video",
            "first_seen": "2026-05-01T10:00:00Z",
            "state": "  ONLINE ",
            "model_id": "streamdiffusion",
            "gateway_url": "gw.example",
            "orchestrator_url": "https://orch.example",
            "input_fps": "30",
            "output_fps": 15.8,
            "last_seen": "2026-05-01T10:02:21Z",
            "duration_seconds": 142.37,
            "running_for": "2m 22s",
        }
    ]
    client = analytics(make_http(Recorder(body)))

    [item] = await client.dashboard_job_feed()

    assert item.id == "s1"
    assert item.pipeline == "live-video-to-video"
    assert item.started_at == "2026-05-01T10:00:00Z"
    assert item.state == "online"
    assert item.model == "streamdiffusion"
    assert item.gateway == "gw.example"
    assert item.orchestrator_url == "https://orch.example"
    assert item.input_fps == 30.0
    assert item.output_fps == 15.8
    assert item.last_seen == "2026-05-01T10:02:21Z"
    assert item.duration_seconds == 142.37
    assert item.running_for == "2m 22s"


async def test_job_feed_null_alias_falls_through_to_next_key(
    make_http: Factory,
) -> None:
    body = [
        {
            "id": None,
            "streamId": "s2",
            "pipeline": None,
            "Pipeline": "llm",
            "firstSeen": None,
            "created_at": "2026-05-01T10:00:00Z",
            "state": None,
            "status": "Running",
            "model": None,
            "Model": "glm",
        }
    ]
    client = analytics(make_http(Recorder(body)))

    [item] = await client.dashboard_job_feed()

    assert (item.id, item.pipeline, item.started_at) == (
        "s2",
        "llm",
        "2026-05-01T10:00:00Z",
    )
    assert item.state == "running"
    assert item.model == "glm"


async def test_job_feed_empty_string_alias_does_not_fall_through(
    make_http: Factory,
) -> None:
    start = "2026-05-01T10:00:00Z"
    body = [
        # An empty id is present, so stream_id is never consulted: the row drops.
        {"id": "", "stream_id": "s1", "pipeline": "llm", "firstSeen": start},
        # Present-but-empty model/state stop the chain: model None, state unknown.
        {
            "id": "s2",
            "pipeline": "llm",
            "firstSeen": start,
            "model": "",
            "model_id": "glm",
            "state": "",
            "status": "online",
        },
    ]
    client = analytics(make_http(Recorder(body)))

    items = await client.dashboard_job_feed()

    assert [i.id for i in items] == ["s2"]
    assert items[0].model is None
    assert items[0].state == "unknown"


@pytest.mark.parametrize("duration", [-1, "abc", "", True, None])
async def test_job_feed_duration_that_is_not_a_non_negative_number_is_none(
    make_http: Factory, duration: Any
) -> None:
    body = [
        {
            "id": "a",
            "pipeline": "llm",
            "startedAt": "2026-05-01T10:00:00Z",
            "durationSeconds": duration,
        }
    ]
    client = analytics(make_http(Recorder(body)))

    [item] = await client.dashboard_job_feed()

    assert item.duration_seconds is None


async def test_job_feed_drops_row_without_start_time_and_counts_it(
    make_http: Factory,
) -> None:
    body = [
        {"id": "a", "pipeline": "llm"},
        {"id": "b", "pipeline": "llm", "startedAt": "2026-05-01T10:00:00Z"},
    ]
    client = analytics(make_http(Recorder(body)))
    before = dropped_rows("dashboard/job-feed")

    items = await client.dashboard_job_feed()

    assert [i.id for i in items] == ["b"]
    assert dropped_rows("dashboard/job-feed") == before + 1


async def test_model_inventory_accepts_pascal_case_aliases(make_http: Factory) -> None:
    body = [
        {
            "Pipeline": "live-video-to-video",
            "Model": "sd",
            "WarmOrchCount": 3,
            "GpuSlots": 4,
            "AvgFPS": 15.5,
        },
        {"pipeline": "llm", "model": "glm"},
    ]
    client = analytics(make_http(Recorder(body)))

    rows = await client.streaming_models()

    assert [(r.pipeline, r.model, r.warm_orch_count, r.gpu_slots) for r in rows] == [
        ("live-video-to-video", "sd", 3, 4),
        ("llm", "glm", 0, 0),
    ]
    assert rows[0].avg_fps == 15.5
    assert rows[1].avg_fps is None


async def test_orchestrator_inventory_parses_nanosecond_last_seen(
    make_http: Factory,
) -> None:
    body = [
        {
            "address": "0xAbC",
            "uri": "https://a.example",
            "capabilities": ["llm:glm"],
            "gpu_count": 2,
            "last_seen": "2026-05-01T10:12:33.123456789Z",
        }
    ]
    client = analytics(make_http(Recorder(body)))

    [row] = await client.requests_orchestrators()

    assert row.offers == ["llm:glm"]
    assert row.last_seen is not None
    assert row.last_seen.isoformat() == "2026-05-01T10:12:33.123456+00:00"


@pytest.mark.parametrize(
    "last_seen",
    ["2026-05-01T10:12:33Z", "2026-05-01T12:12:33+02:00", "2026-05-01T10:12:33"],
)
async def test_orchestrator_inventory_last_seen_is_timezone_aware(
    make_http: Factory, last_seen: str
) -> None:
    # The merge compares last-seen times across both inventories; a naive datetime
    # next to an aware one raises TypeError there, and is rendered in server-local
    # time. Every parsed time must therefore be aware (UTC when no zone is given).
    body = [{"address": "0xA", "uri": "https://a", "last_seen": last_seen}]
    client = analytics(make_http(Recorder(body)))

    [row] = await client.streaming_orchestrators()

    assert row.last_seen is not None
    assert row.last_seen.tzinfo is not None
    assert row.last_seen.timestamp() == 1777630353


async def test_subgraph_protocol_numbers_as_strings_become_numbers(
    make_http: Factory,
) -> None:
    body = {
        "data": {
            "protocol": {
                "roundLength": "5760",
                "totalActiveStake": "31234567.89",
                "currentRound": {
                    "id": "4521",
                    "startBlock": "21000000",
                    "initialized": True,
                },
            }
        }
    }
    handler = Recorder(body)
    client = SubgraphClient(make_http(handler, name="subgraph"))

    overview = await client.protocol_overview()

    assert json.loads(handler.requests[0].content)["query"] == PROTOCOL_OVERVIEW
    assert overview.current_round == 4521
    assert overview.start_block == 21000000
    assert overview.round_length == 5760
    assert overview.total_active_stake == pytest.approx(31234567.89)
    assert overview.initialized is True


async def test_subgraph_fees_numbers_as_strings_become_floats(
    make_http: Factory,
) -> None:
    body = {
        "data": {
            "days": [
                {"date": 1777852800, "volumeETH": "1.5", "volumeUSD": "4500.25"},
                {"date": "1777766400", "volumeETH": "not-a-number", "volumeUSD": None},
                {"date": None, "volumeETH": "9", "volumeUSD": "9"},
            ],
            "protocol": {"totalVolumeETH": "4213.87", "totalVolumeUSD": None},
        }
    }
    client = SubgraphClient(make_http(Recorder(body), name="subgraph"))

    fees = await client.fees_overview(first=7)

    assert fees.days == [
        FeeDay(1777852800.0, 1.5, 4500.25),
        FeeDay(1777766400.0, 0.0, 0.0),
    ]
    assert fees.total_volume_eth == 4213.87
    assert fees.total_volume_usd is None


@pytest.mark.parametrize("date", ["not-a-date", "12abc", [], {}])
async def test_subgraph_fees_day_with_non_numeric_date_is_dropped(
    make_http: Factory, date: Any
) -> None:
    # A day's date is read as a number; days whose date is not finite are dropped
    # (they must not become 1970-01-01 days and weeks).
    body = {
        "data": {
            "days": [
                {"date": date, "volumeETH": "9", "volumeUSD": "9"},
                {"date": 1777852800, "volumeETH": "1", "volumeUSD": "3000"},
            ],
            "protocol": None,
        }
    }
    client = SubgraphClient(make_http(Recorder(body), name="subgraph"))

    fees = await client.fees_overview(first=7)

    assert fees.days == [FeeDay(1777852800.0, 1.0, 3000.0)]


@pytest.mark.parametrize(
    "body",
    [
        {"errors": [{"message": "indexer unavailable"}], "data": None},
        {"errors": [{"message": "partial"}], "data": {"days": [], "protocol": None}},
        {"data": None},
        {"data": {"days": {}, "protocol": None}},
    ],
)
async def test_subgraph_errors_or_bad_data_are_bad_payload(
    make_http: Factory, body: dict[str, Any]
) -> None:
    client = SubgraphClient(make_http(Recorder(body), name="subgraph"))

    with pytest.raises(UpstreamBadPayload):
        await client.fees_overview(first=7)


async def test_subgraph_protocol_without_current_round_is_bad_payload(
    make_http: Factory,
) -> None:
    body = {"data": {"protocol": {"roundLength": "5760", "currentRound": None}}}
    client = SubgraphClient(make_http(Recorder(body), name="subgraph"))

    with pytest.raises(UpstreamBadPayload):
        await client.protocol_overview()


@pytest.mark.parametrize(("result", "block"), [("0x10", 16), ("0x1406f40", 21000000)])
async def test_rpc_hex_result_is_an_int(
    make_http: Factory, result: str, block: int
) -> None:
    body = {"jsonrpc": "2.0", "id": 1, "result": result}
    client = L1RpcClient(make_http(Recorder(body), name="l1-rpc"))

    assert await client.block_number() == block


@pytest.mark.parametrize(
    "body",
    [
        {"jsonrpc": "2.0", "id": 1, "error": {"code": -32000, "message": "down"}},
        {"jsonrpc": "2.0", "id": 1, "result": "0xnothex"},
        {"jsonrpc": "2.0", "id": 1, "result": 16},
        [],
    ],
)
async def test_rpc_error_or_bad_result_is_bad_payload(
    make_http: Factory, body: Any
) -> None:
    client = L1RpcClient(make_http(Recorder(body), name="l1-rpc"))

    with pytest.raises(UpstreamBadPayload):
        await client.block_number()


# --- errors -------------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 503, 404, 400])
async def test_non_2xx_status_is_status_error(make_http: Factory, status: int) -> None:
    client = analytics(make_http(Recorder({"error": "x"}, status=status)))

    with pytest.raises(UpstreamStatusError):
        await client.dashboard_pricing()


async def test_redirect_is_status_error_and_not_followed(make_http: Factory) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(302, headers={"location": "http://elsewhere/v1/x"})

    client = analytics(make_http(handler))

    with pytest.raises(UpstreamStatusError):
        await client.dashboard_pricing()
    assert [str(r.url) for r in seen] == ["http://up/v1/dashboard/pricing"]


@pytest.mark.parametrize("content", [b"<html>oops</html>", b"", b"{"])
async def test_non_json_body_is_bad_payload(make_http: Factory, content: bytes) -> None:
    client = analytics(make_http(Recorder(content=content)))

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_pricing()


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("dashboard_orchestrators", {"rows": []}),
        ("dashboard_job_feed", {"streams": []}),
        ("streaming_models", "models"),
        ("dashboard_pricing", {"pipeline": "llm"}),
        ("dashboard_pipeline_catalog", None),
        ("dashboard_kpi", []),
        ("dashboard_gpu_capacity", []),
        ("dashboard_pipelines", {"streaming": {}}),
    ],
)
async def test_wrong_body_shape_is_bad_payload(
    make_http: Factory, call: str, body: Any
) -> None:
    client = analytics(make_http(Recorder(body)))
    arguments: dict[str, dict[str, Any]] = {
        "dashboard_orchestrators": {"window": "24h"},
        "dashboard_kpi": {"window": "24h"},
        "dashboard_pipelines": {"limit": 5, "window": "24h"},
    }
    kwargs = arguments.get(call, {})

    with pytest.raises(UpstreamBadPayload):
        await getattr(client, call)(**kwargs)


async def test_transport_exception_is_upstream_timeout(make_http: Factory) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = analytics(make_http(handler))

    with pytest.raises(UpstreamTimeout):
        await client.dashboard_pricing()


async def test_slow_upstream_is_upstream_timeout_at_the_deadline(
    make_http: Factory,
) -> None:
    client = analytics(make_http(Recorder([], delay=5), timeout=0.1))

    started = time.monotonic()
    with pytest.raises(UpstreamTimeout):
        await client.dashboard_pricing()

    assert time.monotonic() - started < 1.0


async def test_oversized_body_is_bad_payload(make_http: Factory) -> None:
    http = JsonTransport(
        name="analytics",
        base_url=BASE,
        timeout=1,
        connect_timeout=1,
        transport=httpx.MockTransport(Recorder(content=b"[" + b"1," * 100 + b"1]")),
        max_body_bytes=64,
    )
    try:
        with pytest.raises(UpstreamBadPayload):
            await analytics(http).dashboard_pricing()
    finally:
        await http.aclose()


async def test_malformed_row_is_dropped_and_counted(make_http: Factory) -> None:
    body = [
        orchestrator_row("0xgood"),
        orchestrator_row("0xbad", knownSessions="many"),
        "not-an-object",
        orchestrator_row("0xalso-good", serviceUri=None, service_uri="https://b"),
    ]
    client = analytics(make_http(Recorder(body)))
    before = dropped_rows("dashboard/orchestrators")

    rows = await client.dashboard_orchestrators(window="24h")

    assert [r.address for r in rows] == ["0xgood", "0xalso-good"]
    assert rows[1].service_uri == "https://b"
    assert dropped_rows("dashboard/orchestrators") == before + 2


# --- calls in flight are shared; nothing is kept --------------------------------------
async def test_concurrent_identical_calls_share_one_upstream_request(
    make_http: Factory,
) -> None:
    handler = Recorder([{"id": "llm", "name": "LLM", "models": ["glm"]}], delay=0.2)
    client = analytics(make_http(handler))

    results = await asyncio.gather(
        *(client.dashboard_pipeline_catalog() for _ in range(100))
    )

    assert handler.calls == 1
    assert len(results) == 100
    assert all(r == results[0] for r in results)
    assert results[0][0].name == "LLM"


async def test_calls_in_flight_share_a_request_only_when_their_parameters_match(
    make_http: Factory,
) -> None:
    handler = Recorder(STREAMING_KPI, delay=0.05)
    client = analytics(make_http(handler))

    await asyncio.gather(
        client.dashboard_kpi(window="24h"),
        client.dashboard_kpi(window="12h"),
        client.dashboard_kpi(window="24h", pipeline="llm"),
        client.dashboard_kpi(window="24h"),
    )

    assert handler.calls == 3


async def test_a_finished_call_is_not_kept(make_http: Factory) -> None:
    handler = Recorder(None)
    client = analytics(make_http(handler))

    await client.dashboard_pricing()
    await client.dashboard_pricing()

    assert handler.calls == 2


async def test_two_clients_never_share_a_call(make_http: Factory) -> None:
    one = Recorder({"jsonrpc": "2.0", "id": 1, "result": "0x1"}, delay=0.05)
    two = Recorder({"jsonrpc": "2.0", "id": 1, "result": "0x2"}, delay=0.05)
    first = L1RpcClient(make_http(one, name="one"))
    second = L1RpcClient(make_http(two, name="two"))

    both = await asyncio.gather(first.block_number(), second.block_number())
    assert list(both) == [1, 2]


async def test_failure_is_not_cached_and_every_waiter_gets_it(
    make_http: Factory,
) -> None:
    gate = asyncio.Event()
    handler = Recorder({"error": "boom"}, status=500, gate=gate)
    client = analytics(make_http(handler))

    waiters = [
        asyncio.create_task(client.dashboard_pipeline_catalog()) for _ in range(5)
    ]
    await handler.started.wait()
    gate.set()
    outcomes = await asyncio.gather(*waiters, return_exceptions=True)

    assert handler.calls == 1
    assert all(isinstance(o, UpstreamStatusError) for o in outcomes)

    handler.status = 200
    handler.reply = [{"id": "llm"}]
    catalog = await client.dashboard_pipeline_catalog()

    assert handler.calls == 2
    assert [e.id for e in catalog] == ["llm"]


async def test_bad_payload_is_not_cached(make_http: Factory) -> None:
    handler = Recorder(content=b"not json")
    client = analytics(make_http(handler))

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_pricing()
    handler.content = None
    handler.reply = []

    assert await client.dashboard_pricing() == []
    assert handler.calls == 2


async def test_wrong_shape_200_is_not_cached(make_http: Factory) -> None:
    handler = Recorder({"rows": []})
    client = analytics(make_http(handler))

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_orchestrators(window="24h")
    handler.reply = [orchestrator_row("0xA")]
    rows = await client.dashboard_orchestrators(window="24h")

    assert [r.address for r in rows] == ["0xA"]
    assert handler.calls == 2


async def test_subgraph_errors_response_is_not_cached(make_http: Factory) -> None:
    handler = Recorder({"errors": [{"message": "indexer down"}]})
    client = SubgraphClient(make_http(handler, name="subgraph"))

    with pytest.raises(UpstreamBadPayload):
        await client.fees_overview(first=7)
    handler.reply = {"data": {"days": [], "protocol": None}}
    fees = await client.fees_overview(first=7)

    assert fees.days == []
    assert handler.calls == 2


async def test_rpc_error_object_is_not_cached(make_http: Factory) -> None:
    handler = Recorder({"jsonrpc": "2.0", "id": 1, "error": {"code": -1}})
    client = L1RpcClient(make_http(handler, name="l1-rpc"))

    with pytest.raises(UpstreamBadPayload):
        await client.block_number()
    handler.reply = {"jsonrpc": "2.0", "id": 1, "result": "0x2a"}

    assert await client.block_number() == 42
    assert handler.calls == 2


async def test_cancelled_waiter_does_not_cancel_the_shared_call(
    make_http: Factory,
) -> None:
    gate = asyncio.Event()
    handler = Recorder([{"id": "llm"}], gate=gate)
    client = analytics(make_http(handler))

    impatient = asyncio.create_task(client.dashboard_pipeline_catalog())
    await handler.started.wait()
    patient = asyncio.create_task(client.dashboard_pipeline_catalog())
    await asyncio.sleep(0)  # let the second caller join the in-flight call
    impatient.cancel()
    gate.set()

    catalog = await patient
    assert [e.id for e in catalog] == ["llm"]
    assert impatient.cancelled()
    assert handler.calls == 1


async def test_cancelled_only_waiter_lets_the_call_finish_for_the_next_one(
    make_http: Factory,
) -> None:
    gate = asyncio.Event()
    handler = Recorder([{"id": "llm"}], gate=gate)
    client = analytics(make_http(handler))

    impatient = asyncio.create_task(client.dashboard_pipeline_catalog())
    await handler.started.wait()
    impatient.cancel()
    with pytest.raises(asyncio.CancelledError):
        await impatient
    joining = asyncio.create_task(client.dashboard_pipeline_catalog())
    await asyncio.sleep(0)  # joins the call still in flight
    gate.set()
    catalog = await joining

    assert [e.id for e in catalog] == ["llm"]
    assert handler.calls == 1


# --- metrics labels ------------------------------------------------------------------
def latency_count(upstream: str, endpoint: str) -> float:
    return sample(
        "naap_upstream_request_duration_seconds_count",
        upstream=upstream,
        endpoint=endpoint,
    )


async def test_latency_is_labelled_by_endpoint_never_by_query_values(
    make_http: Factory,
) -> None:
    client = analytics(make_http(Recorder([]), name="metrics-analytics"))
    before = latency_count("metrics-analytics", "dashboard/job-feed")

    await client.dashboard_job_feed(limit=7)
    await client.dashboard_job_feed(limit=8)

    assert latency_count("metrics-analytics", "dashboard/job-feed") == before + 2


async def test_post_upstreams_are_labelled_by_service_and_method(
    make_http: Factory,
) -> None:
    rpc = L1RpcClient(
        make_http(
            Recorder({"jsonrpc": "2.0", "id": 1, "result": "0x10"}), name="m-rpc"
        ),
    )
    graph = SubgraphClient(make_http(Recorder({"data": {"days": []}}), name="m-graph"))
    before = (
        latency_count("m-rpc", "rpc:eth_blockNumber"),
        latency_count("m-graph", "m-graph"),
    )

    assert await rpc.block_number() == 16
    await graph.fees_overview(first=3)

    assert latency_count("m-rpc", "rpc:eth_blockNumber") == before[0] + 1
    assert latency_count("m-graph", "m-graph") == before[1] + 1


async def test_body_of_wrong_shape_is_counted_as_bad_payload(
    make_http: Factory,
) -> None:
    client = analytics(make_http(Recorder({"not": "a list"}), name="m-shape"))
    before = errors("m-shape", "dashboard/pricing", "bad_payload")

    with pytest.raises(UpstreamBadPayload):
        await client.dashboard_pricing()

    assert errors("m-shape", "dashboard/pricing", "bad_payload") == before + 1
