"""Network traffic, hour by hour: each hour has its own seeded draw of orchestrator
uptime, streaming demand (sessions, minutes, FPS), per-orchestrator SLA samples and
AI-batch/BYOC jobs, shaped by a daily, weekly and monthly intensity curve.

`Traffic` memoises the hours and answers the windows queries read. Who was online
in an hour is memoised apart: uptime queries (orchestrators observed over the
previous window, last heartbeats) need only that, the first draws of the hour.
"""

from __future__ import annotations

import math
from typing import Final

from simulator.catalogue import (
    BUILTIN,
    BUILTIN_MODELS,
    LIVE_MODELS,
    LIVE_PIPELINE,
    REQUEST_MODELS,
    ModelSpec,
)
from simulator.draws import BoundedMemo, binomial, seeded
from simulator.hours import DemandCell, Hour, JobCell, SlaCell
from simulator.orchestrators import HEARTBEAT_US, Cast, Orchestrator
from simulator.units import DAY_US, HOUR_US, from_epoch_us

# Traffic magnitudes (per hour, before the diurnal/weekly intensity factor).
LIVE_SESSIONS_PER_HOUR: Final = 140.0
BATCH_SESSIONS_PER_HOUR: Final = 4.0  # request pipelines also land in streaming demand
AI_BATCH_JOBS_PER_HOUR: Final = 3.0
BYOC_JOBS_PER_HOUR: Final = 2.0
# The 7 d window and the prior window for the orchestrator delta, plus slack.
HOURS_KEPT: Final = 1200


def traffic_intensity(start_us: int) -> float:
    """Smooth demand multiplier: a daily peak at 16:00 UTC, quieter weekends and a
    slow monthly swell."""
    moment = from_epoch_us(start_us)
    hour_of_day = moment.hour + moment.minute / 60 + 0.5
    daily = 1 + 0.35 * math.cos(2 * math.pi * (hour_of_day - 16) / 24)
    weekly = 0.85 if moment.weekday() >= 5 else 1.0
    trend = 1 + 0.08 * math.sin(2 * math.pi * (start_us // DAY_US) / 29)
    return daily * weekly * trend


class _HourBuilder:
    """Draws one hour of activity from its own RNG, in a fixed order."""

    def __init__(self, seed: int, cast: Cast, index: int) -> None:
        self.cast = cast
        self.index = index
        self.rng = seeded(seed, "hour", index)
        self.intensity = traffic_intensity(index * HOUR_US) * self.rng.uniform(0.9, 1.1)
        self.online = frozenset(
            o.address for o in cast.orchestrators if self.rng.random() < o.uptime
        )

    def build(self) -> Hour:
        demand: list[DemandCell] = []
        sla: list[SlaCell] = []
        for spec in LIVE_MODELS:
            cells, no_orch = self._live_sla(spec)
            sla += cells
            demand.append(self._live_demand(spec, cells, no_orch))
        demand += [self._batch_demand(spec) for spec in BUILTIN_MODELS]
        jobs = [self._jobs(spec) for spec in REQUEST_MODELS]
        return Hour(
            index=self.index,
            online=self.online,
            demand=tuple(c for c in demand if not c.empty),
            sla=tuple(sla),
            jobs=tuple(c for c in jobs if c.total > 0),
        )

    def _servers(self, spec: ModelSpec) -> list[tuple[Orchestrator, float]]:
        servers = self.cast.live_servers.get(spec.model, ())
        return [
            (node, weight) for node, weight in servers if node.address in self.online
        ]

    def _live_sla(self, spec: ModelSpec) -> tuple[list[SlaCell], int]:
        rng = self.rng
        wanted = LIVE_SESSIONS_PER_HOUR * spec.popularity * self.intensity
        wanted *= rng.uniform(0.8, 1.2)
        servers = self._servers(spec)
        if not servers:
            return [], round(wanted)  # nobody online serves it: every request fails
        total_weight = sum(weight for _, weight in servers)
        cells = []
        for node, weight in servers:
            requested = round(wanted * weight / total_weight * rng.uniform(0.75, 1.25))
            success_rate = node.startup_success * rng.uniform(0.96, 1.02)
            success = min(requested, round(requested * success_rate))
            no_swap = min(1.0, node.no_swap * rng.uniform(0.97, 1.02))
            fps = self._fps(spec, node)
            if requested == 0:
                continue
            eff = success / requested
            score = 100 * (0.6 * eff + 0.25 * no_swap + 0.15 * min(1.0, fps / spec.fps))
            cells.append(
                SlaCell(
                    node.address,
                    spec.model,
                    requested,
                    success,
                    eff,
                    round(no_swap, 4),
                    round(min(100.0, score), 2),
                )
            )
        return cells, round(wanted * rng.uniform(0.0, 0.03))

    def _fps(self, spec: ModelSpec, node: Orchestrator) -> float:
        raw = spec.fps * node.fps_factor * self.rng.uniform(0.94, 1.06)
        return min(20.0, max(7.0, raw))

    def _live_demand(
        self, spec: ModelSpec, cells: list[SlaCell], no_orch: int
    ) -> DemandCell:
        rng = self.rng
        minutes = 0.0
        fps_sum = 0.0
        samples = 0
        for cell in cells:
            node = self.cast.by_address[cell.address]
            minutes += cell.success * rng.uniform(3.5, 8.5)
            cell_samples = cell.success * rng.randint(40, 80)
            fps_sum += self._fps(spec, node) * cell_samples
            samples += cell_samples
        return DemandCell(
            LIVE_PIPELINE,
            spec.model,
            requested=sum(c.requested for c in cells) + no_orch,
            success=sum(c.success for c in cells),
            minutes=round(minutes, 2),
            fps_sum=round(fps_sum, 3),
            samples=samples,
        )

    def _batch_demand(self, spec: ModelSpec) -> DemandCell:
        rng = self.rng
        sessions = BATCH_SESSIONS_PER_HOUR * spec.popularity * self.intensity
        requested = round(sessions * rng.uniform(0.4, 1.6))
        success = min(requested, round(requested * rng.uniform(0.9, 1.0)))
        minutes = round(requested * rng.uniform(0.05, 0.4), 2)
        return DemandCell(spec.pipeline, spec.model, requested, success, minutes, 0, 0)

    def _jobs(self, spec: ModelSpec) -> JobCell:
        rng = self.rng
        rate = AI_BATCH_JOBS_PER_HOUR if spec.family == BUILTIN else BYOC_JOBS_PER_HOUR
        total = round(rate * spec.popularity * self.intensity * rng.uniform(0.5, 1.5))
        # Counts are small, so outcomes are drawn per job rather than rounded rates.
        no_orch = binomial(rng, total, 0.02)
        success = binomial(rng, total - no_orch, 0.97)
        duration = round(total * spec.job_ms * rng.uniform(0.85, 1.15), 1)
        return JobCell(
            spec.family, spec.pipeline, spec.model, total, no_orch, success, duration
        )


class Traffic:
    """The seed's hours, memoised, and the windows of them that queries read."""

    def __init__(self, seed: int, cast: Cast) -> None:
        self.seed = seed
        self.cast = cast
        # hour index -> the full hour
        self.hour: BoundedMemo[int, Hour] = BoundedMemo(self._build, HOURS_KEPT)
        # hour index -> the addresses online (equal to the full hour's `online`)
        self.online_at: BoundedMemo[int, frozenset[str]] = BoundedMemo(
            self._online, HOURS_KEPT
        )

    def _build(self, index: int) -> Hour:
        return _HourBuilder(self.seed, self.cast, index).build()

    def _online(self, index: int) -> frozenset[str]:
        return _HourBuilder(self.seed, self.cast, index).online

    def view(self, index: int, now_us: int) -> Hour:
        """Hour `index` as seen at `now`: scaled down if it has not ended yet."""
        full = self.hour(index)
        if (index + 1) * HOUR_US <= now_us:
            return full
        return full.scaled((now_us - index * HOUR_US) / HOUR_US)

    def window(self, now_us: int, hours: int) -> list[Hour]:
        """Hour buckets with window_start >= now - H (the current one partial)."""
        first = -(-(now_us - hours * HOUR_US) // HOUR_US)
        return [self.view(h, now_us) for h in range(first, now_us // HOUR_US + 1)]

    def window_from_hour_start(self, now_us: int, hours: int) -> list[Hour]:
        """Hour buckets with window_start >= toStartOfHour(now - H)."""
        first = (now_us - hours * HOUR_US) // HOUR_US
        return [self.view(h, now_us) for h in range(first, now_us // HOUR_US + 1)]

    def online_between(self, start_us: int, end_us: int) -> set[str]:
        """Addresses that heartbeated in any hour overlapping [start, end)."""
        online: set[str] = set()
        for h in range(start_us // HOUR_US, -(-end_us // HOUR_US)):
            online |= self.online_at(h)
        return online

    def observed(
        self, now_us: int, hours: int, *, dashboard: bool = True
    ) -> list[Orchestrator]:
        """The nodes (dashboard ones unless told otherwise) online in the window."""
        online = self.online_between(now_us - hours * HOUR_US, now_us)
        nodes = self.cast.dashboard if dashboard else self.cast.orchestrators
        return [o for o in nodes if o.address in online]

    def last_seen_us(self, node: Orchestrator, now_us: int) -> int | None:
        """Latest heartbeat (every 3 min at a per-node phase) in an online hour."""
        current = now_us // HOUR_US
        for h in range(current, current - 48, -1):
            if node.address in self.online_at(h):
                end = min(now_us, (h + 1) * HOUR_US - 1)
                return end - (end - node.heartbeat_phase_us) % HEARTBEAT_US
        return None
