"""`pricing`: average price per pipeline/model with a capacity hint.

The upstream's per-orchestrator price rows are required; the model inventories
only refine `capacity` and add priced models the price list lacks. Rows without a
`model` are kept (model null) instead of silently dropped, and an upstream
`null` list (Go's empty list) is an empty one.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.jsmath import js_round, to_fixed
from app.netmodels import model_key, net_capacity, network_models, price_stats
from app.types.dashboard import PipelinePricing

LIVE_VIDEO = "live-video-to-video"
UNITS = {"llm": "token", "audio-to-text": "second", "text-to-speech": "second"}


@dataclass(frozen=True, slots=True)
class NoArgs:
    """Pricing takes no arguments: one snapshot for everyone."""


def pricing_args() -> NoArgs:
    return NoArgs()


async def pricing(
    info: strawberry.Info[Context, None],
) -> list[PipelinePricing] | None:
    rows: list[PipelinePricing] = await info.context.snapshot(
        PRICING_FIELD.spec, NoArgs()
    )
    return rows


async def load_pricing(ctx: Context, args: NoArgs) -> list[PipelinePricing]:
    with unavailable_as("Pipeline unit cost data is unavailable"):
        prices, streaming, requests = await asyncio.gather(
            ctx.analytics.dashboard_pricing(),
            ctx.optional(ctx.analytics.streaming_models(), "streaming/models"),
            ctx.optional(ctx.analytics.requests_models(), "requests/models"),
        )
    models = network_models(streaming or [], requests or [], prices)
    capacity = net_capacity(models)
    eth_usd = ctx.settings.eth_usd_price

    rows: list[PipelinePricing] = []
    for key, (pipeline, model, stats) in price_stats(prices).items():
        orch_like = stats.warm_count if stats.warm_count > 0 else stats.count
        if pipeline == LIVE_VIDEO and orch_like > 0:
            cap = orch_like
        else:
            cap = capacity.get(key, orch_like)
        rows.append(
            _row(pipeline, model, stats.avg, stats.pixels_per_unit, cap, eth_usd)
        )
    seen = {model_key(r.pipeline, r.model) for r in rows}
    for m in models:
        key = model_key(m.pipeline, m.model)
        if m.price_avg <= 0 or key in seen:
            continue
        if m.pipeline == LIVE_VIDEO and m.warm_orch_count > 0:
            cap = m.warm_orch_count
        else:
            cap = capacity.get(key, m.total_capacity or m.warm_orch_count)
        rows.append(_row(m.pipeline, m.model, m.price_avg, None, cap, eth_usd))
    rows.sort(key=lambda r: -r.price)  # stable: ties keep first-seen order
    return rows


PRICING_FIELD = PublicField(
    SnapshotSpec("pricing", "dashboard", load_pricing, list[PipelinePricing]),
    pricing_args,
)


def _row(
    pipeline: str,
    model: str | None,
    avg_wei: float,
    pixels_per_unit: float | None,
    capacity: int,
    eth_usd: float,
) -> PipelinePricing:
    unit = UNITS.get(pipeline, "pixel")
    return PipelinePricing(
        pipeline=pipeline,
        model=model,
        unit=unit,
        price=avg_wei / 1e12,
        avg_wei_per_unit=str(js_round(avg_wei)),
        pixels_per_unit=pixels_per_unit if (pixels_per_unit or 0) > 0 else None,
        output_per_dollar=output_per_dollar(avg_wei, unit, eth_usd),
        capacity=capacity,
    )


def output_per_dollar(avg_wei: float, unit: str, eth_usd: float) -> str:
    """How many units one US dollar buys, e.g. `~149B pixels` (the original's rule:
    the wei price is read as per single unit, ignoring `pixelsPerUnit`)."""
    if avg_wei <= 0 or eth_usd <= 0:
        return ""
    units = 1e18 / (eth_usd * avg_wei)
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if units >= scale:
            return f"~{to_fixed(units / scale, 0)}{suffix} {unit}s"
    return f"~{to_fixed(units, 0)} {unit}s"
