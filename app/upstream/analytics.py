"""Client for the NAAP Analytics API (`NAAP_API_SERVER_URL`, which includes `/v1`).

One method per upstream endpoint, named after it, returning the typed results of
`analytics_results` (re-exported here, so callers import them with the client).
"""

from __future__ import annotations

from app.upstream._analytics_parse import (
    list_of,
    parse_catalog_entry,
    parse_gpu_capacity,
    parse_kpi,
    parse_orchestrator,
    parse_pipelines,
    parse_price_row,
)
from app.upstream._analytics_rows import orch_inv, parse_job, parse_model_inv
from app.upstream._http import UpstreamClient
from app.upstream.analytics_results import (
    CatalogEntry,
    DashboardOrchestrator,
    GPUCapacity,
    HourlyBucket,
    JobFeedItem,
    JobsByKey,
    JobsOverview,
    JobsStats,
    KPIResult,
    MetricDelta,
    ModelCount,
    ModelInventory,
    OrchestratorInventory,
    PipelineGPUs,
    PipelineModelMins,
    PipelineModels,
    PipelinesResult,
    PipelineUsage,
    PriceRow,
    StreamingKPI,
)

__all__ = [
    "AnalyticsClient",
    "CatalogEntry",
    "DashboardOrchestrator",
    "GPUCapacity",
    "HourlyBucket",
    "JobFeedItem",
    "JobsByKey",
    "JobsOverview",
    "JobsStats",
    "KPIResult",
    "MetricDelta",
    "ModelCount",
    "ModelInventory",
    "OrchestratorInventory",
    "PipelineGPUs",
    "PipelineModelMins",
    "PipelineModels",
    "PipelineUsage",
    "PipelinesResult",
    "PriceRow",
    "StreamingKPI",
]


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
        return await self._http.get("dashboard/kpi", params, parse=parse_kpi)

    async def dashboard_pipelines(self, *, limit: int, window: str) -> PipelinesResult:
        params = {"limit": str(limit), "window": window}
        return await self._http.get(
            "dashboard/pipelines",
            params,
            parse=parse_pipelines,
        )

    async def dashboard_orchestrators(
        self, *, window: str
    ) -> list[DashboardOrchestrator]:
        return await self._http.get(
            "dashboard/orchestrators",
            {"window": window},
            parse=list_of(parse_orchestrator, "dashboard/orchestrators"),
        )

    async def dashboard_gpu_capacity(self) -> GPUCapacity:
        # The upstream ignores `window` (a fixed 24 h inventory), so none is sent and
        # every timeframe shares one call.
        return await self._http.get(
            "dashboard/gpu-capacity",
            None,
            parse=parse_gpu_capacity,
        )

    async def dashboard_pipeline_catalog(self) -> list[CatalogEntry]:
        return await self._http.get(
            "dashboard/pipeline-catalog",
            None,
            parse=list_of(parse_catalog_entry, "dashboard/pipeline-catalog"),
        )

    async def dashboard_pricing(self) -> list[PriceRow]:
        # Go serialises an empty price list as `null`: read as an empty list.
        return await self._http.get(
            "dashboard/pricing",
            None,
            parse=list_of(parse_price_row, "dashboard/pricing", null_is_empty=True),
        )

    async def dashboard_job_feed(self, *, limit: int = 50) -> list[JobFeedItem]:
        return await self._http.get(
            "dashboard/job-feed",
            {"limit": str(limit)},
            parse=list_of(parse_job, "dashboard/job-feed"),
        )

    async def streaming_models(self) -> list[ModelInventory]:
        return await self._http.get(
            "streaming/models",
            None,
            parse=list_of(parse_model_inv, "streaming/models"),
        )

    async def requests_models(self) -> list[ModelInventory]:
        return await self._http.get(
            "requests/models",
            None,
            parse=list_of(parse_model_inv, "requests/models"),
        )

    async def streaming_orchestrators(self) -> list[OrchestratorInventory]:
        return await self._http.get(
            "streaming/orchestrators",
            None,
            parse=list_of(orch_inv("models"), "streaming/orchestrators"),
        )

    async def requests_orchestrators(self) -> list[OrchestratorInventory]:
        return await self._http.get(
            "requests/orchestrators",
            None,
            parse=list_of(orch_inv("capabilities"), "requests/orchestrators"),
        )
