"""`fees`: fee volume by day and by Monday-based week, with changes.

The latest day (week) is usually still running, so the headline shows the last
complete one and compares it with the one before. Rounding follows the original
(`Math.round(x*100)/100`; daily values unrounded).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.inputs import fees_days
from app.jsmath import round_dp
from app.types.dashboard import FeeDayData, FeesInfo, FeeWeeklyData
from app.upstream.subgraph import FeesOverview

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FeesArgs:
    days: int


def fees_args(days: int | None = None) -> FeesArgs:
    return FeesArgs(fees_days(days))


async def fees(
    info: strawberry.Info[Context, None], days: int | None = None
) -> FeesInfo | None:
    value: FeesInfo = await info.context.snapshot(FEES_FIELD.spec, fees_args(days))
    return value


async def load_fees(ctx: Context, args: FeesArgs) -> FeesInfo:
    with unavailable_as("Fees data is unavailable"):
        overview = await ctx.subgraph.fees_overview(first=args.days)
    return build_fees(overview, ctx.now())


FEES_FIELD = PublicField(
    SnapshotSpec("fees", "dashboard", load_fees, FeesInfo), fees_args
)


@dataclass(frozen=True, slots=True)
class _Week:
    start: int
    eth: float
    usd: float


def week_start(day_start_s: float) -> int:
    """Unix seconds of the Monday 00:00 UTC on or before the given instant."""
    day = datetime.fromtimestamp(day_start_s, UTC)
    midnight = day.replace(hour=0, minute=0, second=0, microsecond=0)
    return int((midnight - timedelta(days=midnight.weekday())).timestamp())


def percent_change(current: float, previous: float) -> float:
    if not math.isfinite(current) or not math.isfinite(previous):
        return 0.0
    if previous == 0:
        return 0.0 if current == 0 else 100.0
    return (current - previous) / previous * 100


def build_fees(overview: FeesOverview, now: datetime) -> FeesInfo:
    days = sorted(
        (d for d in overview.days if math.isfinite(d.date)), key=lambda d: d.date
    )
    day_data = [
        FeeDayData(date_s=int(d.date), volume_eth=d.volume_eth, volume_usd=d.volume_usd)
        for d in days
    ]
    weeks = _weeks(day_data)

    midnight = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    today = int(midnight.timestamp())
    day_open = bool(day_data) and day_data[-1].date_s >= today
    week_open = bool(weeks) and weeks[-1].start >= week_start(today)
    shown_day, base_day = _shown_and_base(day_data, day_open)
    shown_week, base_week = _shown_and_base(weeks, week_open)

    def change(cur: float | None, prev: float | None) -> float | None:
        if cur is None or prev is None:
            return None
        return round_dp(percent_change(cur, prev), 2)

    day_usd = shown_day.volume_usd if shown_day else None
    day_eth = shown_day.volume_eth if shown_day else None
    week_usd = shown_week.usd if shown_week else None
    week_eth = shown_week.eth if shown_week else None
    total_eth = overview.total_volume_eth
    total_usd = overview.total_volume_usd
    return FeesInfo(
        total_eth=round_dp(
            total_eth if total_eth is not None else sum(d.volume_eth for d in days), 2
        ),
        total_usd=round_dp(
            total_usd if total_usd is not None else sum(d.volume_usd for d in days), 2
        ),
        one_day_volume_usd=round_dp(day_usd or 0, 2),
        one_day_volume_eth=round_dp(day_eth or 0, 2),
        one_week_volume_usd=round_dp(week_usd or 0, 2),
        one_week_volume_eth=round_dp(week_eth or 0, 2),
        volume_change_usd=change(day_usd, base_day.volume_usd if base_day else None),
        volume_change_eth=change(day_eth, base_day.volume_eth if base_day else None),
        weekly_volume_change_usd=change(week_usd, base_week.usd if base_week else None),
        weekly_volume_change_eth=change(week_eth, base_week.eth if base_week else None),
        day_data=day_data,
        weekly_data=[
            FeeWeeklyData(
                date=w.start, weekly_volume_usd=w.usd, weekly_volume_eth=w.eth
            )
            for w in weeks
        ],
    )


def _weeks(day_data: list[FeeDayData]) -> list[_Week]:
    sums: dict[int, list[float]] = {}
    for day in day_data:
        bucket = sums.setdefault(week_start(day.date_s), [0.0, 0.0])
        bucket[0] += day.volume_eth
        bucket[1] += day.volume_usd
    return [
        _Week(start=start, eth=round_dp(eth, 2), usd=round_dp(usd, 2))
        for start, (eth, usd) in sorted(sums.items())
    ]


def _shown_and_base(
    items: Sequence[T], latest_incomplete: bool
) -> tuple[T | None, T | None]:
    """The period to show (the last complete one: the latest if complete, else the
    one before) and the period before it, to compare with."""
    shown_index = len(items) - 2 if latest_incomplete else len(items) - 1
    shown = items[shown_index] if shown_index >= 0 else None
    base = items[shown_index - 1] if shown_index - 1 >= 0 else None
    return shown, base
