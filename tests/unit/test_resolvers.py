"""Resolver logic as pure functions over hand-made upstream rows (no HTTP).

Orchestrator table merging, the network model inventory and pricing, the
pipeline catalog, fees and the job feed entry mapper. The pricing resolver runs on
a real `Context` whose analytics client is a stub returning the rows given to it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, cast

import httpx
import pytest

from app.context import Context, Services
from app.errors import UpstreamStatusError, UpstreamUnavailable
from app.netmodels import NetModel, net_capacity, network_models, price_stats
from app.settings import Settings
from app.types.dashboard import (
    FeeDayData,
    FeeWeeklyData,
    PipelineCatalogEntry,
    PipelineModelOffer,
    PipelinePricing,
)
from app.upstream._http import JsonTransport
from app.upstream.analytics import (
    AnalyticsClient,
    CatalogEntry,
    DashboardOrchestrator,
    JobFeedItem,
    ModelInventory,
    OrchestratorInventory,
    PipelineModels,
    PriceRow,
)
from app.upstream.l1rpc import L1RpcClient
from app.upstream.subgraph import FeeDay, FeesOverview, SubgraphClient
from resolvers.catalog import merge_catalog
from resolvers.fees import build_fees, percent_change
from resolvers.jobs import to_entry
from resolvers.orchestrators import build_rows, merge_inventory, split_capability
from resolvers.pricing import load_pricing, pricing_args

LIVE = "live-video-to-video"


# --- builders -----------------------------------------------------------------------
def dash(
    address: str,
    *,
    service_uri: str | None = "https://orch.example:8935",
    success_ratio: float | None = 80.0,
    effective_success_rate: float | None = 0.8,
    no_swap_ratio: float | None = 0.9,
    sla_score: float | None = 84.0,
    pipelines: Sequence[str] = (),
    pipeline_models: Sequence[tuple[str, list[str]]] = (),
    known_sessions: int = 10,
    success_sessions: int = 8,
    gpu_count: int = 1,
) -> DashboardOrchestrator:
    return DashboardOrchestrator(
        address=address,
        service_uri=service_uri,
        known_sessions=known_sessions,
        success_sessions=success_sessions,
        success_ratio=success_ratio,
        effective_success_rate=effective_success_rate,
        no_swap_ratio=no_swap_ratio,
        sla_score=sla_score,
        pipelines=list(pipelines),
        pipeline_models=[PipelineModels(p, list(m)) for p, m in pipeline_models],
        gpu_count=gpu_count,
    )


def inv(
    address: str,
    uri: str | None = None,
    offers: Sequence[str] = (),
    last_seen: datetime | None = None,
) -> OrchestratorInventory:
    return OrchestratorInventory(
        address=address,
        uri=uri,
        offers=list(offers),
        gpu_count=1,
        last_seen=last_seen,
    )


def price(
    pipeline: str,
    model: str | None,
    wei: float,
    *,
    warm: bool = False,
    pixels: float | None = None,
    orch: str = "0xo",
) -> PriceRow:
    return PriceRow(
        orch_address=orch,
        pipeline=pipeline,
        model=model,
        price_wei_per_unit=wei,
        pixels_per_unit=pixels,
        is_warm=warm,
    )


def model(
    pipeline: str,
    name: str,
    warm: int = 0,
    slots: int = 0,
    fps: float | None = None,
) -> ModelInventory:
    return ModelInventory(pipeline, name, warm, slots, fps)


# --- orchestrators: capability splitting and the inventory --------------------------
@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            "llm:meta-llama/Meta-Llama-3.1-8B-Instruct",
            ("llm", "meta-llama/Meta-Llama-3.1-8B-Instruct"),
        ),
        ("openai-chat-completions:gpt-4o", ("openai-chat-completions", "gpt-4o")),
        ("text-to-image/sdxl", ("text-to-image", "sdxl")),
        ("a:b:c", ("a", "b:c")),
        ("nocolon", None),
        (":model", None),
        ("pipeline:", None),
        ("", None),
    ],
)
def test_split_capability_splits_on_first_colon_then_slash(
    entry: str, expected: tuple[str, str] | None
) -> None:
    assert split_capability(entry) == expected


def test_merge_inventory_reads_streaming_offer_as_live_video_or_slash_pair() -> None:
    streaming = [
        inv("0xA", offers=["streamdiffusion", "text-to-image/sdxl", "/odd"]),
    ]

    merged = merge_inventory(streaming, [])

    assert merged["0xa"].offers == {
        LIVE: ["streamdiffusion", "/odd"],
        "text-to-image": ["sdxl"],
    }


def test_merge_inventory_splits_request_capabilities_and_skips_unusable() -> None:
    requests = [
        inv(
            "0xA",
            offers=[
                "llm:meta-llama/Meta-Llama-3.1-8B-Instruct",
                "openai-chat-completions:gpt-4o",
                "nocolon",
                "llm:meta-llama/Meta-Llama-3.1-8B-Instruct",
            ],
        )
    ]

    merged = merge_inventory([], requests)

    assert merged["0xa"].offers == {
        "llm": ["meta-llama/Meta-Llama-3.1-8B-Instruct"],
        "openai-chat-completions": ["gpt-4o"],
    }


def test_merge_inventory_keeps_first_display_spelling_and_skips_blank_address() -> None:
    streaming = [inv("  0xAbC ", uri="https://a"), inv("   ", uri="https://blank")]
    requests = [inv("0xabc", uri="https://b")]

    merged = merge_inventory(streaming, requests)

    assert list(merged) == ["0xabc"]
    assert merged["0xabc"].display == "0xAbC"
    assert merged["0xabc"].uris == ["https://a", "https://b"]


# --- orchestrators: build_rows ------------------------------------------------------
def test_build_rows_keeps_dashboard_order_then_sorted_net_only_rows() -> None:
    rows = [dash("0xB"), dash("0xA"), dash("0xb")]  # duplicate: first wins
    inventory = merge_inventory(
        [
            inv("0xZed", uri="https://z"),
            inv("0xabc", uri="https://abc"),
            inv("0xBcd", uri="https://bcd"),
        ],
        [],
    )

    result = build_rows(rows, inventory)

    assert [r.address for r in result] == ["0xB", "0xA", "0xabc", "0xBcd", "0xZed"]


def test_build_rows_uses_inventory_display_address() -> None:
    inventory = merge_inventory([inv("0xAbCdEf", uri="https://a")], [])

    [row] = build_rows([dash("0xabcdef")], inventory)

    assert row.address == "0xAbCdEf"


def test_build_rows_appends_service_uri_only_when_its_normalised_form_is_new() -> None:
    inventory = merge_inventory(
        [inv("0xA", uri="https://a.example:8935/"), inv("0xB", uri="https://b")],
        [inv("0xA", uri="https://a.example:8935/"), inv("0xA", uri="https://c")],
    )
    rows = [
        dash("0xA", service_uri=" HTTPS://A.example:8935 "),
        dash("0xB", service_uri="https://other.example/"),
    ]

    first, second = build_rows(rows, inventory)

    assert first.uris == ["https://a.example:8935/", "https://c"]
    assert second.uris == ["https://b", "https://other.example/"]


def test_build_rows_last_seen_is_iso_with_milliseconds_from_latest_inventory() -> None:
    earlier = datetime(2026, 5, 1, 10, 0, 0, 500000, tzinfo=UTC)
    later = datetime(
        2026, 5, 1, 12, 12, 33, 123456, tzinfo=timezone(timedelta(hours=2))
    )
    inventory = merge_inventory(
        [inv("0xA", uri="https://a", last_seen=earlier)],
        [inv("0xA", last_seen=later), inv("0xA", last_seen=None)],
    )

    [row] = build_rows([dash("0xA")], inventory)

    assert row.last_seen == "2026-05-01T10:12:33.123Z"


def test_build_rows_last_seen_has_zero_milliseconds_when_whole_second() -> None:
    moment = datetime(2026, 5, 1, 10, 12, 33, tzinfo=UTC)
    inventory = merge_inventory([inv("0xA", uri="https://a", last_seen=moment)], [])

    [row] = build_rows([dash("0xA")], inventory)

    assert row.last_seen == "2026-05-01T10:12:33.000Z"


def test_build_rows_last_seen_is_none_without_inventory() -> None:
    [row] = build_rows([dash("0xA")], {})

    assert row.last_seen is None
    assert row.uris == ["https://orch.example:8935"]


@pytest.mark.parametrize(
    ("ratio", "expected"),
    [(81.44, 81.4), (81.45, 81.5), (None, 0), (100, 100), (0, 0)],
)
def test_build_rows_success_ratio_is_rounded_to_one_decimal(
    ratio: float | None, expected: float
) -> None:
    [row] = build_rows([dash("0xA", success_ratio=ratio)], {})

    assert row.success_ratio == expected


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.8145, 81.5), (0.81449, 81.4), (1.0, 100.0), (0.0, 0.0), (None, None)],
)
def test_build_rows_rates_are_percentages_with_one_decimal(
    fraction: float | None, expected: float | None
) -> None:
    [row] = build_rows(
        [dash("0xA", effective_success_rate=fraction, no_swap_ratio=fraction)], {}
    )

    assert row.effective_success_rate == expected
    assert row.no_swap_ratio == expected


@pytest.mark.parametrize(
    ("score", "expected"), [(84.5, 85), (84.49, 84), (0.5, 1), (None, None)]
)
def test_build_rows_sla_score_is_math_rounded(
    score: float | None, expected: int | None
) -> None:
    [row] = build_rows([dash("0xA", sla_score=score)], {})

    assert row.sla_score == expected


def test_build_rows_copies_upstream_counts() -> None:
    row = dash("0xA", known_sessions=8420, success_sessions=6854, gpu_count=4)

    [result] = build_rows([row], {})

    assert (result.known_sessions, result.success_sessions, result.gpu_count) == (
        8420,
        6854,
        4,
    )


def test_build_rows_merges_pipeline_models_upstream_first_then_inventory() -> None:
    inventory = merge_inventory(
        [inv("0xA", uri="https://a", offers=["c", "b"])],
        [inv("0xA", offers=["llm:x", "llm:x"])],
    )
    row = dash(
        "0xA",
        pipelines=["text-to-image"],
        pipeline_models=[(LIVE, ["b", "Alpha", "b"]), ("text-to-image", ["sdxl"])],
    )

    [result] = build_rows([row], inventory)

    assert result.pipeline_models == [
        PipelineModelOffer(pipeline_id=LIVE, model_ids=["Alpha", "b", "c"]),
        PipelineModelOffer(pipeline_id="text-to-image", model_ids=["sdxl"]),
        PipelineModelOffer(pipeline_id="llm", model_ids=["x"]),
    ]
    assert result.pipelines == ["text-to-image", LIVE, "llm"]


def test_build_rows_model_ids_sort_case_insensitively() -> None:
    row = dash("0xA", pipeline_models=[(LIVE, ["zeta", "Beta", "alpha"])])

    [result] = build_rows([row], {})

    assert result.pipeline_models[0].model_ids == ["alpha", "Beta", "zeta"]


def test_build_rows_net_only_row_has_zero_counts_and_inventory_offers() -> None:
    moment = datetime(2026, 5, 1, 10, 0, tzinfo=UTC)
    inventory = merge_inventory(
        [inv("0xNet", uri="https://net", offers=["sd"], last_seen=moment)], []
    )

    [row] = build_rows([], inventory)

    assert row.address == "0xNet"
    assert row.uris == ["https://net"]
    assert row.last_seen == "2026-05-01T10:00:00.000Z"
    assert (row.known_sessions, row.success_sessions, row.gpu_count) == (0, 0, 0)
    assert row.success_ratio == 0
    assert row.effective_success_rate is None
    assert row.no_swap_ratio is None
    assert row.sla_score is None
    assert row.pipelines == [LIVE]
    assert row.pipeline_models == [
        PipelineModelOffer(pipeline_id=LIVE, model_ids=["sd"])
    ]


def test_build_rows_net_only_offers_are_sorted_by_pipeline() -> None:
    # The merged inventory's offers have pipelines sorted (as localeCompare
    # sorts); an orchestrator known only from the network shows exactly those.
    inventory = merge_inventory(
        [inv("0xNet", uri="https://net", offers=["sd"])],
        [inv("0xNet", offers=["llm:glm", "audio-to-text:whisper"])],
    )

    [row] = build_rows([], inventory)

    assert [o.pipeline_id for o in row.pipeline_models] == [
        "audio-to-text",
        LIVE,
        "llm",
    ]
    assert row.pipelines == ["audio-to-text", LIVE, "llm"]


def test_build_rows_drops_rows_without_any_uri() -> None:
    inventory = merge_inventory(
        [inv("0xNoUri", offers=["sd"]), inv("0xListed", uri="https://l")], []
    )
    rows = [
        dash("0xA", service_uri=None),
        dash("0xB", service_uri="   "),
        dash("0xC"),
    ]

    result = build_rows(rows, inventory)

    assert [r.address for r in result] == ["0xC", "0xListed"]


def test_build_rows_skips_blank_dashboard_address() -> None:
    assert [r.address for r in build_rows([dash("  "), dash("0xA")], {})] == ["0xA"]


# --- network models, price stats, net capacity --------------------------------------
def test_price_stats_groups_positive_prices_by_pipeline_and_model() -> None:
    rows = [
        price("llm", "glm", 100, warm=True, orch="0x1"),
        price("llm", "glm", 300, pixels=0, orch="0x2"),
        price(" llm ", " glm ", 200, pixels=1, orch="0x3"),
        price("llm", "glm", 0, warm=True),
        price("llm", "glm", -5, warm=True),
        price("  ", "glm", 100),
        price("byoc", None, 50),
        price("byoc", "  ", 70, warm=True),
    ]

    groups = price_stats(rows)

    assert list(groups) == ["llm:glm", "byoc:"]
    pipeline, model_id, stats = groups["llm:glm"]
    assert (pipeline, model_id) == ("llm", "glm")
    assert (stats.low, stats.high, stats.count, stats.warm_count) == (100, 300, 3, 1)
    assert stats.avg == 200
    assert stats.pixels_per_unit == 1
    assert stats.orch_addresses == ["0x1", "0x2", "0x3"]
    byoc_pipeline, byoc_model, byoc = groups["byoc:"]
    assert (byoc_pipeline, byoc_model) == ("byoc", None)
    assert (byoc.count, byoc.warm_count, byoc.avg) == (2, 1, 60)


def test_network_models_merges_inventories_and_rounds_prices() -> None:
    streaming = [model(LIVE, "sd", warm=2, slots=4), model(LIVE, "  ", warm=9)]
    requests = [
        model("llm", "glm", warm=1, slots=5),
        model("llm", "glm", warm=3, slots=2),
        model("llm", "Alpha", warm=1, slots=1),
        model("Audio-to-text", "whisper", warm=1, slots=1),
    ]
    prices = [
        price("llm", "glm", 100.5),
        price("llm", "glm", 200),
        price("llm", "glm", 150.3),
        price("llm", "unlisted", 999),
    ]

    models = network_models(streaming, requests, prices)

    assert [(m.pipeline, m.model) for m in models] == [
        ("Audio-to-text", "whisper"),
        (LIVE, "sd"),
        ("llm", "Alpha"),
        ("llm", "glm"),
    ]
    glm = models[3]
    assert (glm.warm_orch_count, glm.total_capacity) == (3, 5)
    assert (glm.price_min, glm.price_max, glm.price_avg) == (101, 200, 150)
    unpriced = models[1]
    assert (unpriced.price_min, unpriced.price_max, unpriced.price_avg) == (0, 0, 0)


def test_network_models_prices_round_half_up_like_math_round() -> None:
    models = network_models(
        [], [model("llm", "glm")], [price("llm", "glm", 2.5), price("llm", "glm", 2.5)]
    )

    assert models[0].price_avg == 3


def test_net_capacity_sums_warm_counts_per_pipeline_and_model() -> None:
    models = [
        NetModel("llm", "glm", 2, 0),
        NetModel("llm", "glm", 3, 0),
        NetModel(LIVE, "sd", 0, 4),
        NetModel("  ", "x", 5, 0),
        NetModel("llm", "bad", -1, 0),
    ]

    assert net_capacity(models) == {"llm:glm": 5, f"{LIVE}:sd": 0}


# --- pricing resolver ---------------------------------------------------------------
class StubAnalytics:
    """The three analytics calls pricing makes; a value or an exception each."""

    def __init__(
        self,
        prices: list[PriceRow] | Exception,
        streaming: list[ModelInventory] | Exception | None = None,
        requests: list[ModelInventory] | Exception | None = None,
    ) -> None:
        self._prices = prices
        self._streaming = [] if streaming is None else streaming
        self._requests = [] if requests is None else requests

    @staticmethod
    def _answer(value: Any) -> Any:
        if isinstance(value, Exception):
            raise value
        return value

    async def dashboard_pricing(self) -> list[PriceRow]:
        return cast(list[PriceRow], self._answer(self._prices))

    async def streaming_models(self) -> list[ModelInventory]:
        return cast(list[ModelInventory], self._answer(self._streaming))

    async def requests_models(self) -> list[ModelInventory]:
        return cast(list[ModelInventory], self._answer(self._requests))


def make_context(analytics: Any, *, eth_usd: float = 3000.0) -> Context:
    settings = Settings(
        naap_api_server_url=None,
        subgraph_url=None,
        l1_rpc_url=None,
        eth_usd_price=eth_usd,
    )
    services = Services(
        settings=settings,
        analytics=cast(AnalyticsClient, analytics),
        subgraph=cast(SubgraphClient, None),
        l1=cast(L1RpcClient, None),
        now=lambda: datetime(2026, 5, 6, 15, tzinfo=UTC),
        # Pricing touches neither the database nor authentication.
        db=cast(Any, None),
        verifier=cast(Any, None),
        oauth=cast(Any, None),
        box=cast(Any, None),
        limiter=cast(Any, None),
        snapshots=cast(Any, None),
        reads=cast(Any, None),
        live=cast(Any, None),
        streams=cast(Any, None),
    )
    return Context(services=services)


async def run_pricing(context: Context) -> list[PipelinePricing]:
    return await load_pricing(context, pricing_args())


async def test_pricing_rows_are_sorted_by_price_descending() -> None:
    prices = [
        price("text-to-image", "sdxl", 2230),
        price("llm", "glm", 23916807, pixels=1),
        price(LIVE, "sd", 9123537),
        price("audio-to-text", "whisper", 9123537),
    ]

    rows = await run_pricing(make_context(StubAnalytics(prices)))

    assert [(r.pipeline, r.model) for r in rows] == [
        ("llm", "glm"),
        (LIVE, "sd"),  # ties keep first-seen order
        ("audio-to-text", "whisper"),
        ("text-to-image", "sdxl"),
    ]


async def test_pricing_row_fields_follow_the_original_formulas() -> None:
    prices = [
        price("llm", "glm", 23916807, pixels=1, warm=True),
        price("text-to-image", "sdxl", 2230, pixels=0),
    ]

    llm, image = await run_pricing(make_context(StubAnalytics(prices)))

    assert llm == PipelinePricing(
        pipeline="llm",
        model="glm",
        unit="token",
        price=23916807 / 1e12,
        avg_wei_per_unit="23916807",
        pixels_per_unit=1,
        output_per_dollar="~14M tokens",
        capacity=1,
    )
    assert image.unit == "pixel"
    assert image.pixels_per_unit is None
    assert image.output_per_dollar == "~149B pixels"


async def test_pricing_output_per_dollar_uses_configured_eth_price() -> None:
    prices = [price("text-to-image", "sdxl", 2230)]

    [row] = await run_pricing(make_context(StubAnalytics(prices), eth_usd=6000))

    assert row.output_per_dollar == "~75B pixels"


async def test_pricing_live_video_capacity_is_warm_orchestrator_count() -> None:
    prices = [
        price(LIVE, "sd", 100, warm=True, orch="0x1"),
        price(LIVE, "sd", 100, warm=True, orch="0x2"),
        price(LIVE, "sd", 100, orch="0x3"),
        price(LIVE, "sdxl", 100, orch="0x1"),
        price(LIVE, "sdxl", 100, orch="0x2"),
    ]
    streaming = [model(LIVE, "sd", warm=9), model(LIVE, "sdxl", warm=9)]

    rows = await run_pricing(make_context(StubAnalytics(prices, streaming)))

    assert {r.model: r.capacity for r in rows} == {"sd": 2, "sdxl": 2}


async def test_pricing_other_capacity_is_net_capacity_else_orchestrator_count() -> None:
    prices = [
        price("llm", "glm", 100, warm=True),
        price("llm", "zero", 100, warm=True),
        price("llm", "unlisted", 100, orch="0x1"),
        price("llm", "unlisted", 100, orch="0x2"),
        price("llm", "unlisted", 100, orch="0x3"),
    ]
    requests = [model("llm", "glm", warm=5, slots=8), model("llm", "zero", warm=0)]

    rows = await run_pricing(make_context(StubAnalytics(prices, [], requests)))

    # A present net capacity of 0 is kept (JavaScript `??`, not `||`).
    assert {r.model: r.capacity for r in rows} == {"glm": 5, "zero": 0, "unlisted": 3}


async def test_pricing_keeps_rows_without_a_model() -> None:
    prices = [price("byoc", None, 500), price("byoc", "  ", 700, warm=True)]

    [row] = await run_pricing(make_context(StubAnalytics(prices)))

    assert row.pipeline == "byoc"
    assert row.model is None
    assert row.avg_wei_per_unit == "600"
    assert row.capacity == 1


async def test_pricing_is_empty_for_an_empty_price_list() -> None:
    inventory = [model("llm", "glm", warm=1)]

    assert await run_pricing(make_context(StubAnalytics([], inventory))) == []


async def test_pricing_is_empty_when_the_upstream_price_list_is_null() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        body = b"null" if request.url.path.endswith("/dashboard/pricing") else b"[]"
        return httpx.Response(200, content=body)

    http = JsonTransport(
        name="analytics",
        base_url="http://up/v1",
        timeout=1,
        connect_timeout=1,
        transport=httpx.MockTransport(handler),
    )
    try:
        client = AnalyticsClient(http)
        assert await run_pricing(make_context(client)) == []
    finally:
        await http.aclose()


async def test_pricing_degrades_when_an_inventory_fails() -> None:
    prices = [price("llm", "glm", 100, orch="0x1"), price("llm", "glm", 100)]
    failure = UpstreamStatusError("down", upstream="analytics")
    context = make_context(StubAnalytics(prices, failure, failure))

    [row] = await run_pricing(context)

    assert row.capacity == 2
    assert sorted(context.degraded) == ["requests/models", "streaming/models"]


async def test_pricing_is_unavailable_when_the_price_list_fails() -> None:
    failure = UpstreamStatusError("down", upstream="analytics")

    with pytest.raises(UpstreamUnavailable, match="Pipeline unit cost data"):
        await run_pricing(make_context(StubAnalytics(failure)))


# --- pipeline catalog ---------------------------------------------------------------
def test_merge_catalog_seeds_from_warm_catalog_and_adds_warm_and_fps_only() -> None:
    models = [
        NetModel(LIVE, "sd", 1, 1),
        NetModel("llm", "glm", 1, 1),
        NetModel("llm", "Alpha", 1, 1),
        NetModel("  ", "x", 1, 1),
    ]
    warm = [
        CatalogEntry("llm", "Large Language Models", ["zeta", "glm"], ["us", "EU"]),
        CatalogEntry("text-to-image", "text-to-image", ["sdxl"], []),
        CatalogEntry("Upscale", "Upscale", [], []),
    ]
    fps_keys = [f"{LIVE}:sdxl", f"{LIVE}:sd", "audio:whisper", "bad", ":x", "y:"]

    catalog = merge_catalog(models, warm, fps_keys)

    assert catalog == [
        PipelineCatalogEntry(id="audio", name="audio", models=["whisper"], regions=[]),
        PipelineCatalogEntry(id=LIVE, name=LIVE, models=["sd", "sdxl"], regions=[]),
        PipelineCatalogEntry(
            id="llm",
            name="Large Language Models",
            models=["Alpha", "glm", "zeta"],
            regions=["EU", "us"],
        ),
        PipelineCatalogEntry(
            id="text-to-image", name="text-to-image", models=["sdxl"], regions=[]
        ),
        PipelineCatalogEntry(id="Upscale", name="Upscale", models=[], regions=[]),
    ]


def test_merge_catalog_fps_entry_keeps_name_of_existing_pipeline() -> None:
    warm = [CatalogEntry(LIVE, "Live Video-to-Video", ["sd"], ["us"])]

    [entry] = merge_catalog([], warm, [f"{LIVE}:sdxl"])

    assert entry == PipelineCatalogEntry(
        id=LIVE, name="Live Video-to-Video", models=["sd", "sdxl"], regions=["us"]
    )


def test_merge_catalog_is_empty_without_sources() -> None:
    assert merge_catalog([], [], []) == []


# --- fees ---------------------------------------------------------------------------
NOW = datetime(2026, 5, 6, 15, 0, tzinfo=UTC)  # a Wednesday
DAY = 86400
APR_20 = 1776643200  # Monday
APR_27 = APR_20 + 7 * DAY
MAY_04 = APR_20 + 14 * DAY  # Monday; 1777852800


def three_weeks() -> list[FeeDay]:
    """Apr 20 .. May 6 as the subgraph sends them (newest first)."""
    days = [FeeDay(APR_20 + i * DAY, 1.0, 1000.004) for i in range(7)]
    days += [FeeDay(APR_27 + i * DAY, 0.333, 2000.0) for i in range(7)]
    days += [
        FeeDay(MAY_04, 3.0, 3000.0),
        FeeDay(MAY_04 + DAY, 4.5, 4500.0),
        FeeDay(MAY_04 + 2 * DAY, 0.1, 100.0),  # today, still running
    ]
    return list(reversed(days))


def test_build_fees_day_data_is_ascending_and_unrounded() -> None:
    info = build_fees(FeesOverview(three_weeks(), None, None), NOW)

    assert [d.date_s for d in info.day_data] == [APR_20 + i * DAY for i in range(17)]
    assert info.day_data[0] == FeeDayData(
        date_s=APR_20, volume_eth=1.0, volume_usd=1000.004
    )
    assert info.day_data[7].volume_eth == 0.333


def test_build_fees_weekly_buckets_are_monday_based_and_rounded() -> None:
    info = build_fees(FeesOverview(three_weeks(), None, None), NOW)

    assert info.weekly_data == [
        FeeWeeklyData(date=APR_20, weekly_volume_usd=7000.03, weekly_volume_eth=7.0),
        FeeWeeklyData(date=APR_27, weekly_volume_usd=14000.0, weekly_volume_eth=2.33),
        FeeWeeklyData(date=MAY_04, weekly_volume_usd=7600.0, weekly_volume_eth=7.6),
    ]


def test_build_fees_skips_the_running_day_and_compares_the_two_before() -> None:
    info = build_fees(FeesOverview(three_weeks(), None, None), NOW)

    assert (info.one_day_volume_eth, info.one_day_volume_usd) == (4.5, 4500.0)
    assert (info.volume_change_eth, info.volume_change_usd) == (50.0, 50.0)


def test_build_fees_skips_the_running_week_and_compares_the_two_before() -> None:
    info = build_fees(FeesOverview(three_weeks(), None, None), NOW)

    assert (info.one_week_volume_eth, info.one_week_volume_usd) == (2.33, 14000.0)
    assert info.weekly_volume_change_eth == -66.71
    assert info.weekly_volume_change_usd == 100.0


def test_build_fees_shows_latest_day_and_week_when_complete() -> None:
    days = [d for d in three_weeks() if d.date < MAY_04 + 2 * DAY]
    next_monday = datetime(2026, 5, 11, 0, 30, tzinfo=UTC)

    info = build_fees(FeesOverview(days, None, None), next_monday)

    # Latest day May 5 (4.5) vs May 4 (3.0); latest week May 4-5 (7.5) vs 2.33.
    assert info.one_day_volume_eth == 4.5
    assert info.volume_change_eth == 50.0
    assert info.one_week_volume_eth == 7.5
    assert info.weekly_volume_change_eth == round((7.5 - 2.33) / 2.33 * 100, 2)


def test_build_fees_total_comes_from_protocol_when_given() -> None:
    info = build_fees(FeesOverview(three_weeks(), 4213.874, 12045000.005), NOW)

    assert info.total_eth == 4213.87
    assert info.total_usd == 12045000.01


def test_build_fees_total_is_sum_of_days_without_protocol_total() -> None:
    info = build_fees(FeesOverview(three_weeks(), None, None), NOW)

    assert info.total_eth == 16.93
    assert info.total_usd == 28600.03


def test_build_fees_protocol_total_of_zero_is_used() -> None:
    info = build_fees(FeesOverview(three_weeks(), 0.0, 0.0), NOW)

    assert (info.total_eth, info.total_usd) == (0.0, 0.0)


def test_build_fees_single_complete_day_has_no_changes() -> None:
    info = build_fees(
        FeesOverview([FeeDay(MAY_04 + DAY, 2.5, 7500.0)], None, None), NOW
    )

    assert (info.one_day_volume_eth, info.one_day_volume_usd) == (2.5, 7500.0)
    assert info.volume_change_eth is None
    assert info.volume_change_usd is None
    assert info.weekly_volume_change_eth is None
    assert info.weekly_volume_change_usd is None


def test_build_fees_single_running_day_shows_zero() -> None:
    today = FeeDay(MAY_04 + 2 * DAY, 2.5, 7500.0)

    info = build_fees(FeesOverview([today], None, None), NOW)

    assert (info.one_day_volume_eth, info.one_week_volume_eth) == (0, 0)
    assert info.volume_change_eth is None
    assert info.total_eth == 2.5


def test_build_fees_without_days_is_zeros_and_no_changes() -> None:
    info = build_fees(FeesOverview([], None, None), NOW)

    assert (info.total_eth, info.total_usd) == (0, 0)
    assert (info.one_day_volume_eth, info.one_day_volume_usd) == (0, 0)
    assert (info.one_week_volume_eth, info.one_week_volume_usd) == (0, 0)
    assert info.volume_change_eth is None
    assert info.volume_change_usd is None
    assert info.weekly_volume_change_eth is None
    assert info.weekly_volume_change_usd is None
    assert info.day_data == []
    assert info.weekly_data == []


def test_build_fees_drops_days_with_non_finite_dates() -> None:
    days = [FeeDay(math.nan, 9.0, 9.0), FeeDay(MAY_04, 1.0, 1.0)]

    info = build_fees(FeesOverview(days, None, None), NOW)

    assert [d.date_s for d in info.day_data] == [MAY_04]


@pytest.mark.parametrize(
    ("current", "previous", "expected"),
    [
        (5, 0, 100.0),
        (0, 0, 0.0),
        (-5, 0, 100.0),
        (150, 100, 50.0),
        (50, 100, -50.0),
        (math.nan, 1, 0.0),
        (1, math.inf, 0.0),
    ],
)
def test_percent_change_follows_the_original(
    current: float, previous: float, expected: float
) -> None:
    assert percent_change(current, previous) == expected


# --- job feed entries ---------------------------------------------------------------
def job(
    *,
    started_at: str = "2026-05-01T10:00:00Z",
    last_seen: str | None = "2026-05-01T10:02:21.900Z",
    duration: float | None = None,
    running_for: str | None = None,
) -> JobFeedItem:
    return JobFeedItem(
        id="j1",
        pipeline=LIVE,
        model="sd",
        state="online",
        started_at=started_at,
        gateway="gw",
        orchestrator_url="https://o",
        input_fps=30.0,
        output_fps=15.8,
        last_seen=last_seen,
        duration_seconds=duration,
        running_for=running_for,
    )


def test_to_entry_keeps_upstream_duration_and_derives_running_for() -> None:
    entry = to_entry(job(duration=142.37))

    assert entry.duration_seconds == 142.37
    assert entry.running_for == "2m 22s"
    assert (entry.id, entry.pipeline, entry.model, entry.status) == (
        "j1",
        LIVE,
        "sd",
        "online",
    )
    assert entry.started_at == "2026-05-01T10:00:00Z"
    assert entry.last_seen == "2026-05-01T10:02:21.900Z"


def test_to_entry_computes_duration_from_last_seen_minus_start() -> None:
    entry = to_entry(job())

    assert entry.duration_seconds == 141
    assert entry.running_for == "2m 21s"


def test_to_entry_duration_is_never_negative() -> None:
    entry = to_entry(job(last_seen="2026-05-01T09:59:00Z"))

    assert entry.duration_seconds == 0
    assert entry.running_for == "0s"


@pytest.mark.parametrize(
    "last_seen", [None, "not a time", "2026-05-01T10:02:21"]
)  # the last: naive vs aware
def test_to_entry_has_no_duration_when_times_do_not_compare(
    last_seen: str | None,
) -> None:
    entry = to_entry(job(last_seen=last_seen))

    assert entry.duration_seconds is None
    assert entry.running_for is None


def test_to_entry_keeps_upstream_running_for_text() -> None:
    entry = to_entry(job(duration=3725, running_for="about an hour"))

    assert entry.duration_seconds == 3725
    assert entry.running_for == "about an hour"


def test_to_entry_hours_format() -> None:
    entry = to_entry(job(last_seen="2026-05-01T11:02:05Z"))

    assert entry.duration_seconds == 3725
    assert entry.running_for == "1h 2m 5s"
