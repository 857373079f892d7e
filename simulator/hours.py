"""One hour of network activity, as the hourly streaming demand, SLA and job tables
hold it, and the running totals that sum such rows over a window.

An hour seen part-way through has its counts scaled by the elapsed fraction, so the
current hour grows with the clock and a finished one never changes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from simulator.units import HOUR_US, JSON


@dataclass(frozen=True, slots=True)
class DemandCell:
    """Gateway-side streaming demand for one (pipeline, model) in one hour."""

    pipeline: str
    model: str
    requested: int
    success: int
    minutes: float
    fps_sum: float
    samples: int

    def scaled(self, fraction: float) -> DemandCell:
        samples = math.floor(self.samples * fraction)
        fps = self.fps_sum / self.samples if self.samples else 0.0
        return replace(
            self,
            requested=math.floor(self.requested * fraction),
            success=math.floor(self.success * fraction),
            minutes=round(self.minutes * fraction, 2),
            fps_sum=round(fps * samples, 3),
            samples=samples,
        )

    @property
    def empty(self) -> bool:
        return self.requested == 0 and self.minutes == 0


@dataclass(frozen=True, slots=True)
class SlaCell:
    """Streaming SLA sample for one orchestrator and live model in one hour."""

    address: str
    model: str
    requested: int
    success: int
    effective_success_rate: float
    no_swap_rate: float
    sla_score: float

    def scaled(self, fraction: float) -> SlaCell:
        return replace(
            self,
            requested=math.floor(self.requested * fraction),
            success=math.floor(self.success * fraction),
        )


@dataclass(frozen=True, slots=True)
class JobCell:
    """AI-batch (family BUILTIN) or BYOC jobs for one (pipeline, model) in one hour."""

    family: str
    pipeline: str
    model: str
    total: int
    no_orch: int
    success: int
    duration_ms_sum: float

    @property
    def selected(self) -> int:
        return self.total - self.no_orch

    def scaled(self, fraction: float) -> JobCell:
        return replace(
            self,
            total=math.floor(self.total * fraction),
            no_orch=math.floor(self.no_orch * fraction),
            success=math.floor(self.success * fraction),
            duration_ms_sum=round(self.duration_ms_sum * fraction, 1),
        )


@dataclass(frozen=True, slots=True)
class Hour:
    index: int  # hours since the Unix epoch
    online: frozenset[str]  # addresses of orchestrators that heartbeated this hour
    demand: tuple[DemandCell, ...]
    sla: tuple[SlaCell, ...]
    jobs: tuple[JobCell, ...]

    @property
    def start_us(self) -> int:
        return self.index * HOUR_US

    def scaled(self, fraction: float) -> Hour:
        """The hour as seen part-way through: counts grow with the clock."""
        demand = (c.scaled(fraction) for c in self.demand)
        sla = (c.scaled(fraction) for c in self.sla)
        jobs = (c.scaled(fraction) for c in self.jobs)
        return replace(
            self,
            demand=tuple(c for c in demand if not c.empty),
            sla=tuple(c for c in sla if c.requested > 0),
            jobs=tuple(c for c in jobs if c.total > 0),
        )


@dataclass(slots=True)
class DemandTotals:
    """Demand cells summed; FPS averages over samples, not over cells."""

    requested: int = 0
    success: int = 0
    minutes: float = 0.0
    fps_sum: float = 0.0
    samples: int = 0

    def add(self, cell: DemandCell) -> None:
        self.requested += cell.requested
        self.success += cell.success
        self.minutes += cell.minutes
        self.fps_sum += cell.fps_sum
        self.samples += cell.samples

    @property
    def avg_fps(self) -> float:
        return self.fps_sum / self.samples if self.samples else 0.0


@dataclass(slots=True)
class JobTotals:
    """Job cells summed, and the stats row the analytics API reports for them."""

    total: int = 0
    selected: int = 0
    no_orch: int = 0
    success: int = 0
    duration_ms_sum: float = 0.0

    def add(self, cell: JobCell) -> None:
        self.total += cell.total
        self.selected += cell.selected
        self.no_orch += cell.no_orch
        self.success += cell.success
        self.duration_ms_sum += cell.duration_ms_sum

    def stats(self) -> JSON:
        return {
            "total_jobs": self.total,
            "selected_jobs": self.selected,
            "no_orch_jobs": self.no_orch,
            "success_rate": self.success / self.total if self.total else 0.0,
            "avg_duration_ms": self.duration_ms_sum / self.total if self.total else 0.0,
        }
