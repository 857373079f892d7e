"""`pipelines` / `pipelinesOverview`: the pipeline usage table.

Per-model minutes come straight from the upstream's `modelMins` (for every
pipeline), instead of the original's up-to-30 extra KPI calls.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.inputs import format_window, timeframe_hours
from app.inputs import limit as clamp_limit
from app.types.dashboard import (
    DashboardJobsByCapabilityRow,
    DashboardJobsByPipelineRow,
    PipelineModelMins,
    PipelineRequests,
    PipelinesOverview,
    PipelineUsage,
)
from app.upstream import analytics as up

DEFAULT_LIMIT = 5
DEFAULT_COLOR = "#6366f1"
PIPELINE_COLORS = {
    "text-to-image": "#f59e0b",
    "image-to-image": "#8b5cf6",
    "image-to-video": "#3b82f6",
    "upscale": "#84cc16",
    "audio-to-text": "#06b6d4",
    "segment-anything-2": "#f97316",
    "llm": "#a855f7",
    "image-to-text": "#ec4899",
    "live-video-to-video": "#10b981",
    "text-to-speech": "#14b8a6",
    "openai-chat-completions": "#8b5cf6",
    "openai-image-generation": "#f59e0b",
    "openai-text-embeddings": "#3b82f6",
    "text-to-video": "#ec4899",
    "text-to-audio": "#14b8a6",
}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class OverviewArgs:
    limit: int
    hours: int


def overview_args(
    limit: int | None = None, timeframe: str | None = None
) -> OverviewArgs:
    return OverviewArgs(clamp_limit(limit, DEFAULT_LIMIT), timeframe_hours(timeframe))


async def pipelines(
    info: strawberry.Info[Context, None],
    limit: int | None = None,
    timeframe: str | None = None,
) -> list[PipelineUsage] | None:
    args = overview_args(limit, timeframe)
    overview: PipelinesOverview = await info.context.snapshot(OVERVIEW, args)
    return overview.streaming


async def pipelines_overview(
    info: strawberry.Info[Context, None],
    limit: int | None = None,
    timeframe: str | None = None,
) -> PipelinesOverview | None:
    overview: PipelinesOverview = await info.context.snapshot(
        OVERVIEW, overview_args(limit, timeframe)
    )
    return overview


async def load_overview(ctx: Context, args: OverviewArgs) -> PipelinesOverview:
    with unavailable_as("Pipelines data is unavailable"):
        result = await ctx.analytics.dashboard_pipelines(
            limit=args.limit, window=format_window(args.hours)
        )
    requests = None
    if result.by_pipeline is not None and result.by_capability is not None:
        requests = PipelineRequests(
            by_pipeline=[_by_pipeline(r) for r in result.by_pipeline],
            by_capability=[_by_capability(r) for r in result.by_capability],
        )
    return PipelinesOverview(
        streaming=[_usage(row) for row in result.streaming], requests=requests
    )


# `pipelines` is the `streaming` part of `pipelinesOverview`: one snapshot for both.
OVERVIEW = SnapshotSpec(
    "pipelinesOverview", "dashboard", load_overview, PipelinesOverview
)
PIPELINES_FIELD = PublicField(OVERVIEW, overview_args)


def pipeline_color(name: str) -> str:
    return PIPELINE_COLORS.get(
        _WHITESPACE.sub("-", name.strip().lower()), DEFAULT_COLOR
    )


def _usage(row: up.PipelineUsage) -> PipelineUsage:
    return PipelineUsage(
        name=row.name,
        mins=row.mins,
        sessions=row.sessions,
        avg_fps=row.avg_fps,
        color=pipeline_color(row.name),
        model_mins=None
        if not row.model_mins
        else [
            PipelineModelMins(
                model=m.model, mins=m.mins, sessions=m.sessions, avg_fps=m.avg_fps
            )
            for m in sorted(row.model_mins, key=lambda m: -m.mins)
        ],
    )


def _by_pipeline(row: up.JobsByKey) -> DashboardJobsByPipelineRow:
    return DashboardJobsByPipelineRow(pipeline=row.key, **asdict(row.stats))


def _by_capability(row: up.JobsByKey) -> DashboardJobsByCapabilityRow:
    return DashboardJobsByCapabilityRow(capability=row.key, **asdict(row.stats))
