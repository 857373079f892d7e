"""Usage: totals, per key and per UTC day for the caller's keys,
and `recordUsage`, written by the metering service (role `usage:write`)."""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.context import Context
from app.developer.models import DevApiKey, DevApiUsageLog, iso_ms
from app.errors import BadRequest, Forbidden, NotFound
from app.jsmath import to_fixed
from app.types.developer import (
    DailyUsage,
    KeyUsage,
    Usage,
    UsageRecord,
)

USAGE_WRITE_ROLE = "usage:write"
MAX_COUNT = 1_000_000_000


def _parse_day(raw: str | None, field: str) -> date | None:
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        if moment.tzinfo is not None:
            moment = moment.astimezone(UTC)  # OverflowError past year 1 or 9999
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            f"{field} must be an ISO 8601 UTC date, e.g. 2026-05-01"
        ) from exc
    return moment.date()


def _parse_time(raw: str | None, default: datetime) -> datetime:
    if raw is None:
        return default
    try:
        moment = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)  # OverflowError past year 1 or 9999
    except (ValueError, OverflowError) as exc:
        raise BadRequest(
            "at must be an ISO 8601 time, e.g. 2026-05-01T10:00:00Z"
        ) from exc


async def usage(
    info: strawberry.Info[Context, None],
    from_date: Annotated[str | None, strawberry.argument(name="from")] = None,
    to_date: Annotated[str | None, strawberry.argument(name="to")] = None,
) -> Usage:
    """`from`/`to`: inclusive UTC dates (a full timestamp counts by its UTC date)."""
    ctx = info.context
    user = await ctx.user()
    start = _parse_day(from_date, "from")
    end = _parse_day(to_date, "to")
    if start and end and start > end:
        raise BadRequest("from must not be after to")
    async with ctx.db.session() as session:
        keys = (
            (
                await session.execute(
                    sa.select(DevApiKey)
                    .where(col(DevApiKey.user_id) == user.sub)
                    .order_by(col(DevApiKey.created_at), col(DevApiKey.id))
                )
            )
            .scalars()
            .all()
        )
        logs = (
            sa.select(DevApiUsageLog)
            .join(DevApiKey, col(DevApiKey.id) == col(DevApiUsageLog.api_key_id))
            .where(col(DevApiKey.user_id) == user.sub)
        )
        if start:
            logs = logs.where(
                col(DevApiUsageLog.timestamp) >= datetime.combine(start, time(), UTC)
            )
        if end:
            after = datetime.combine(end + timedelta(days=1), time(), UTC)
            logs = logs.where(col(DevApiUsageLog.timestamp) < after)
        rows = (await session.execute(logs)).scalars().all()

    per_key: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    per_day: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0.0])
    for log in rows:
        day = (iso_ms(log.timestamp) or "")[:10]
        for bucket in (per_key[log.api_key_id], per_day[day]):
            bucket[0] += log.request_count
            bucket[1] += log.tokens_used
            bucket[2] += log.cost_incurred
    total_cost = sum(v[2] for v in per_key.values())
    return Usage(
        total_keys=len(keys),
        active_keys=sum(k.status == "ACTIVE" for k in keys),
        total_requests=int(sum(v[0] for v in per_key.values())),
        total_cost=to_fixed(total_cost, 4),
        keys=[
            KeyUsage(
                id=k.id,
                prefix=k.key_prefix,
                requests=int(per_key[k.id][0]),
                tokens=int(per_key[k.id][1]),
                cost=per_key[k.id][2],
            )
            for k in keys
        ],
        daily=[
            DailyUsage(date=d, requests=int(v[0]), tokens=int(v[1]), cost=v[2])
            for d, v in sorted(per_day.items())
        ],
    )


async def record_usage(
    info: strawberry.Info[Context, None],
    key_id: str,
    requests: int = 1,
    tokens: int = 0,
    cost: float = 0.0,
    at: Annotated[
        str | None,
        strawberry.argument(description="ISO 8601 time; default now (UTC)."),
    ] = None,
) -> UsageRecord:
    ctx = info.context
    principal = await ctx.user(write=True)
    if not principal.has_role(USAGE_WRITE_ROLE):
        raise Forbidden(f"Recording usage needs the {USAGE_WRITE_ROLE} role")
    for field, value in (("requests", requests), ("tokens", tokens)):
        if not 0 <= value <= MAX_COUNT:
            raise BadRequest(f"{field} must be between 0 and {MAX_COUNT}")
    if not math.isfinite(cost) or cost < 0:
        raise BadRequest("cost must be a non-negative number")
    moment = _parse_time(at, ctx.now())
    async with ctx.db.writer() as session:
        key = await session.get(DevApiKey, key_id)
        if key is None:
            raise NotFound("API key not found")
        row = DevApiUsageLog(
            api_key_id=key.id,
            request_count=requests,
            tokens_used=tokens,
            cost_incurred=cost,
            timestamp=moment,
        )
        session.add(row)
        await session.flush()
    return UsageRecord(
        id=row.id,
        key_id=key.id,
        requests=row.request_count,
        tokens=row.tokens_used,
        cost=row.cost_incurred,
        at=iso_ms(moment) or "",
    )
