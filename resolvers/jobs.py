"""`jobFeed`: the live job list. Never an error: a failed upstream call is
reported in-band (`queryFailed: true`, empty `streams`), as the dashboard expects.

`subscription { jobFeed }` pushes the same list through the feed hub (app/live):
each event is turned into GraphQL objects once, then executed per subscriber.
"""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import ServiceUnavailable, UpstreamUnavailable
from app.inputs import limit as clamp_limit
from app.live.events import FeedEvent
from app.live.hub import FeedClosed
from app.types.dashboard import JobFeed, JobFeedEntry
from app.types.live import (
    JobFeedChange,
    JobFeedDelta,
    JobFeedEvent,
    JobFeedSnapshot,
    JobFeedStatus,
)
from app.upstream.analytics import JobFeedItem

log = logging.getLogger("naap.resolvers.jobs")

DEFAULT_LIMIT = 50


@dataclass(frozen=True, slots=True)
class JobFeedArgs:
    limit: int


def job_feed_args(limit: int | None = None) -> JobFeedArgs:
    return JobFeedArgs(clamp_limit(limit, DEFAULT_LIMIT))


async def job_feed(
    info: strawberry.Info[Context, None], limit: int | None = None
) -> JobFeed:
    feed: JobFeed = await info.context.snapshot(
        JOB_FEED_FIELD.spec, job_feed_args(limit)
    )
    return feed


async def load_job_feed(ctx: Context, args: JobFeedArgs) -> JobFeed:
    try:
        items = await ctx.analytics.dashboard_job_feed(limit=args.limit)
    except UpstreamUnavailable as exc:
        log.warning("job feed unavailable: %s (kind=%s)", exc, exc.kind)
        ctx.degraded.append("dashboard/job-feed")
        return JobFeed(streams=[], clickhouse_configured=True, query_failed=True)
    return JobFeed(
        streams=[to_entry(item) for item in items],
        clickhouse_configured=True,
        query_failed=False,
    )


JOB_FEED_FIELD = PublicField(
    SnapshotSpec("jobFeed", "job_feed", load_job_feed, JobFeed), job_feed_args
)


def to_entry(item: JobFeedItem) -> JobFeedEntry:
    duration = item.duration_seconds
    if duration is None:
        duration = _elapsed_seconds(item.started_at, item.last_seen)
    running_for = item.running_for
    if running_for is None and duration is not None:
        running_for = running_for_text(duration)
    return JobFeedEntry(
        id=item.id,
        pipeline=item.pipeline,
        model=item.model,
        status=item.state,
        started_at=item.started_at,
        gateway=item.gateway,
        orchestrator_url=item.orchestrator_url,
        input_fps=item.input_fps,
        output_fps=item.output_fps,
        last_seen=item.last_seen,
        duration_seconds=duration,
        running_for=running_for,
    )


def running_for_text(seconds: float) -> str:
    """`1h 2m 5s`, `1m 7s` or `23s` from whole seconds."""
    total = math.floor(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours > 0:
        return f"{hours}h {minutes}m {secs}s"
    if minutes > 0:
        return f"{minutes}m {secs}s"
    return f"{secs}s"


def _elapsed_seconds(started_at: str, last_seen: str | None) -> float | None:
    if last_seen is None:
        return None
    try:
        start = datetime.fromisoformat(started_at.replace("Z", "+00:00"))
        end = datetime.fromisoformat(last_seen.replace("Z", "+00:00"))
    except ValueError:
        return None
    if (start.tzinfo is None) != (end.tzinfo is None):
        return None
    return float(max(0, math.floor((end - start).total_seconds())))


# --- push ----------------------------------------------------------------------------
async def job_feed_events(
    info: strawberry.Info[Context, None], limit: int | None = None
) -> AsyncGenerator[JobFeedEvent, None]:
    """A snapshot, then deltas and statuses as the feed changes; the stream ends
    when the server shuts down."""
    hub = info.context.services.live
    try:
        subscriber = hub.subscribe(job_feed_args(limit).limit)
    except FeedClosed as exc:
        raise ServiceUnavailable(str(exc)) from exc
    try:
        while True:
            item = await subscriber.next()
            if item is None:
                return
            if isinstance(item, FeedEvent):
                yield as_graphql(item)
    finally:
        hub.unsubscribe(subscriber)


def as_graphql(event: FeedEvent) -> JobFeedEvent:
    """The event's GraphQL object, built once and shared by every subscriber."""
    built: JobFeedEvent | None = event.memo.get("graphql")
    if built is None:
        built = event.memo["graphql"] = _build(event.kind, event.payload)
    return built


def _build(kind: str, data: Mapping[str, Any]) -> JobFeedEvent:
    if kind == "snapshot":
        return JobFeedSnapshot(
            seq=data["seq"],
            keys=list(data["keys"]),
            streams=[_entry(e) for e in data["streams"]],
            stale=data["stale"],
            last_success_at=data["lastSuccessAt"],
        )
    if kind == "delta":
        return JobFeedDelta(
            seq=data["seq"],
            added=[
                JobFeedChange(key=c["key"], stream=_entry(c["stream"]))
                for c in data["added"]
            ],
            updated=[
                JobFeedChange(key=c["key"], stream=_entry(c["stream"]))
                for c in data["updated"]
            ],
            removed=list(data["removed"]),
        )
    return JobFeedStatus(
        seq=data["seq"], stale=data["stale"], last_success_at=data["lastSuccessAt"]
    )


def _entry(data: Mapping[str, Any]) -> JobFeedEntry:
    """An entry of the REST body (camelCase, every selected field) as the type."""
    return JobFeedEntry(
        id=data["id"],
        pipeline=data["pipeline"],
        model=data["model"],
        status=data["status"],
        started_at=data["startedAt"],
        gateway=data["gateway"],
        orchestrator_url=data["orchestratorUrl"],
        input_fps=data["inputFps"],
        output_fps=data["outputFps"],
        last_seen=data["lastSeen"],
        duration_seconds=data["durationSeconds"],
        running_for=data["runningFor"],
    )
