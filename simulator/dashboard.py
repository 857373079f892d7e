"""The three dashboard endpoints with a window: `dashboard/kpi`,
`dashboard/pipelines` and `dashboard/orchestrators`.

Each aggregates the hour buckets inside its window (the current hour partial) with
the computations the upstream's handlers perform, including its deltas: the
(sparse) buckets are split at their midpoint and the halves compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from simulator.catalogue import BUILTIN, BYOC
from simulator.hours import DemandTotals, Hour, JobTotals
from simulator.orchestrators import Orchestrator
from simulator.traffic import Traffic
from simulator.units import HOUR_US, JSON, epoch_us, rfc3339


def _pct_change(first: float, second: float) -> float:
    return (second - first) / first * 100 if first else 0.0


def _split_delta(values: Sequence[float]) -> float:
    """Upstream's delta: split the (sparse) buckets at ⌊n/2⌋, percent change."""
    if len(values) < 2:
        return 0.0
    mid = len(values) // 2
    return _pct_change(sum(values[:mid]), sum(values[mid:]))


def _rate_delta(buckets: Sequence[tuple[int, int]]) -> float:
    """Success-rate delta in percentage points between the two bucket halves."""
    if len(buckets) < 2:
        return 0.0
    mid = len(buckets) // 2

    def rate(part: Sequence[tuple[int, int]]) -> float:
        requested = sum(r for r, _ in part)
        return sum(s for _, s in part) / requested * 100 if requested else 0.0

    return rate(buckets[mid:]) - rate(buckets[:mid])


@dataclass(slots=True)
class _SlaTotals:
    requested: int = 0
    success: int = 0
    eff_weighted: float = 0.0
    no_swap_weighted: float = 0.0


# dashboard/kpi


def kpi(
    traffic: Traffic, now: datetime, hours: int, pipeline: str = "", model_id: str = ""
) -> JSON:
    now_us = epoch_us(now)
    return {
        "streaming": _streaming_kpi(traffic, now_us, hours, pipeline, model_id),
        "requests": _jobs_overview(traffic, now_us, hours),
    }


def _streaming_kpi(
    traffic: Traffic, now_us: int, hours: int, pipeline: str, model_id: str
) -> JSON:
    starts: list[int] = []
    buckets: list[tuple[int, int]] = []  # (requested, success)
    minutes: list[float] = []
    for hour in traffic.window(now_us, hours):
        totals = DemandTotals()
        for cell in hour.demand:
            if (not pipeline or cell.pipeline == pipeline) and (
                not model_id or cell.model == model_id
            ):
                totals.add(cell)
        if totals.requested or totals.minutes:
            starts.append(hour.start_us)
            buckets.append((totals.requested, totals.success))
            minutes.append(round(totals.minutes, 2))
    requested = sum(r for r, _ in buckets)
    success = sum(s for _, s in buckets)
    window_start = now_us - hours * HOUR_US
    observed = _stream_orchs(traffic, window_start, now_us, pipeline, model_id)
    previous = _stream_orchs(
        traffic, window_start - hours * HOUR_US, window_start, pipeline, model_id
    )
    return {
        "successRate": {
            "value": success / requested * 100 if requested else 0.0,
            "delta": _rate_delta(buckets),
        },
        "orchestratorsObserved": {
            "value": observed,
            "delta": _pct_change(previous, observed),
        },
        "dailyUsageMins": {
            "value": round(sum(minutes), 2),
            "delta": _split_delta(minutes),
        },
        "dailySessionCount": {
            "value": requested,
            "delta": _split_delta([float(r) for r, _ in buckets]),
        },
        "dailyNetworkFeesEth": {"value": 0, "delta": 0},
        "timeframeHours": hours,
        "hourlySessions": [
            {"hour": rfc3339(start), "value": r}
            for start, (r, _) in zip(starts, buckets, strict=True)
        ],
        "hourlyUsage": [
            {"hour": rfc3339(start), "value": m}
            for start, m in zip(starts, minutes, strict=True)
        ],
    }


def _stream_orchs(
    traffic: Traffic, start_us: int, end_us: int, pipeline: str, model_id: str
) -> int:
    """Distinct orchestrators with a streaming offer seen in [start, end)."""
    online = traffic.online_between(start_us, end_us)
    return sum(
        1
        for node in traffic.cast.dashboard
        if node.address in online
        and any(
            (not pipeline or o.pipeline == pipeline)
            and (not model_id or o.model == model_id)
            for o in node.live_offers
        )
    )


def _jobs_overview(traffic: Traffic, now_us: int, hours: int) -> JSON:
    families = {BUILTIN: JobTotals(), BYOC: JobTotals()}
    for hour in traffic.window_from_hour_start(now_us, hours):
        for cell in hour.jobs:
            families[cell.family].add(cell)
    return {"ai_batch": families[BUILTIN].stats(), "byoc": families[BYOC].stats()}


# dashboard/pipelines


def pipelines(traffic: Traffic, now: datetime, hours: int, limit: int) -> JSON:
    now_us = epoch_us(now)
    window = traffic.window(now_us, hours)
    per_model: dict[tuple[str, str], DemandTotals] = {}
    for hour in window:
        for cell in hour.demand:
            per_model.setdefault((cell.pipeline, cell.model), DemandTotals()).add(cell)
    streaming = _pipeline_rows(per_model)[:limit]
    return {
        "streaming": streaming,
        "requests": {
            "by_pipeline": _job_rows(window, BUILTIN, "pipeline"),
            "by_capability": _job_rows(window, BYOC, "capability"),
        },
    }


def _pipeline_rows(per_model: dict[tuple[str, str], DemandTotals]) -> list[JSON]:
    by_pipeline: dict[str, list[tuple[str, DemandTotals]]] = {}
    for (pipeline, model), totals in sorted(per_model.items()):
        by_pipeline.setdefault(pipeline, []).append((model, totals))
    rows: list[JSON] = []
    for name, models in by_pipeline.items():
        models.sort(key=lambda item: (-item[1].requested, item[0]))
        overall = DemandTotals()
        for _, totals in models:
            overall.requested += totals.requested
            overall.minutes += totals.minutes
            overall.fps_sum += totals.fps_sum
            overall.samples += totals.samples
        rows.append(
            {
                "name": name,
                "mins": round(overall.minutes, 2),
                "sessions": overall.requested,
                "avgFps": overall.avg_fps,
                "modelMins": [
                    {
                        "model": model,
                        "mins": round(t.minutes, 2),
                        "sessions": t.requested,
                        "avgFps": t.avg_fps,
                    }
                    for model, t in models
                ],
            }
        )
    rows.sort(key=lambda row: (-row["sessions"], row["name"]))
    return rows


def _job_rows(window: Iterable[Hour], family: str, label: str) -> list[JSON] | None:
    groups: dict[str, JobTotals] = {}
    for hour in window:
        for cell in hour.jobs:
            if cell.family == family:
                groups.setdefault(cell.pipeline, JobTotals()).add(cell)
    ordered = sorted(groups.items(), key=lambda item: (-item[1].total, item[0]))
    # Go serialises an empty (nil) slice as null here; the BFF maps it to [].
    return [{label: name, **totals.stats()} for name, totals in ordered] or None


# dashboard/orchestrators


def orchestrators_table(traffic: Traffic, now: datetime, hours: int) -> list[JSON]:
    now_us = epoch_us(now)
    totals: dict[str, _SlaTotals] = {}
    latest: dict[str, tuple[int, float]] = {}  # address -> (hour start, score)
    for hour in traffic.window(now_us, hours):
        hour_score: dict[str, tuple[int, float]] = {}
        for cell in hour.sla:
            agg = totals.setdefault(cell.address, _SlaTotals())
            agg.requested += cell.requested
            agg.success += cell.success
            agg.eff_weighted += cell.effective_success_rate * cell.requested
            agg.no_swap_weighted += cell.no_swap_rate * cell.requested
            weight, score = hour_score.get(cell.address, (0, 0.0))
            hour_score[cell.address] = (
                weight + cell.requested,
                score + cell.sla_score * cell.requested,
            )
        for address, (weight, score) in hour_score.items():
            latest[address] = (hour.start_us, score / weight)
    rows = [
        _orchestrator_row(node, totals.get(node.address), latest.get(node.address))
        for node in traffic.observed(now_us, hours)
    ]
    rows.sort(key=lambda row: (-row["knownSessions"], row["address"]))
    return rows


def _orchestrator_row(
    node: Orchestrator, sla: _SlaTotals | None, latest: tuple[int, float] | None
) -> JSON:
    eff = no_swap = None
    if sla and sla.requested:
        eff = sla.eff_weighted / sla.requested
        no_swap = sla.no_swap_weighted / sla.requested
    row: JSON = {
        "address": node.address,
        "serviceUri": node.service_uri,
        "knownSessions": sla.requested if sla else 0,
        "successSessions": sla.success if sla else 0,
        "successRatio": eff * 100 if eff is not None else 0,
        "effectiveSuccessRate": eff,
        "noSwapRatio": no_swap,
        "slaScore": latest[1] if latest else None,
    }
    if latest:
        row["slaWindowStart"] = rfc3339(latest[0])
    models: dict[str, set[str]] = {}
    for offer in node.offers:
        models.setdefault(offer.pipeline, set()).add(offer.model)
    row["pipelines"] = sorted(models)
    row["pipelineModels"] = [
        {"pipelineId": p, "modelIds": sorted(models[p])} for p in sorted(models)
    ]
    row["gpuCount"] = node.gpu_count(node.offers)
    return row
