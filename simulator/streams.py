"""Live streams for the job feed: a seeded arrival process over 30-second slots.

Each slot draws its own arrivals; a stream starts loading, may degrade for a while,
and ends after 1-25 minutes. The feed reports each stream in flight as of its
latest periodic event.
"""

from __future__ import annotations

import math
import random
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from simulator.catalogue import LIVE_MODELS, LIVE_PIPELINE
from simulator.draws import BoundedMemo, poisson, seeded
from simulator.orchestrators import Cast, Orchestrator
from simulator.traffic import Traffic
from simulator.units import DAY_US, HOUR_US, JSON, SECOND_US, epoch_us, rfc3339

SLOT_US: Final = 30 * SECOND_US
MAX_STREAM_US: Final = 25 * 60 * SECOND_US
ARRIVALS_PER_SLOT: Final = 1.25  # x mean duration ~7.5 min => ~19 concurrent streams
_DEGRADED_STATES: Final = (
    ("degraded_input", 0.5),
    ("degraded_inference", 0.3),
    ("degraded_output", 0.2),
)
GATEWAYS: Final = (  # (host, share of streams)
    ("gateway-use1.livepeer-sim.example", 0.45),
    ("gateway-euw1.livepeer-sim.example", 0.3),
    ("gateway-apse1.livepeer-sim.example", 0.1),
    ("daydream-gw.studio-sim.example", 0.15),
)


@dataclass(frozen=True, slots=True)
class Stream:
    key: str  # stable identity (the feed's `id` is the latest event id instead)
    started_us: int
    duration_us: int
    model: str
    orchestrator: Orchestrator
    gpu_id: str
    gateway: str
    report_every_us: int
    input_fps: float
    output_fps: float
    loading_us: int  # initial "loading" phase
    degraded: tuple[int, int, str] | None  # (from, until) offsets in µs, state

    @property
    def ends_us(self) -> int:
        return self.started_us + self.duration_us

    def active_at(self, now_us: int) -> bool:
        return self.started_us <= now_us < self.ends_us

    def state_at(self, offset_us: int) -> str:
        if offset_us < self.loading_us:
            return "loading"
        if self.degraded and self.degraded[0] <= offset_us < self.degraded[1]:
            return self.degraded[2]
        return "online"


class Streams:
    """The seed's streams, drawn slot by slot (memoised) as queries reach them."""

    def __init__(self, seed: int, cast: Cast, traffic: Traffic) -> None:
        self.seed = seed
        self.cast = cast
        self.traffic = traffic
        self._slots = BoundedMemo(self._slot_streams, 4000)

    def _slot_streams(self, slot: int) -> tuple[Stream, ...]:
        rng = seeded(self.seed, "streams", slot)
        slot_us = slot * SLOT_US
        # A gentler curve than the hourly one keeps ~5-40 streams live at any time.
        intensity = 1 + 0.3 * math.cos(
            2 * math.pi * ((slot_us % DAY_US) / HOUR_US - 16) / 24
        )
        streams = []
        for n in range(poisson(rng, ARRIVALS_PER_SLOT * intensity)):
            stream = self._new_stream(rng, f"{slot}-{n}", slot_us)
            if stream is not None:
                streams.append(stream)
        return tuple(streams)

    def _new_stream(self, rng: random.Random, key: str, slot_us: int) -> Stream | None:
        started = slot_us + rng.randrange(SLOT_US // 1000) * 1000  # ms precision
        duration = round(
            min(1500.0, max(60.0, math.exp(rng.gauss(math.log(360), 0.7))))
        )
        spec = rng.choices(LIVE_MODELS, [s.popularity for s in LIVE_MODELS])[0]
        online = self.traffic.online_at(started // HOUR_US)
        candidates = [
            (node, offer)
            for node in self.cast.dashboard
            for offer in node.live_offers
            if offer.model == spec.model
            and node.traffic_weight > 0
            and node.address in online
        ]
        if not candidates:
            return None
        weights = [
            node.traffic_weight * len(offer.gpu_ids) for node, offer in candidates
        ]
        node, offer = rng.choices(candidates, weights)[0]
        degraded = None
        if rng.random() < 0.35:
            begin = rng.uniform(0.1, 0.8) * duration
            state = rng.choices(
                [s for s, _ in _DEGRADED_STATES], [w for _, w in _DEGRADED_STATES]
            )[0]
            length = rng.uniform(20, 150)
            degraded = (
                round(begin * SECOND_US),
                round((begin + length) * SECOND_US),
                state,
            )
        return Stream(
            key=key,
            started_us=started,
            duration_us=duration * SECOND_US,
            model=spec.model,
            orchestrator=node,
            gpu_id=rng.choice(offer.gpu_ids),
            gateway=rng.choices([g for g, _ in GATEWAYS], [w for _, w in GATEWAYS])[0],
            report_every_us=rng.choice((5, 5, 10)) * SECOND_US,
            input_fps=round(rng.uniform(29.2, 30.0), 2),
            output_fps=min(
                20.0, max(7.0, spec.fps * node.fps_factor * rng.uniform(0.85, 1.1))
            ),
            loading_us=rng.randint(5, 20) * SECOND_US,
            degraded=degraded,
        )

    def in_flight(self, now_us: int) -> list[Stream]:
        """Streams in flight at `now`."""
        first = (now_us - MAX_STREAM_US) // SLOT_US
        return [
            stream
            for slot in range(first, now_us // SLOT_US + 1)
            for stream in self._slots(slot)
            if stream.active_at(now_us)
        ]

    def job_feed(self, now: datetime, limit: int) -> list[JSON]:
        now_us = epoch_us(now)
        items = []
        for stream in self.in_flight(now_us):
            events = (now_us - stream.started_us) // stream.report_every_us
            last_seen = stream.started_us + events * stream.report_every_us
            items.append((last_seen, stream, self._feed_item(stream, events, now_us)))
        items.sort(key=lambda item: (-item[0], -item[1].started_us, item[1].key))
        return [item for _, _, item in items[:limit]]

    def _feed_item(self, stream: Stream, events: int, now_us: int) -> JSON:
        rng = seeded(self.seed, "stream-event", stream.key, events)
        last_seen = stream.started_us + events * stream.report_every_us
        state = stream.state_at(last_seen - stream.started_us)
        input_fps = stream.input_fps * rng.uniform(0.99, 1.0)
        output_fps = stream.output_fps * rng.uniform(0.95, 1.05)
        if state == "degraded_input":
            input_fps *= rng.uniform(0.35, 0.65)
        elif state == "degraded_inference":
            output_fps *= rng.uniform(0.35, 0.55)
        elif state == "degraded_output":
            output_fps *= rng.uniform(0.5, 0.7)
        elif state == "loading":
            output_fps = 0.0
        node = stream.orchestrator
        return {
            "id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
            "pipeline": LIVE_PIPELINE,
            "model": stream.model,
            "gateway": stream.gateway,
            "orchestratorAddress": node.address,
            "orchestratorUrl": node.service_uri,
            "state": state,
            "job_type": "streaming",
            "inputFps": round(input_fps, 2),
            "outputFps": round(output_fps, 2),
            "firstSeen": rfc3339(stream.started_us),
            "lastSeen": rfc3339(last_seen),
            "durationSeconds": (now_us - stream.started_us) / SECOND_US,
        }
