"""The REST route table: one row per documented JSON route. Data only.

Each row: path -> named GraphQL operation (operations/<Name>.graphql) -> how each
query parameter becomes a variable -> which part of `data` is the body -> envelope
-> Cache-Control rule. `refresh=1` / `nocache=1` work on every row (no-store and a
real bypass of stored upstream results).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from starlette.datastructures import QueryParams

from app.cache import CachePolicy
from rest_facade import params as p
from rest_facade.envelope import BARE, Envelope


class CacheRule(Protocol):
    def success(self, query: QueryParams) -> CachePolicy: ...

    def failure(self, query: QueryParams) -> CachePolicy: ...


@dataclass(frozen=True, slots=True)
class RestRoute:
    path: str
    operation: str
    pick: str
    params: Mapping[str, p.Param] = field(default_factory=dict)
    envelope: Envelope = BARE
    cache: CacheRule = field(default_factory=p.DashboardCache)
    methods: tuple[str, ...] = ("GET",)
    summary: str = ""


_TIMEFRAME = p.Param("timeframe", p.timeframe, "Window in hours, 1-168 (default 24).")

ROUTES: tuple[RestRoute, ...] = (
    RestRoute(
        "/api/v1/dashboard/kpi",
        "DashboardKPI",
        pick="kpi",
        params={
            "timeframe": _TIMEFRAME,
            "pipeline": p.Param("pipeline", p.identifier("pipeline")),
            "model_id": p.Param("model_id", p.identifier("model_id")),
        },
        summary="KPI tiles and hourly usage charts",
    ),
    RestRoute(
        "/api/v1/dashboard/pipelines",
        "DashboardPipelines",
        pick="pipelinesOverview",
        params={"timeframe": _TIMEFRAME, "limit": p.Param("limit", p.limit(5))},
        summary="Pipeline usage table",
    ),
    RestRoute(
        "/api/v1/dashboard/pipeline-catalog",
        "DashboardPipelineCatalog",
        pick="pipelineCatalog",
        summary="Pipeline / model catalog",
    ),
    RestRoute(
        "/api/v1/dashboard/orchestrators",
        "DashboardOrchestrators",
        pick="orchestrators",
        params={"period": p.Param("period", p.period, "N, Nh or Nd; 1-168 h.")},
        summary="Orchestrator table",
    ),
    RestRoute(
        "/api/v1/dashboard/protocol",
        "DashboardProtocol",
        pick="protocol",
        summary="Protocol stats strip",
    ),
    RestRoute(
        "/api/v1/dashboard/gpu-capacity",
        "DashboardGPUCapacity",
        pick="gpuCapacity",
        params={"timeframe": _TIMEFRAME},
        summary="GPU capacity",
    ),
    RestRoute(
        "/api/v1/dashboard/pricing",
        "DashboardPricing",
        pick="pricing",
        summary="Per-pipeline pricing and capacity hints",
    ),
    RestRoute(
        "/api/v1/dashboard/fees",
        "DashboardFees",
        pick="fees",
        params={"days": p.Param("days", p.days, "Integer 7-365 (default 180).")},
        summary="Fees / volume chart",
    ),
    RestRoute(
        "/api/v1/dashboard/job-feed",
        "DashboardJobFeed",
        pick="jobFeed",
        cache=p.JobFeedCache(),
        summary="Live job list (max-age follows pollMs)",
    ),
)
