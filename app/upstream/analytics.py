"""Client for the NAAP Analytics API (`NAAP_API_SERVER_URL`, which includes `/v1`).

One method per upstream endpoint, named after it, returning typed dataclasses.
Wire shapes: spec §12.3 and the upstream's OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

from app.errors import UpstreamBadPayload
from app.upstream._http import UpstreamClient
from app.upstream._parse import (
    RowError,
    expect_list,
    expect_object,
    integer,
    num,
    obj,
    opt_num,
    opt_text,
    parse_rows,
    text,
    text_list,
)

UPSTREAM = "analytics"
T = TypeVar("T")


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


class AnalyticsClient(UpstreamClient):
    """`GET {NAAP_API_SERVER_URL}/<path>`; any method may raise UpstreamUnavailable."""

    async def dashboard_kpi(
        self,
        *,
        window: str,
        pipeline: str | None = None,
        model_id: str | None = None,
    ) -> KPIResult:
        params = {"window": window}
        if pipeline:
            params["pipeline"] = pipeline
        if model_id:
            params["model_id"] = model_id
        return await self._http.get("dashboard/kpi", params, parse=_parse_kpi)

    async def dashboard_pipelines(self, *, limit: int, window: str) -> PipelinesResult:
        params = {"limit": str(limit), "window": window}
        return await self._http.get(
            "dashboard/pipelines",
            params,
            parse=_parse_pipelines,
        )

    async def dashboard_orchestrators(
        self, *, window: str
    ) -> list[DashboardOrchestrator]:
        return await self._http.get(
            "dashboard/orchestrators",
            {"window": window},
            parse=_list_of(_parse_orchestrator, "dashboard/orchestrators"),
        )

    async def dashboard_gpu_capacity(self) -> GPUCapacity:
        # The upstream ignores `window` (a fixed 24 h inventory), so none is sent and
        # every timeframe shares one call (spec §13 item 13).
        return await self._http.get(
            "dashboard/gpu-capacity",
            None,
            parse=_parse_gpu_capacity,
        )

    async def dashboard_pipeline_catalog(self) -> list[CatalogEntry]:
        return await self._http.get(
            "dashboard/pipeline-catalog",
            None,
            parse=_list_of(_parse_catalog_entry, "dashboard/pipeline-catalog"),
        )

    async def dashboard_pricing(self) -> list[PriceRow]:
        # Go serialises an empty price list as `null` (spec §13 item 8).
        return await self._http.get(
            "dashboard/pricing",
            None,
            parse=_list_of(_parse_price_row, "dashboard/pricing", null_is_empty=True),
        )

    async def dashboard_job_feed(self, *, limit: int = 50) -> list[JobFeedItem]:
        return await self._http.get(
            "dashboard/job-feed",
            {"limit": str(limit)},
            parse=_list_of(_parse_job, "dashboard/job-feed"),
        )

    async def streaming_models(self) -> list[ModelInventory]:
        return await self._http.get(
            "streaming/models",
            None,
            parse=_list_of(_parse_model_inv, "streaming/models"),
        )

    async def requests_models(self) -> list[ModelInventory]:
        return await self._http.get(
            "requests/models",
            None,
            parse=_list_of(_parse_model_inv, "requests/models"),
        )

    async def streaming_orchestrators(self) -> list[OrchestratorInventory]:
        return await self._http.get(
            "streaming/orchestrators",
            None,
            parse=_list_of(_orch_inv("models"), "streaming/orchestrators"),
        )

    async def requests_orchestrators(self) -> list[OrchestratorInventory]:
        return await self._http.get(
            "requests/orchestrators",
            None,
            parse=_list_of(_orch_inv("capabilities"), "requests/orchestrators"),
        )


def _list_of(
    parse_row: Callable[[Any], T], what: str, *, null_is_empty: bool = False
) -> Callable[[Any], list[T]]:
    """A body parser: a JSON array (strict), each row parsed (tolerant)."""

    def parse(body: Any) -> list[T]:
        rows = expect_list(body, what, UPSTREAM, null_is_empty=null_is_empty)
        return parse_rows(rows, parse_row, what)

    return parse


def _bad(what: str, exc: Exception) -> UpstreamBadPayload:
    return UpstreamBadPayload(f"{what}: {exc}", upstream=UPSTREAM)


def _delta(row: Mapping[str, Any], key: str) -> MetricDelta:
    value = obj(row.get(key), key)
    return MetricDelta(value=num(value, "value"), delta=num(value, "delta"))


def _buckets(row: Mapping[str, Any], key: str) -> list[HourlyBucket] | None:
    items = row.get(key)
    if items is None:
        return None  # Go omits empty series
    if not isinstance(items, list):
        raise RowError(f"{key}: expected a list")
    return [HourlyBucket(text(obj(b), "hour"), num(obj(b), "value")) for b in items]


def _stats(row: Mapping[str, Any]) -> JobsStats:
    return JobsStats(
        total_jobs=integer(row, "total_jobs"),
        selected_jobs=integer(row, "selected_jobs"),
        no_orch_jobs=integer(row, "no_orch_jobs"),
        success_rate=num(row, "success_rate"),
        avg_duration_ms=num(row, "avg_duration_ms"),
    )


def _parse_kpi(raw: Any) -> KPIResult:
    what = "dashboard/kpi"
    body = expect_object(raw, what, UPSTREAM)
    streaming = body.get("streaming")
    # Current upstream: {streaming, requests}; a legacy upstream sent the KPI flat.
    kpi = streaming if isinstance(streaming, Mapping) else body
    requests_raw = body.get("requests") if isinstance(streaming, Mapping) else None
    try:
        streaming_kpi = StreamingKPI(
            success_rate=_delta(kpi, "successRate"),
            orchestrators_observed=_delta(kpi, "orchestratorsObserved"),
            daily_usage_mins=_delta(kpi, "dailyUsageMins"),
            daily_session_count=_delta(kpi, "dailySessionCount"),
            daily_network_fees_eth=_delta(kpi, "dailyNetworkFeesEth"),
            timeframe_hours=integer(kpi, "timeframeHours"),
            hourly_usage=_buckets(kpi, "hourlyUsage"),
            hourly_sessions=_buckets(kpi, "hourlySessions"),
        )
        requests = None
        if requests_raw:
            block = obj(requests_raw, "requests")
            requests = JobsOverview(
                ai_batch=_stats(obj(block.get("ai_batch"), "ai_batch")),
                byoc=_stats(obj(block.get("byoc"), "byoc")),
            )
    except RowError as exc:
        raise _bad(what, exc) from exc
    return KPIResult(streaming=streaming_kpi, requests=requests)


def _parse_model_mins(row: Any) -> PipelineModelMins:
    row = obj(row)
    return PipelineModelMins(
        model=text(row, "model"),
        mins=num(row, "mins"),
        sessions=integer(row, "sessions"),
        avg_fps=num(row, "avgFps"),
    )


def _parse_usage(row: Any) -> PipelineUsage:
    row = obj(row)
    model_mins = row.get("modelMins")
    if model_mins is not None and not isinstance(model_mins, list):
        raise RowError("modelMins: expected a list")
    return PipelineUsage(
        name=text(row, "name"),
        mins=num(row, "mins"),
        sessions=integer(row, "sessions"),
        avg_fps=num(row, "avgFps"),
        model_mins=None
        if model_mins is None
        else parse_rows(model_mins, _parse_model_mins, "dashboard/pipelines modelMins"),
    )


def _jobs_by(key: str) -> Any:
    def parse(row: Any) -> JobsByKey:
        row = obj(row)
        return JobsByKey(key=text(row, key), stats=_stats(row))

    return parse


def _parse_pipelines(body: Any) -> PipelinesResult:
    what = "dashboard/pipelines"
    if isinstance(body, list):  # legacy upstream: the streaming rows alone
        return PipelinesResult(parse_rows(body, _parse_usage, what), None, None)
    body = expect_object(body, what, UPSTREAM)
    streaming = expect_list(body.get("streaming"), what + " streaming", UPSTREAM)
    requests = body.get("requests")
    if not isinstance(requests, Mapping):
        return PipelinesResult(parse_rows(streaming, _parse_usage, what), None, None)
    by_pipeline = expect_list(
        requests.get("by_pipeline"), what, UPSTREAM, null_is_empty=True
    )
    by_capability = expect_list(
        requests.get("by_capability"), what, UPSTREAM, null_is_empty=True
    )
    return PipelinesResult(
        streaming=parse_rows(streaming, _parse_usage, what),
        by_pipeline=parse_rows(by_pipeline, _jobs_by("pipeline"), what),
        by_capability=parse_rows(by_capability, _jobs_by("capability"), what),
    )


def _parse_pipeline_models(row: Any) -> PipelineModels:
    row = obj(row)
    return PipelineModels(text(row, "pipelineId"), text_list(row, "modelIds"))


def _parse_orchestrator(row: Any) -> DashboardOrchestrator:
    row = obj(row)
    offers = row.get("pipelineModels") or []
    if not isinstance(offers, list):
        raise RowError("pipelineModels: expected a list")
    return DashboardOrchestrator(
        address=text(row, "address"),
        service_uri=opt_text(row, "serviceUri") or opt_text(row, "service_uri"),
        known_sessions=integer(row, "knownSessions"),
        success_sessions=integer(row, "successSessions"),
        success_ratio=opt_num(row, "successRatio"),
        effective_success_rate=opt_num(row, "effectiveSuccessRate"),
        no_swap_ratio=opt_num(row, "noSwapRatio"),
        sla_score=opt_num(row, "slaScore"),
        pipelines=text_list(row, "pipelines", optional=True),
        pipeline_models=[_parse_pipeline_models(o) for o in offers],
        gpu_count=integer(row, "gpuCount"),
    )


def _parse_model_count(key: str) -> Any:
    def parse(row: Any) -> ModelCount:
        row = obj(row)
        return ModelCount(text(row, "model"), integer(row, key))

    return parse


def _parse_gpu_capacity(raw: Any) -> GPUCapacity:
    try:
        return _gpu_capacity(obj(raw))
    except RowError as exc:
        raise _bad("dashboard/gpu-capacity", exc) from exc


def _gpu_capacity(body: Mapping[str, Any]) -> GPUCapacity:
    models = body.get("models") or []
    pipelines = body.get("pipelineGPUs") or []
    if not isinstance(models, list) or not isinstance(pipelines, list):
        raise RowError("models/pipelineGPUs: expected lists")
    what = "dashboard/gpu-capacity"

    def parse_pipeline(row: Any) -> PipelineGPUs:
        row = obj(row)
        sub = row.get("models")
        if sub is not None and not isinstance(sub, list):
            raise RowError("models: expected a list")
        return PipelineGPUs(
            name=text(row, "name"),
            gpus=integer(row, "gpus"),
            models=None
            if sub is None
            else parse_rows(sub, _parse_model_count("gpus"), what),
        )

    return GPUCapacity(
        total_gpus=integer(body, "totalGPUs"),
        active_gpus=integer(body, "activeGPUs"),
        available_capacity=num(body, "availableCapacity"),
        models=parse_rows(models, _parse_model_count("count"), what),
        pipeline_gpus=parse_rows(pipelines, parse_pipeline, what),
    )


def _parse_catalog_entry(row: Any) -> CatalogEntry:
    row = obj(row)
    entry_id = text(row, "id")
    return CatalogEntry(
        id=entry_id,
        name=opt_text(row, "name") or entry_id,
        models=text_list(row, "models", optional=True),
        regions=text_list(row, "regions", optional=True),
    )


def _parse_price_row(row: Any) -> PriceRow:
    row = obj(row)
    pixels = opt_num(row, "pixelsPerUnit")
    return PriceRow(
        orch_address=opt_text(row, "orchAddress") or "",
        pipeline=text(row, "pipeline"),
        model=opt_text(row, "model"),
        price_wei_per_unit=num(row, "priceWeiPerUnit"),
        pixels_per_unit=pixels,
        is_warm=row.get("isWarm") is True,
    )


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    """JavaScript `a ?? b ?? c`: the first key present and not null."""
    for key in keys:
        value = row.get(key)
        if value is not None:
            return value
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _fnum(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str) and value.strip():
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if parsed == parsed and abs(parsed) != float("inf") else None
    return None


def _parse_job(row: Any) -> JobFeedItem:
    """The original's JobFeedEntry mapper: many spellings, first present wins (§3.9)."""
    row = obj(row)
    job_id = _str(_first(row, "id", "stream_id", "streamId", "job_id", "jobId"))
    pipeline = _str(
        _first(
            row,
            "pipeline",
            "pipeline_slug",
            "pipeline_id",
            "pipelineSlug",
            "Pipeline",
            "pipelineId",
        )
    )
    started_at = _str(
        _first(
            row,
            "firstSeen",
            "first_seen",
            "startedAt",
            "started_at",
            "created_at",
            "CreatedAt",
        )
    )
    if job_id is None or pipeline is None or started_at is None:
        raise RowError("a job needs an id, a pipeline and a start time")
    state = _first(row, "state", "status", "State", "stream_state")
    duration = _fnum(_first(row, "durationSeconds", "duration_seconds"))
    running_for = _first(row, "runningFor", "running_for")
    return JobFeedItem(
        id=job_id,
        pipeline=pipeline,
        model=_str(_first(row, "model", "model_id", "modelId", "Model")),
        state=(state.strip().lower() if isinstance(state, str) else "") or "unknown",
        started_at=started_at,
        gateway=_str(_first(row, "gateway", "gateway_url", "gatewayHost", "Gateway")),
        orchestrator_url=_str(
            _first(
                row,
                "orchestratorUrl",
                "orchestrator_url",
                "orchestratorURL",
                "orchestrator",
            )
        ),
        input_fps=_fnum(_first(row, "inputFps", "input_fps", "InputFps")),
        output_fps=_fnum(_first(row, "outputFps", "output_fps", "OutputFps")),
        last_seen=_str(_first(row, "lastSeen", "last_seen", "updated_at", "UpdatedAt")),
        duration_seconds=duration if duration is not None and duration >= 0 else None,
        running_for=running_for if isinstance(running_for, str) else None,
    )


def _parse_model_inv(row: Any) -> ModelInventory:
    row = obj(row)
    pipeline = _first(row, "pipeline", "Pipeline")
    model = _first(row, "model", "Model")
    if not isinstance(pipeline, str) or not isinstance(model, str):
        raise RowError("pipeline/model: expected strings")
    aliased = {
        "warm": _first(row, "warm_orch_count", "WarmOrchCount"),
        "slots": _first(row, "gpu_slots", "GpuSlots"),
        "fps": _first(row, "avg_fps", "AvgFPS"),
    }
    return ModelInventory(
        pipeline=pipeline,
        model=model,
        warm_orch_count=integer(aliased, "warm") if aliased["warm"] is not None else 0,
        gpu_slots=integer(aliased, "slots") if aliased["slots"] is not None else 0,
        avg_fps=opt_num(aliased, "fps"),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        # Go's RFC3339Nano carries up to 9 fractional digits; Python takes 6.
        head, dot, rest = value.partition(".")
        if dot:
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits) :]
            value = f"{head}.{digits[:6]}{zone}"
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A time without an offset is UTC (the upstream only speaks UTC); keeping every
    # value aware lets the inventories' times be compared.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _orch_inv(offers_key: str) -> Callable[[Any], OrchestratorInventory]:
    """streaming/orchestrators lists `models`; requests/orchestrators `capabilities`."""

    def parse(row: Any) -> OrchestratorInventory:
        row = obj(row)
        gpu_count = row.get("gpu_count")
        return OrchestratorInventory(
            address=text(row, "address"),
            uri=opt_text(row, "uri"),
            offers=text_list(row, offers_key, optional=True),
            gpu_count=0 if gpu_count is None else integer(row, "gpu_count"),
            last_seen=_parse_time(row.get("last_seen")),
        )

    return parse
