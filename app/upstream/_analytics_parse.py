"""Parsers from the NAAP Analytics API's dashboard bodies to the typed results.

`list_of` makes a body parser from a row parser: strict about the body's shape,
tolerant about its rows (see `_parse`). The job feed's and the inventories' rows
are parsed in `_analytics_rows`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from app.errors import UpstreamBadPayload
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
from app.upstream.analytics_results import (
    CatalogEntry,
    DashboardOrchestrator,
    GPUCapacity,
    HourlyBucket,
    JobsByKey,
    JobsOverview,
    JobsStats,
    KPIResult,
    MetricDelta,
    ModelCount,
    PipelineGPUs,
    PipelineModelMins,
    PipelineModels,
    PipelinesResult,
    PipelineUsage,
    PriceRow,
    StreamingKPI,
)

UPSTREAM = "analytics"
T = TypeVar("T")


def list_of(
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


def parse_kpi(raw: Any) -> KPIResult:
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


def parse_pipelines(body: Any) -> PipelinesResult:
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


def parse_orchestrator(row: Any) -> DashboardOrchestrator:
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


def parse_gpu_capacity(raw: Any) -> GPUCapacity:
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


def parse_catalog_entry(row: Any) -> CatalogEntry:
    row = obj(row)
    entry_id = text(row, "id")
    return CatalogEntry(
        id=entry_id,
        name=opt_text(row, "name") or entry_id,
        models=text_list(row, "models", optional=True),
        regions=text_list(row, "regions", optional=True),
    )


def parse_price_row(row: Any) -> PriceRow:
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
