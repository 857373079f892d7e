"""The inventory views, which look back a fixed 24 hours whatever the request says:
`dashboard/gpu-capacity`, `dashboard/pipeline-catalog`, `dashboard/pricing`, and
`streaming/*` and `requests/*` (models and orchestrators).

They list what the orchestrators seen in that time offer; the streaming views also
count the streams in flight, and the orchestrator lists use the inventory's own
(mixed-case) address spelling and last heartbeat.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Final

from simulator.catalogue import (
    BUILTIN,
    LIVE_MODELS,
    LIVE_PIPELINE,
    REQUEST_MODELS,
    ModelSpec,
)
from simulator.hours import DemandTotals, JobTotals
from simulator.orchestrators import Offer, Orchestrator
from simulator.streams import Streams
from simulator.traffic import Traffic
from simulator.units import JSON, epoch_us, rfc3339_nano

INVENTORY_HOURS: Final = 24


def gpu_capacity(traffic: Traffic, streams: Streams, now: datetime) -> JSON:
    now_us = epoch_us(now)
    hardware: dict[tuple[str, str], str] = {}
    per_pipeline: dict[str, dict[str, set[tuple[str, str]]]] = {}
    for node in traffic.observed(now_us, INVENTORY_HOURS):
        names = {gpu.gpu_id: gpu.name for gpu in node.gpus}
        for offer in node.offers:
            for gpu_id in offer.gpu_ids:
                key = (node.address, gpu_id)
                hardware[key] = names[gpu_id]
                models = per_pipeline.setdefault(offer.pipeline, {})
                models.setdefault(offer.model, set()).add(key)
    counts: dict[str, int] = {}
    for name in hardware.values():
        counts[name] = counts.get(name, 0) + 1
    active = len(
        {(s.orchestrator.address, s.gpu_id) for s in streams.in_flight(now_us)}
    )
    pipelines: list[JSON] = []
    for name, models in per_pipeline.items():
        gpus: set[tuple[str, str]] = set()
        for keys in models.values():
            gpus |= keys
        rows = sorted(
            ((m, len(k)) for m, k in models.items()),
            key=lambda item: (-item[1], item[0]),
        )
        pipelines.append(
            {
                "name": name,
                "gpus": len(gpus),
                "models": [{"model": m, "gpus": n} for m, n in rows],
            }
        )
    pipelines.sort(key=lambda row: (-row["gpus"], row["name"]))
    return {
        "totalGPUs": len(hardware),
        "activeGPUs": active,
        "availableCapacity": max(0, len(hardware) - active),
        "models": [
            {"model": name, "count": count}
            for name, count in sorted(counts.items(), key=lambda i: (-i[1], i[0]))
        ],
        "pipelineGPUs": pipelines,
    }


def pipeline_catalog(traffic: Traffic, now: datetime) -> list[JSON]:
    catalog: dict[str, set[str]] = {}
    for node in traffic.observed(epoch_us(now), INVENTORY_HOURS):
        for offer in node.offers:
            if offer.warm:
                catalog.setdefault(offer.pipeline, set()).add(offer.model)
    return [
        {"id": p, "name": p, "models": sorted(catalog[p]), "regions": []}
        for p in sorted(catalog)
    ]


def pricing(traffic: Traffic, now: datetime) -> list[JSON] | None:
    rows = [
        {
            "orchAddress": node.address,
            "orchName": node.host,
            "pipeline": offer.pipeline,
            "model": offer.model,
            "priceWeiPerUnit": offer.price_wei_per_unit,
            "pixelsPerUnit": offer.pixels_per_unit,
            "isWarm": offer.warm,
        }
        for node in traffic.observed(epoch_us(now), INVENTORY_HOURS)
        for offer in node.offers
    ]
    rows.sort(key=lambda r: (r["orchAddress"], r["pipeline"], r["model"]))
    return rows or None  # Go: a nil slice encodes as null


# streaming/* and requests/*


def streaming_models(traffic: Traffic, streams: Streams, now: datetime) -> list[JSON]:
    now_us = epoch_us(now)
    usage: dict[str, DemandTotals] = {}
    for hour in traffic.window(now_us, INVENTORY_HOURS):
        for cell in hour.demand:
            if cell.pipeline == LIVE_PIPELINE:
                usage.setdefault(cell.model, DemandTotals()).add(cell)
    active: dict[str, int] = {}
    for stream in streams.in_flight(now_us):
        active[stream.model] = active.get(stream.model, 0) + 1
    observed = traffic.observed(now_us, INVENTORY_HOURS)
    rows: list[JSON] = []
    for spec in LIVE_MODELS:
        warm = [
            offer
            for node in observed
            for offer in node.live_offers
            if offer.model == spec.model and offer.warm
        ]
        if not warm:
            continue
        slots = sum(len(offer.gpu_ids) for offer in warm)
        running = active.get(spec.model, 0)
        rows.append(
            {
                "pipeline": LIVE_PIPELINE,
                "model": spec.model,
                "warm_orch_count": len(warm),
                "gpu_slots": slots,
                "active_streams": running,
                "available_capacity": slots - running,
                "avg_fps": round(usage.get(spec.model, DemandTotals()).avg_fps, 1),
            }
        )
    rows.sort(key=lambda row: (-row["warm_orch_count"], row["model"]))
    return rows


def requests_models(traffic: Traffic, now: datetime) -> list[JSON]:
    now_us = epoch_us(now)
    jobs: dict[tuple[str, str], JobTotals] = {}
    for hour in traffic.window(now_us, INVENTORY_HOURS):
        for cell in hour.jobs:
            jobs.setdefault((cell.pipeline, cell.model), JobTotals()).add(cell)
    offers: dict[ModelSpec, list[Offer]] = {}
    for node in traffic.observed(now_us, INVENTORY_HOURS):
        for offer in node.request_offers:
            offers.setdefault(offer.spec, []).append(offer)
    rows: list[JSON] = []
    for spec in REQUEST_MODELS:
        if spec not in offers:
            continue
        warm = [offer for offer in offers[spec] if offer.warm]
        stats = jobs.get((spec.pipeline, spec.model), JobTotals()).stats()
        rows.append(
            {
                "pipeline": spec.pipeline,
                "model": spec.model,
                "job_type": "ai-batch" if spec.family == BUILTIN else "byoc",
                "warm_orch_count": len(warm),
                "gpu_slots": (
                    sum(len(o.gpu_ids) for o in warm) if spec.family == BUILTIN else 0
                ),
                "job_count_24h": stats["total_jobs"],
                "success_rate": round(stats["success_rate"], 3),
                "avg_duration_ms": round(stats["avg_duration_ms"]),
            }
        )
    rows.sort(
        key=lambda r: (
            -r["job_count_24h"],
            -r["warm_orch_count"],
            r["pipeline"],
            r["model"],
        )
    )
    return rows


def _inventory(
    traffic: Traffic,
    now_us: int,
    offers_of: Callable[[Orchestrator], tuple[Offer, ...]],
    listing: Callable[[tuple[Offer, ...]], list[str]],
    key: str,
) -> list[JSON]:
    rows: list[JSON] = []
    for node in traffic.observed(now_us, INVENTORY_HOURS, dashboard=False):
        offers = offers_of(node)
        seen = traffic.last_seen_us(node, now_us)
        if not offers or seen is None:
            continue
        rows.append(
            {
                "address": node.inventory_address,
                "uri": node.service_uri,
                key: listing(offers),
                "gpu_count": node.gpu_count(offers),
                "last_seen": rfc3339_nano(seen),
            }
        )
    rows.sort(key=lambda row: (-row["gpu_count"], row["address"]))
    return rows


def streaming_orchestrators(traffic: Traffic, now: datetime) -> list[JSON]:
    return _inventory(
        traffic,
        epoch_us(now),
        lambda node: node.live_offers,
        lambda offers: sorted({o.model for o in offers}),
        "models",
    )


def requests_orchestrators(traffic: Traffic, now: datetime) -> list[JSON]:
    return _inventory(
        traffic,
        epoch_us(now),
        lambda node: node.request_offers,
        lambda offers: sorted({f"{o.pipeline}:{o.model}" for o in offers}),
        "capabilities",
    )
