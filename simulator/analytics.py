"""The NAAP Analytics endpoints (`/v1/<key>`): endpoint key -> payload builder.

Query parameters are parsed the way the Go handlers parse them: integers as
strconv.Atoi reads them, the first of repeated values, and anything unparsable or
out of range replaced by the default rather than refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Final

from starlette.datastructures import QueryParams

from simulator.world import SimWorld

DEFAULT_WINDOW_HOURS: Final = 24
MAX_WINDOW_HOURS: Final = 168
PIPELINES_LIMIT: Final = (5, 20)  # (default, cap)
JOB_FEED_LIMIT: Final = (50, 200)

_GO_INT: Final = re.compile(r"[+-]?\d+")
_INT64_MAX: Final = 2**63 - 1


def _atoi(text: str) -> int | None:
    """strconv.Atoi: an optional sign and decimal digits only; None on failure."""
    if not _GO_INT.fullmatch(text):
        return None
    number = int(text)
    return number if -_INT64_MAX - 1 <= number <= _INT64_MAX else None


def parse_window_hours(raw: str | None) -> int:
    """`<n>h`, `<n>d` or bare hours; non-positive or unparsable -> 24; max 168."""
    text = (raw or "").strip()
    if text.endswith("d"):
        days = _atoi(text[:-1])
        hours = None if days is None else days * 24
    else:
        hours = _atoi(text.removesuffix("h"))
    if hours is None or hours <= 0:
        return DEFAULT_WINDOW_HOURS
    return min(hours, MAX_WINDOW_HOURS)


def parse_limit(raw: str | None, *, default: int, cap: int) -> int:
    """A positive integer capped at `cap`; anything else -> `default`."""
    number = _atoi((raw or "").strip())
    if number is None or number <= 0:
        return default
    return min(number, cap)


def _param(query: QueryParams, name: str) -> str | None:
    # Go's Query().Get returns the first value; Starlette's .get the last.
    values = query.getlist(name)
    return values[0] if values else None


Builder = Callable[[SimWorld, datetime, QueryParams], object]


def _kpi(world: SimWorld, now: datetime, query: QueryParams) -> object:
    hours = parse_window_hours(_param(query, "window"))
    pipeline = _param(query, "pipeline") or ""
    return world.kpi(now, hours, pipeline, _param(query, "model_id") or "")


def _pipelines(world: SimWorld, now: datetime, query: QueryParams) -> object:
    default, cap = PIPELINES_LIMIT
    limit = parse_limit(_param(query, "limit"), default=default, cap=cap)
    return world.pipelines(now, parse_window_hours(_param(query, "window")), limit)


def _orchestrators(world: SimWorld, now: datetime, query: QueryParams) -> object:
    return world.orchestrators_table(now, parse_window_hours(_param(query, "window")))


def _job_feed(world: SimWorld, now: datetime, query: QueryParams) -> object:
    default, cap = JOB_FEED_LIMIT
    return world.job_feed(
        now, parse_limit(_param(query, "limit"), default=default, cap=cap)
    )


def _fixed(view: Callable[[SimWorld, datetime], object]) -> Builder:
    """Endpoints with no parameters (gpu-capacity ignores `window`, the inventory
    endpoints ignore `limit`), as upstream does."""
    return lambda world, now, _query: view(world, now)


ANALYTICS_ENDPOINTS: Final[Mapping[str, Builder]] = {
    "dashboard/kpi": _kpi,
    "dashboard/pipelines": _pipelines,
    "dashboard/orchestrators": _orchestrators,
    "dashboard/gpu-capacity": _fixed(SimWorld.gpu_capacity),
    "dashboard/pipeline-catalog": _fixed(SimWorld.pipeline_catalog),
    "dashboard/pricing": _fixed(SimWorld.pricing),
    "dashboard/job-feed": _job_feed,
    "streaming/models": _fixed(SimWorld.streaming_models),
    "streaming/orchestrators": _fixed(SimWorld.streaming_orchestrators),
    "requests/models": _fixed(SimWorld.requests_models),
    "requests/orchestrators": _fixed(SimWorld.requests_orchestrators),
}
