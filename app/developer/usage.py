"""Usage's database work: the caller's totals per key and per UTC day, and
recording a usage row. resolvers/usage.py checks the caller and the input, then
calls these."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlmodel import col

from app.db import Database
from app.developer.models import DevApiKey, DevApiUsageLog, iso_ms
from app.errors import NotFound
from app.jsmath import to_fixed
from app.types.developer import DailyUsage, KeyUsage, Usage, UsageRecord


async def user_usage(
    db: Database, user_id: str, start: date | None, end: date | None
) -> Usage:
    """`start`/`end`: inclusive UTC dates, or None for no bound."""
    async with db.session() as session:
        keys = (
            (
                await session.execute(
                    sa.select(DevApiKey)
                    .where(col(DevApiKey.user_id) == user_id)
                    .order_by(col(DevApiKey.created_at), col(DevApiKey.id))
                )
            )
            .scalars()
            .all()
        )
        logs = (
            sa.select(DevApiUsageLog)
            .join(DevApiKey, col(DevApiKey.id) == col(DevApiUsageLog.api_key_id))
            .where(col(DevApiKey.user_id) == user_id)
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
    db: Database,
    key_id: str,
    *,
    requests: int,
    tokens: int,
    cost: float,
    moment: datetime,
) -> UsageRecord:
    """One usage row for the key; `NotFound` when there is no such key."""
    async with db.writer() as session:
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
