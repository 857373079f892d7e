"""The network's pipeline/model inventory, merged from three upstream lists.

Used by the pipeline catalog, pricing and `networkModels`. Pure functions over
already-fetched rows: callers fetch each upstream list once per request and pass
the same rows to every helper that needs them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.jsmath import js_round, locale_key
from app.upstream.analytics import ModelInventory, PriceRow


@dataclass(slots=True)
class NetModel:
    pipeline: str
    model: str
    warm_orch_count: int
    total_capacity: int
    price_min: float = 0
    price_max: float = 0
    price_avg: float = 0


@dataclass(slots=True)
class PriceStats:
    """Per pipeline:model aggregate of orchestrators' latest prices."""

    low: float
    high: float
    total: float = 0.0
    count: int = 0
    warm_count: int = 0
    pixels_per_unit: float | None = None
    orch_addresses: list[str] = field(default_factory=list)

    @property
    def avg(self) -> float:
        return self.total / self.count


def model_key(pipeline: str, model: str | None) -> str:
    return f"{pipeline}:{model or ''}"


def price_stats(rows: list[PriceRow]) -> dict[str, tuple[str, str | None, PriceStats]]:
    """Group positive prices by pipeline:model, in first-seen order."""
    groups: dict[str, tuple[str, str | None, PriceStats]] = {}
    for row in rows:
        pipeline = row.pipeline.strip()
        model = (row.model or "").strip() or None
        price = row.price_wei_per_unit
        if price <= 0 or not pipeline:
            continue
        key = model_key(pipeline, model)
        if key not in groups:
            groups[key] = (pipeline, model, PriceStats(low=price, high=price))
        stats = groups[key][2]
        stats.low = min(stats.low, price)
        stats.high = max(stats.high, price)
        stats.total += price
        stats.count += 1
        stats.warm_count += row.is_warm
        stats.orch_addresses.append(row.orch_address)
        if stats.pixels_per_unit is None and (row.pixels_per_unit or 0) > 0:
            stats.pixels_per_unit = row.pixels_per_unit
    return groups


def network_models(
    streaming: list[ModelInventory],
    requests: list[ModelInventory],
    prices: list[PriceRow],
) -> list[NetModel]:
    """getRawNetModels: one row per pipeline:model, prices rounded like Math.round."""
    merged: dict[str, NetModel] = {}
    for row in [*streaming, *requests]:
        pipeline, model = row.pipeline.strip(), row.model.strip()
        if not pipeline or not model:
            continue
        key = model_key(pipeline, model)
        known = merged.get(key)
        if known is None:
            merged[key] = NetModel(pipeline, model, row.warm_orch_count, row.gpu_slots)
        else:
            known.warm_orch_count = max(known.warm_orch_count, row.warm_orch_count)
            known.total_capacity = max(known.total_capacity, row.gpu_slots)
    for key, (_, _, stats) in price_stats(prices).items():
        net = merged.get(key)
        if net is not None:
            net.price_min = js_round(stats.low)
            net.price_max = js_round(stats.high)
            net.price_avg = js_round(stats.avg)
    return sorted(
        merged.values(), key=lambda m: (locale_key(m.pipeline), locale_key(m.model))
    )


def net_capacity(models: list[NetModel]) -> dict[str, int]:
    """resolveNetCapacity: warm orchestrators per pipeline:model."""
    capacity: dict[str, int] = {}
    for m in models:
        if m.pipeline.strip() and m.warm_orch_count >= 0:
            key = model_key(m.pipeline, m.model)
            capacity[key] = capacity.get(key, 0) + m.warm_orch_count
    return capacity


def fps_by_model(streaming: list[ModelInventory]) -> dict[str, float]:
    """resolvePerfByModel: 24 h average output FPS per pipeline:model."""
    return {
        model_key(row.pipeline.strip(), row.model.strip()): row.avg_fps
        for row in streaming
        if row.pipeline.strip() and row.model.strip() and row.avg_fps is not None
    }
