"""`networkModels`: pipeline/model pairs with capacity and prices."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import UpstreamUnavailable
from app.netmodels import network_models as merge_network_models
from app.types.dashboard import NetworkModel, NetworkModels

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


@dataclass(frozen=True, slots=True)
class NoArgs:
    """Every `limit` is a slice of one snapshot: the whole list."""


def network_models_args(limit: int | None = None, all: bool = False) -> NoArgs:
    del limit, all  # applied to the snapshot by the resolver
    return NoArgs()


async def network_models(
    info: strawberry.Info[Context, None],
    limit: int | None = None,
    all: bool = False,
) -> NetworkModels | None:
    """`limit`: absent or < 1 -> 50; otherwise at most 200. `all: true` lists all."""
    rows: list[NetworkModel] = await info.context.snapshot(
        NETWORK_MODELS_FIELD.spec, NoArgs()
    )
    count = DEFAULT_LIMIT if limit is None or limit < 1 else min(limit, MAX_LIMIT)
    if all:
        count = len(rows)
    shown = rows[:count]
    return NetworkModels(models=shown, count=len(shown), total=len(rows))


async def load_network_models(ctx: Context, args: NoArgs) -> list[NetworkModel]:
    streaming, requests, prices = await asyncio.gather(
        ctx.optional(ctx.analytics.streaming_models(), "streaming/models"),
        ctx.optional(ctx.analytics.requests_models(), "requests/models"),
        ctx.optional(ctx.analytics.dashboard_pricing(), "pricing"),
    )
    if streaming is None and requests is None:
        raise UpstreamUnavailable("Network models data is unavailable")
    rows = merge_network_models(streaming or [], requests or [], prices or [])
    return [
        NetworkModel(
            pipeline=m.pipeline,
            model=m.model,
            warm_orch_count=m.warm_orch_count,
            total_capacity=m.total_capacity,
            price_min_wei_per_pixel=m.price_min,
            price_max_wei_per_pixel=m.price_max,
            price_avg_wei_per_pixel=m.price_avg,
        )
        for m in rows
    ]


NETWORK_MODELS_FIELD = PublicField(
    SnapshotSpec("networkModels", "dashboard", load_network_models, list[NetworkModel]),
    network_models_args,
)
