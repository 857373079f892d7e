"""The typed results of the NAAP Analytics API client, one group per endpoint.

Field names are snake_case; the parsers in `_analytics_parse` map the upstream's
wire spellings onto them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


# --- dashboard/kpi -----------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class MetricDelta:
    value: float
    delta: float


@dataclass(frozen=True, slots=True)
class HourlyBucket:
    hour: str
    value: float


@dataclass(frozen=True, slots=True)
class StreamingKPI:
    success_rate: MetricDelta
    orchestrators_observed: MetricDelta
    daily_usage_mins: MetricDelta
    daily_session_count: MetricDelta
    daily_network_fees_eth: MetricDelta
    timeframe_hours: int
    hourly_usage: list[HourlyBucket] | None
    hourly_sessions: list[HourlyBucket] | None


@dataclass(frozen=True, slots=True)
class JobsStats:
    total_jobs: int
    selected_jobs: int
    no_orch_jobs: int
    success_rate: float
    avg_duration_ms: float


@dataclass(frozen=True, slots=True)
class JobsOverview:
    ai_batch: JobsStats
    byoc: JobsStats


@dataclass(frozen=True, slots=True)
class KPIResult:
    streaming: StreamingKPI
    requests: JobsOverview | None


# --- dashboard/pipelines -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PipelineModelMins:
    model: str
    mins: float
    sessions: int
    avg_fps: float


@dataclass(frozen=True, slots=True)
class PipelineUsage:
    name: str
    mins: float
    sessions: int
    avg_fps: float
    model_mins: list[PipelineModelMins] | None


@dataclass(frozen=True, slots=True)
class JobsByKey:
    """A by_pipeline (key = pipeline) or by_capability (key = capability) row."""

    key: str
    stats: JobsStats


@dataclass(frozen=True, slots=True)
class PipelinesResult:
    streaming: list[PipelineUsage]
    by_pipeline: list[JobsByKey] | None  # None: the upstream sent no requests block
    by_capability: list[JobsByKey] | None


# --- dashboard/orchestrators ---------------------------------------------------------
@dataclass(frozen=True, slots=True)
class PipelineModels:
    pipeline_id: str
    model_ids: list[str]


@dataclass(frozen=True, slots=True)
class DashboardOrchestrator:
    address: str
    service_uri: str | None
    known_sessions: int
    success_sessions: int
    success_ratio: float | None
    effective_success_rate: float | None
    no_swap_ratio: float | None
    sla_score: float | None
    pipelines: list[str]
    pipeline_models: list[PipelineModels]
    gpu_count: int


# --- dashboard/gpu-capacity ----------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelCount:
    model: str
    count: int


@dataclass(frozen=True, slots=True)
class PipelineGPUs:
    name: str
    gpus: int
    models: list[ModelCount] | None


@dataclass(frozen=True, slots=True)
class GPUCapacity:
    total_gpus: int
    active_gpus: int
    available_capacity: float
    models: list[ModelCount]
    pipeline_gpus: list[PipelineGPUs]


# --- dashboard/pipeline-catalog, dashboard/pricing -----------------------------------
@dataclass(frozen=True, slots=True)
class CatalogEntry:
    id: str
    name: str
    models: list[str]
    regions: list[str]


@dataclass(frozen=True, slots=True)
class PriceRow:
    """One orchestrator's latest price for a pipeline/model."""

    orch_address: str
    pipeline: str
    model: str | None
    price_wei_per_unit: float
    pixels_per_unit: float | None
    is_warm: bool


# --- dashboard/job-feed --------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class JobFeedItem:
    id: str
    pipeline: str
    model: str | None
    state: str
    started_at: str
    gateway: str | None
    orchestrator_url: str | None
    input_fps: float | None
    output_fps: float | None
    last_seen: str | None
    duration_seconds: float | None
    running_for: str | None


# --- inventories ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ModelInventory:
    """A streaming/models or requests/models row."""

    pipeline: str
    model: str
    warm_orch_count: int
    gpu_slots: int
    avg_fps: float | None  # streaming/models only


@dataclass(frozen=True, slots=True)
class OrchestratorInventory:
    """A streaming/orchestrators (offers = models) or requests/orchestrators row."""

    address: str
    uri: str | None
    offers: list[str]
    gpu_count: int
    last_seen: datetime | None
