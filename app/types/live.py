"""Strawberry types of the job feed's push events (`subscription { jobFeed }`).

The same three events as the SSE stream, typed: a snapshot (first, and after any
resync), a delta (rows added, updated or removed, by stable key) and a status
(the data went stale, or is fresh again). Entries are the query's `JobFeedEntry`.
Each event keeps, out of the schema, its executions per selection (`executed`):
subscribers asking for the same fields share one (app/schema.py).
"""

from __future__ import annotations

from dataclasses import field
from typing import Annotated, Any

import strawberry

from app.types.dashboard import JobFeedEntry


@strawberry.type(description="The whole list: first, and after any resync.")
class JobFeedSnapshot:
    seq: int
    keys: list[str] = strawberry.field(
        description="The stable key of each stream, in the order of `streams`."
    )
    streams: list[JobFeedEntry]
    stale: bool = strawberry.field(
        description="True while the upstream fails: the list is the last good one."
    )
    last_success_at: str | None
    executed: strawberry.Private[dict[Any, Any]] = field(default_factory=dict)


@strawberry.type(
    description="A stream that appeared, or whose material fields changed."
)
class JobFeedChange:
    key: str
    stream: JobFeedEntry


@strawberry.type(description="What changed since the event before (`seq` order).")
class JobFeedDelta:
    seq: int
    added: list[JobFeedChange]
    updated: list[JobFeedChange]
    removed: list[str] = strawberry.field(description="Keys of streams that ended.")
    executed: strawberry.Private[dict[Any, Any]] = field(default_factory=dict)


@strawberry.type(description="The upstream failed (stale) or answers again.")
class JobFeedStatus:
    seq: int
    stale: bool
    last_success_at: str | None
    executed: strawberry.Private[dict[Any, Any]] = field(default_factory=dict)


JobFeedEvent = Annotated[
    JobFeedSnapshot | JobFeedDelta | JobFeedStatus,
    strawberry.union("JobFeedEvent", description="One job feed event."),
]
