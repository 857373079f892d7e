"""The simulated network for one seed, as the payload builders see it (no HTTP).

Everything that moves is a pure function of (seed, time): hours, stream slots,
days and protocol rounds each draw from their own seeded RNG, and a request at
`now` aggregates the buckets inside its window, so responses move only as the
clock moves and the same seed and clock give the same values. The builders return
JSON-ready values in the shapes the Go NAAP Analytics API emits.
"""

from __future__ import annotations

from datetime import datetime

from simulator import dashboard, inventory
from simulator.chain import Chain
from simulator.orchestrators import Cast
from simulator.streams import Streams
from simulator.traffic import Traffic
from simulator.units import JSON


class SimWorld:
    """The simulated network for one seed; every query takes the time explicitly."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.cast = Cast(seed)
        self.traffic = Traffic(seed, self.cast)
        self.streams = Streams(seed, self.cast, self.traffic)
        self.chain = Chain(seed)

    # The analytics API.

    def kpi(
        self, now: datetime, hours: int, pipeline: str = "", model_id: str = ""
    ) -> JSON:
        return dashboard.kpi(self.traffic, now, hours, pipeline, model_id)

    def pipelines(self, now: datetime, hours: int, limit: int) -> JSON:
        return dashboard.pipelines(self.traffic, now, hours, limit)

    def orchestrators_table(self, now: datetime, hours: int) -> list[JSON]:
        return dashboard.orchestrators_table(self.traffic, now, hours)

    def gpu_capacity(self, now: datetime) -> JSON:
        return inventory.gpu_capacity(self.traffic, self.streams, now)

    def pipeline_catalog(self, now: datetime) -> list[JSON]:
        return inventory.pipeline_catalog(self.traffic, now)

    def pricing(self, now: datetime) -> list[JSON] | None:
        return inventory.pricing(self.traffic, now)

    def job_feed(self, now: datetime, limit: int) -> list[JSON]:
        return self.streams.job_feed(now, limit)

    def streaming_models(self, now: datetime) -> list[JSON]:
        return inventory.streaming_models(self.traffic, self.streams, now)

    def streaming_orchestrators(self, now: datetime) -> list[JSON]:
        return inventory.streaming_orchestrators(self.traffic, now)

    def requests_models(self, now: datetime) -> list[JSON]:
        return inventory.requests_models(self.traffic, now)

    def requests_orchestrators(self, now: datetime) -> list[JSON]:
        return inventory.requests_orchestrators(self.traffic, now)

    # The subgraph and the L1 RPC.

    def protocol(self, now: datetime) -> JSON:
        return self.chain.protocol(now)

    def fee_days(self, now: datetime) -> list[JSON]:
        return self.chain.fee_days(now)

    def block_number(self, now: datetime) -> int:
        return self.chain.block_number(now)
