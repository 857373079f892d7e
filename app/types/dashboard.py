"""Strawberry types of the Network Overview, mirroring the plugin SDK field for field.

Fields are written in snake_case and camel-cased by Strawberry; `name=` appears only
where the wire spelling cannot be derived (`totalStakedLPT`, `dateS`, `totalGPUs`)
or must stay snake_case (the `requests` blocks, as the upstream and SDK spell them).
Data only: resolvers build these fully.
"""

from __future__ import annotations

import strawberry


@strawberry.type
class HourlyBucket:
    hour: str
    value: float


@strawberry.type
class MetricDelta:
    value: float
    delta: float


@strawberry.type(description="AI-batch or BYOC job totals; success_rate is 0-1.")
class DashboardJobsStats:
    total_jobs: int = strawberry.field(name="total_jobs")
    selected_jobs: int = strawberry.field(name="selected_jobs")
    no_orch_jobs: int = strawberry.field(name="no_orch_jobs")
    success_rate: float = strawberry.field(name="success_rate")
    avg_duration_ms: float = strawberry.field(name="avg_duration_ms")


@strawberry.type
class DashboardJobsOverview:
    ai_batch: DashboardJobsStats = strawberry.field(name="ai_batch")
    byoc: DashboardJobsStats


@strawberry.type
class KPI:
    success_rate: MetricDelta = strawberry.field(description="Percent, 0-100.")
    orchestrators_observed: MetricDelta
    daily_usage_mins: MetricDelta
    daily_session_count: MetricDelta
    daily_network_fees_eth: MetricDelta
    timeframe_hours: int
    hourly_usage: list[HourlyBucket] | None
    hourly_sessions: list[HourlyBucket] | None
    requests: DashboardJobsOverview | None = strawberry.field(
        default=None, description="AI-batch and BYOC job totals over the same window."
    )


@strawberry.type
class Protocol:
    current_round: int
    block_progress: int
    total_blocks: int
    total_staked_lpt: float = strawberry.field(name="totalStakedLPT")


@strawberry.type
class FeeDayData:
    date_s: int = strawberry.field(name="dateS", description="Day start, unix seconds.")
    volume_eth: float
    volume_usd: float


@strawberry.type
class FeeWeeklyData:
    date: int = strawberry.field(description="Monday 00:00 UTC, unix seconds.")
    weekly_volume_usd: float
    weekly_volume_eth: float


@strawberry.type
class FeesInfo:
    total_eth: float
    total_usd: float
    one_day_volume_usd: float
    one_day_volume_eth: float
    one_week_volume_usd: float
    one_week_volume_eth: float
    volume_change_usd: float | None
    volume_change_eth: float | None
    weekly_volume_change_usd: float | None
    weekly_volume_change_eth: float | None
    day_data: list[FeeDayData]
    weekly_data: list[FeeWeeklyData]


@strawberry.type
class PipelineModelMins:
    model: str
    mins: float
    sessions: int
    avg_fps: float


@strawberry.type
class PipelineUsage:
    name: str
    mins: float
    sessions: int
    avg_fps: float
    color: str | None
    model_mins: list[PipelineModelMins] | None


@strawberry.type(description="Job totals of one AI-batch pipeline.")
class DashboardJobsByPipelineRow(DashboardJobsStats):
    pipeline: str


@strawberry.type(description="Job totals of one BYOC capability.")
class DashboardJobsByCapabilityRow(DashboardJobsStats):
    capability: str


@strawberry.type
class PipelineRequests:
    by_pipeline: list[DashboardJobsByPipelineRow] = strawberry.field(name="by_pipeline")
    by_capability: list[DashboardJobsByCapabilityRow] = strawberry.field(
        name="by_capability"
    )


@strawberry.type(description="The pipelines table: streaming usage and job totals.")
class PipelinesOverview:
    streaming: list[PipelineUsage]
    requests: PipelineRequests | None


@strawberry.type
class PipelineCatalogEntry:
    id: str
    name: str
    models: list[str]
    regions: list[str]


@strawberry.type
class GPUModelCapacity:
    model: str
    count: int


@strawberry.type
class GPUCapacityPipelineModel:
    model: str
    gpus: int


@strawberry.type
class GPUCapacityPipeline:
    name: str
    gpus: int
    models: list[GPUCapacityPipelineModel] | None


@strawberry.type
class GPUCapacity:
    total_gpus: int = strawberry.field(name="totalGPUs")
    active_gpus: int = strawberry.field(name="activeGPUs")
    available_capacity: float
    models: list[GPUModelCapacity]
    pipeline_gpus: list[GPUCapacityPipeline] = strawberry.field(name="pipelineGPUs")


@strawberry.type
class PipelinePricing:
    pipeline: str
    model: str | None = strawberry.field(description="Model name within the pipeline.")
    unit: str
    price: float = strawberry.field(description="Average wei per unit / 1e12.")
    avg_wei_per_unit: str | None = strawberry.field(
        description="Average wei per unit, integer string."
    )
    pixels_per_unit: float | None = strawberry.field(
        description="Billing step size in pixels."
    )
    output_per_dollar: str
    capacity: int | None = strawberry.field(
        description="Warm (else all) orchestrators for pipeline+model."
    )


@strawberry.type
class PipelineModelOffer:
    pipeline_id: str
    model_ids: list[str]


@strawberry.type
class OrchestratorRow:
    address: str
    uris: list[str]
    last_seen: str | None = strawberry.field(
        description="Latest registry last-seen time, ISO-8601 UTC."
    )
    known_sessions: int
    success_sessions: int
    success_ratio: float
    effective_success_rate: float | None
    no_swap_ratio: float | None
    sla_score: float | None
    pipelines: list[str]
    pipeline_models: list[PipelineModelOffer]
    gpu_count: int


@strawberry.type(description="One live stream in the job feed.")
class JobFeedEntry:
    id: str
    pipeline: str
    model: str | None
    status: str = strawberry.field(
        description="running, online, degraded_input, degraded_inference, "
        "degraded_output, degraded, completed, failed, or another upstream state."
    )
    started_at: str
    gateway: str | None
    orchestrator_url: str | None
    input_fps: float | None
    output_fps: float | None
    last_seen: str | None
    duration_seconds: float | None
    running_for: str | None
    latency_ms: float | None = strawberry.field(
        default=None, description="Reserved by the SDK; the upstream sends none."
    )


@strawberry.type
class JobFeed:
    streams: list[JobFeedEntry]
    clickhouse_configured: bool = strawberry.field(
        name="clickhouseConfigured", description="Legacy flag, always true."
    )
    query_failed: bool = strawberry.field(
        description="True when the upstream failed; streams is then empty."
    )


@strawberry.type(description="A pipeline/model offered on the network (PascalCase).")
class NetworkModel:
    pipeline: str = strawberry.field(name="Pipeline")
    model: str = strawberry.field(name="Model")
    warm_orch_count: int = strawberry.field(name="WarmOrchCount")
    total_capacity: int = strawberry.field(name="TotalCapacity")
    price_min_wei_per_pixel: float = strawberry.field(name="PriceMinWeiPerPixel")
    price_max_wei_per_pixel: float = strawberry.field(name="PriceMaxWeiPerPixel")
    price_avg_wei_per_pixel: float = strawberry.field(name="PriceAvgWeiPerPixel")


@strawberry.type
class NetworkModels:
    models: list[NetworkModel]
    count: int
    total: int
