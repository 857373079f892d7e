"""`kpi`: the KPI tiles and hourly charts, passed through from the upstream."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Annotated

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.inputs import format_window, identifier, window_hours
from app.types.dashboard import (
    KPI,
    DashboardJobsOverview,
    DashboardJobsStats,
    HourlyBucket,
    MetricDelta,
)
from app.upstream import analytics as up


@dataclass(frozen=True, slots=True)
class KpiArgs:
    hours: int
    pipeline: str | None
    model_id: str | None


def kpi_args(
    window: str | None = None,
    timeframe: str | None = None,
    pipeline: str | None = None,
    model_id: str | None = None,
) -> KpiArgs:
    return KpiArgs(
        hours=window_hours(window, timeframe),
        pipeline=identifier(pipeline, "pipeline"),
        model_id=identifier(model_id, "model_id"),
    )


async def load_kpi(ctx: Context, args: KpiArgs) -> KPI:
    with unavailable_as("KPI data is unavailable"):
        result = await ctx.analytics.dashboard_kpi(
            window=format_window(args.hours),
            pipeline=args.pipeline,
            model_id=args.model_id,
        )
    return to_kpi(result)


KPI_FIELD = PublicField(SnapshotSpec("kpi", "dashboard", load_kpi, KPI), kpi_args)


async def kpi(
    info: strawberry.Info[Context, None],
    window: str | None = None,
    timeframe: str | None = None,
    pipeline: str | None = None,
    # The SDK spells this argument in snake_case; it is the wire contract.
    model_id: Annotated[str | None, strawberry.argument(name="model_id")] = None,
) -> KPI | None:
    args = kpi_args(window, timeframe, pipeline, model_id)
    value: KPI = await info.context.snapshot(KPI_FIELD.spec, args)
    return value


def to_kpi(result: up.KPIResult) -> KPI:
    s = result.streaming
    return KPI(
        success_rate=_delta(s.success_rate),
        orchestrators_observed=_delta(s.orchestrators_observed),
        daily_usage_mins=_delta(s.daily_usage_mins),
        daily_session_count=_delta(s.daily_session_count),
        daily_network_fees_eth=_delta(s.daily_network_fees_eth),
        timeframe_hours=s.timeframe_hours,
        hourly_usage=_buckets(s.hourly_usage),
        hourly_sessions=_buckets(s.hourly_sessions),
        requests=None if result.requests is None else _overview(result.requests),
    )


def _delta(metric: up.MetricDelta) -> MetricDelta:
    return MetricDelta(value=metric.value, delta=metric.delta)


def _buckets(buckets: list[up.HourlyBucket] | None) -> list[HourlyBucket] | None:
    if buckets is None:
        return None
    return [HourlyBucket(hour=b.hour, value=b.value) for b in buckets]


def _stats(stats: up.JobsStats) -> DashboardJobsStats:
    # The upstream dataclass and the GraphQL type share their field names.
    return DashboardJobsStats(**asdict(stats))


def _overview(overview: up.JobsOverview) -> DashboardJobsOverview:
    return DashboardJobsOverview(
        ai_batch=_stats(overview.ai_batch), byoc=_stats(overview.byoc)
    )
