"""`networkModels`: pipeline/model pairs with capacity and prices (§8.10)."""

from __future__ import annotations

import asyncio

import strawberry

from app.context import Context
from app.errors import UpstreamUnavailable
from app.netmodels import network_models as merge_network_models
from app.types.dashboard import NetworkModel, NetworkModels

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


async def network_models(
    info: strawberry.Info[Context, None],
    limit: int | None = None,
    all: bool = False,
) -> NetworkModels | None:
    """`limit`: absent or < 1 -> 50; otherwise at most 200. `all: true` lists all."""
    ctx = info.context
    bypass = ctx.bypass_cache
    streaming, requests, prices = await asyncio.gather(
        ctx.optional(ctx.analytics.streaming_models(bypass=bypass), "streaming/models"),
        ctx.optional(ctx.analytics.requests_models(bypass=bypass), "requests/models"),
        ctx.optional(ctx.analytics.dashboard_pricing(bypass=bypass), "pricing"),
    )
    if streaming is None and requests is None:
        raise UpstreamUnavailable("Network models data is unavailable")
    rows = merge_network_models(streaming or [], requests or [], prices or [])
    count = DEFAULT_LIMIT if limit is None or limit < 1 else min(limit, MAX_LIMIT)
    if all:
        count = len(rows)
    shown = [
        NetworkModel(
            pipeline=m.pipeline,
            model=m.model,
            warm_orch_count=m.warm_orch_count,
            total_capacity=m.total_capacity,
            price_min_wei_per_pixel=m.price_min,
            price_max_wei_per_pixel=m.price_max,
            price_avg_wei_per_pixel=m.price_avg,
        )
        for m in rows[:count]
    ]
    return NetworkModels(models=shown, count=len(shown), total=len(rows))
