"""Usage: totals, per key and per UTC day for the caller's keys,
and `recordUsage`, written by the metering service (role `usage:write`).

The database work is in app/developer/usage.py, imported inside each resolver:
the database stack loads on first use, never at startup.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

import strawberry

from app.context import Context
from app.errors import BadRequest, Forbidden
from app.types.developer import Usage, UsageRecord

USAGE_WRITE_ROLE = "usage:write"
# RFC 3339 (what OpenAPI's `date` and `date-time` formats mean), ASCII digits only.
_FULL_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_DATE_TIME = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]"
    r"(\.[0-9]+)?([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])"
)
MAX_COUNT = 1_000_000_000


def _parse_day(raw: str | None, field: str) -> date | None:
    """An RFC 3339 full-date, or a date-time counted by its UTC date (a moment
    before year 1 or after 9999 in UTC is the first or last day); empty = none."""
    if raw is None or raw == "":
        return None
    try:
        if _FULL_DATE.fullmatch(raw):
            return date.fromisoformat(raw)
        if not _DATE_TIME.fullmatch(raw):
            raise ValueError(raw)
        moment = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(
            f"{field} must be an ISO 8601 UTC date, e.g. 2026-05-01"
        ) from exc
    try:
        return moment.astimezone(UTC).date()
    except OverflowError:  # past year 1 or 9999 once in UTC
        offset = moment.utcoffset()
        return date.min if offset is not None and offset > timedelta(0) else date.max


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
    from app.developer import usage as stored

    return await stored.user_usage(ctx.db, user.sub, start, end)


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
    from app.developer import usage as stored

    return await stored.record_usage(
        ctx.db, key_id, requests=requests, tokens=tokens, cost=cost, moment=moment
    )
