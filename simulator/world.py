"""Deterministic world model behind the upstream simulator (no HTTP here).

The simulated Livepeer network has a fixed cast of 42 orchestrators generated once
from the seed: invented addresses, `.example` service URIs, GPUs and capability
offers (pipeline, model, price) whose distributions follow a real network snapshot
(live-video-to-video dominates, streamdiffusion-sdxl is the most common model, GPUs
are mostly RTX 5090/4090). Two of them are known only to the inventory endpoints.
Everything that moves is a pure function of (seed, time): every hour has its own
seeded draw of orchestrator uptime, streaming demand (sessions, minutes, FPS),
per-orchestrator SLA samples and AI-batch/BYOC jobs; every 30-second slot has its own
seeded live-stream arrivals (each stream starts, may degrade for a while, and ends
after 1-25 minutes); every UTC day has its own fee volume and ETH price; every
protocol round its own active stake; the L1 block number ticks every 12 s from a
fixed anchor. A request at `now` aggregates the hours, slots or days inside its
window, with the current hour or day scaled by the fraction elapsed, so responses
move only as the clock moves and a finished hour never changes. Per-hour, per-slot
and per-day draws are memoised in bounded LRU maps so requests stay cheap.

The payload builders return JSON-ready values in the shapes the Go NAAP Analytics
API emits (spec §12.3), with the computations its handlers perform (spec §3).
"""

from __future__ import annotations

import math
import random
import uuid
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Generic, TypeVar
from urllib.parse import urlsplit

JSON = dict[str, Any]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_US: Final = 1_000_000
HOUR_US: Final = 3600 * SECOND_US
DAY_US: Final = 24 * HOUR_US
LIVE_PIPELINE: Final = "live-video-to-video"

LIVE: Final = "live"
BUILTIN: Final = "builtin"
BYOC: Final = "byoc"

# ---------------------------------------------------------------------------
# Time helpers: all arithmetic is on integer microseconds since the Unix epoch, so
# bucketing never depends on float rounding.


def epoch_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def rfc3339(value_us: int) -> str:
    """Go's time.RFC3339 layout: whole seconds, `Z`."""
    return from_epoch_us(value_us).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(value_us: int) -> str:
    """Go's time.RFC3339Nano layout: fractional seconds with trailing zeros cut."""
    moment = from_epoch_us(value_us)
    fraction = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"


def seeded(seed: int, *parts: object) -> random.Random:
    """A private RNG for one quantity. String seeds are hashed with SHA-512 by
    `random`, so the stream is stable across processes (unlike the salted hash())."""
    return random.Random(":".join(str(part) for part in (seed, *parts)))


K = TypeVar("K")
V = TypeVar("V")


class BoundedMemo(Generic[K, V]):
    """LRU memo of a pure function; bounded so a long-running simulator stays small."""

    def __init__(self, compute: Callable[[K], V], max_entries: int) -> None:
        self._compute = compute
        self._max_entries = max_entries
        self._data: OrderedDict[K, V] = OrderedDict()

    def __call__(self, key: K) -> V:
        if key in self._data:
            self._data.move_to_end(key)
            return self._data[key]
        value = self._compute(key)
        self._data[key] = value
        if len(self._data) > self._max_entries:
            self._data.popitem(last=False)
        return value


# ---------------------------------------------------------------------------
# Catalogue: pipelines, models and price quotes as observed on the real network.


@dataclass(frozen=True, slots=True)
class ModelSpec:
    pipeline: str  # canonical pipeline, or the BYOC capability name
    model: str
    family: str  # LIVE, BUILTIN or BYOC
    quotes: tuple[int, ...]  # typical wei-per-unit quotes seen for this model
    popularity: float  # relative share of demand within its family
    fps: float = 0.0  # typical output FPS (live video only)
    job_ms: float = 0.0  # typical job duration (request pipelines only)


# family pipeline model popularity fps-or-job-ms quotes... (wei per unit). Prices and
# models follow a real capability snapshot; BYOC model names are invented.
_CATALOGUE: Final = """
live    live-video-to-video      streamdiffusion-sdxl                               0.55 15.5  2287 2287 2287 3000
live    live-video-to-video      streamdiffusion-sdxl-v2v                           0.20 13.5  2287 3000
live    live-video-to-video      streamdiffusion                                    0.13 17.0  2287
live    live-video-to-video      streamdiffusion-sdturbo                            0.12 18.5  2287
builtin text-to-image            SG161222/RealVisXL_V4.0_Lightning                  1.00 2200  4668371 2384185 4768371
builtin text-to-image            black-forest-labs/FLUX.1-dev                       0.40 6800  19073484
builtin text-to-image            ByteDance/SDXL-Lightning                           0.50 1600  2384185
builtin text-to-image            black-forest-labs/FLUX.1-schnell                   0.40 2900  8685284
builtin image-to-image           timbrooks/instruct-pix2pix                         0.30 2500  2384185
builtin image-to-video           stabilityai/stable-video-diffusion-img2vid-xt-1-1  0.15 42000 3390842 3905000
builtin upscale                  stabilityai/stable-diffusion-x4-upscaler           0.25 5200  8685284 2384185
builtin audio-to-text            openai/whisper-large-v3                            0.30 3100  12882811
builtin segment-anything-2       facebook/sam2-hiera-large                          0.15 900   1695421 2384185
builtin image-to-text            Salesforce/blip-image-captioning-large             0.10 700   4768371
builtin text-to-speech           parler-tts/parler-tts-large-v1                     0.10 4800  4768371 2384185
builtin llm                      meta-llama/Meta-Llama-3.1-8B-Instruct              1.20 1900  81964641 81964641 36428729
builtin llm                      glm-4.7-flash                                      0.60 1400  22767955
builtin llm                      llama3.2-vision                                    0.30 2600  40982320
builtin llm                      meta-llama/Llama-4-Scout-17B-16E-Instruct          0.30 3300  81964641
byoc    openai-chat-completions  gpt-4o-mini                                        1.00 1200  2500
byoc    openai-chat-completions  Qwen/Qwen2.5-7B-Instruct                           0.50 1500  2500
byoc    openai-text-embeddings   text-embedding-3-small                             0.60 180   1000
byoc    openai-image-generation  sdxl-turbo                                         0.30 3500  5000
"""  # noqa: E501


def _parse_catalogue(table: str) -> tuple[ModelSpec, ...]:
    specs = []
    for line in table.strip().splitlines():
        family, pipeline, model, popularity, figure, *quotes = line.split()
        live = family == LIVE
        specs.append(
            ModelSpec(
                pipeline,
                model,
                family,
                tuple(int(q) for q in quotes),
                float(popularity),
                fps=float(figure) if live else 0.0,
                job_ms=0.0 if live else float(figure),
            )
        )
    return tuple(specs)


CATALOGUE: Final = _parse_catalogue(_CATALOGUE)
LIVE_MODELS: Final = tuple(s for s in CATALOGUE if s.family == LIVE)
LLM_MODELS: Final = tuple(s for s in CATALOGUE if s.pipeline == "llm")
IMAGE_MODELS: Final = tuple(
    s for s in CATALOGUE if s.family == BUILTIN and s.pipeline != "llm"
)
BYOC_MODELS: Final = tuple(s for s in CATALOGUE if s.family == BYOC)

BUILTIN_MODELS: Final = IMAGE_MODELS + LLM_MODELS
REQUEST_MODELS: Final = BUILTIN_MODELS + BYOC_MODELS

GPU_NAMES: Final = (
    ("NVIDIA GeForce RTX 5090", 0.55, 1.08),  # name, share of nodes, FPS factor
    ("NVIDIA GeForce RTX 4090", 0.28, 1.0),
    ("NVIDIA GeForce RTX 3090", 0.06, 0.85),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", 0.06, 0.82),
    ("NVIDIA RTX 6000 Ada Generation", 0.05, 0.97),
)

GATEWAYS: Final = (
    ("gateway-use1.livepeer-sim.example", 0.45),
    ("gateway-euw1.livepeer-sim.example", 0.3),
    ("gateway-apse1.livepeer-sim.example", 0.1),
    ("daydream-gw.studio-sim.example", 0.15),
)

_HOST_WORDS: Final = (
    "aurora",
    "basalt",
    "cobalt",
    "ember",
    "fjord",
    "halcyon",
    "lumen",
    "nebula",
    "onyx",
)
_HOST_PATTERNS: Final = (
    "orch-{n:02d}.gpu-farm.example",
    "{word}-{n:02d}.livepeer-nodes.example",
    "ai{n:02d}.{word}-compute.example",
    "node{n:02d}.{word}.example",
)
_PORTS: Final = (8935, 8935, 8935, 8935, 9935, 18935, 58935)

# Dashboard orchestrators by role; shuffled per seed. Batch, LLM and BYOC nodes have
# no streaming SLA samples, so the orchestrator table shows null rates for them.
_ROLES: Final = (
    ("live",) * 26 + ("hybrid",) * 6 + ("batch",) * 4 + ("llm",) * 2 + ("byoc",) * 2
)
_INVENTORY_ONLY_ROLES: Final = ("live", "batch")
_STANDBY_LIVE_NODES: Final = 2  # live nodes that get no traffic: idle in every window

# Traffic magnitudes (per hour, before the diurnal/weekly intensity factor).
LIVE_SESSIONS_PER_HOUR: Final = 140.0
BATCH_SESSIONS_PER_HOUR: Final = 4.0  # request pipelines also land in streaming demand
AI_BATCH_JOBS_PER_HOUR: Final = 3.0
BYOC_JOBS_PER_HOUR: Final = 2.0

HEARTBEAT_US: Final = 180 * SECOND_US
INVENTORY_HOURS: Final = 24  # pricing, catalog, GPU and inventory views look back 24 h
MAX_WINDOW_HOURS: Final = 168


# ---------------------------------------------------------------------------
# World entities.


@dataclass(frozen=True, slots=True)
class Gpu:
    gpu_id: str
    name: str  # hardware model name as the node reports it


@dataclass(frozen=True, slots=True)
class Offer:
    spec: ModelSpec
    price_wei_per_unit: int
    pixels_per_unit: int
    gpu_ids: tuple[str, ...]  # empty: advertised cold, no hardware behind it

    @property
    def pipeline(self) -> str:
        return self.spec.pipeline

    @property
    def model(self) -> str:
        return self.spec.model

    @property
    def warm(self) -> bool:
        return bool(self.gpu_ids)


@dataclass(frozen=True, slots=True)
class Orchestrator:
    address: str  # lowercase, as the dashboard endpoints report it
    inventory_address: str  # the spelling the inventory endpoints use (mixed case)
    service_uri: str
    gpus: tuple[Gpu, ...]
    offers: tuple[Offer, ...]
    startup_success: float  # probability that a requested session starts
    no_swap: float  # share of sessions that never swap orchestrator
    fps_factor: float  # hardware speed relative to an RTX 4090
    uptime: float  # probability of being online in a given hour
    traffic_weight: float  # 0 for standby nodes
    heartbeat_phase_us: int
    on_dashboard: bool  # False: seen only by the inventory endpoints

    @property
    def host(self) -> str:
        return urlsplit(self.service_uri).hostname or ""

    @property
    def live_offers(self) -> tuple[Offer, ...]:
        return tuple(o for o in self.offers if o.spec.family == LIVE)

    @property
    def request_offers(self) -> tuple[Offer, ...]:
        return tuple(o for o in self.offers if o.spec.family != LIVE)

    def gpu_count(self, offers: Iterable[Offer]) -> int:
        return len({gpu_id for offer in offers for gpu_id in offer.gpu_ids})


# ---------------------------------------------------------------------------
# Orchestrator generation (once per seed).


class _Picker:
    """Chooses models for nodes: first works through a shuffled queue so that every
    model is offered somewhere, then picks by popularity."""

    def __init__(self, rng: random.Random, specs: Sequence[ModelSpec]) -> None:
        self._rng = rng
        self._specs = tuple(specs)
        self._queue = list(specs)
        rng.shuffle(self._queue)

    def pick(self, count: int) -> list[ModelSpec]:
        chosen: list[ModelSpec] = []
        if self._queue:
            chosen.append(self._queue.pop())
        weights = [spec.popularity for spec in self._specs]
        for _ in range(count * 8):
            if len(chosen) >= min(count, len(self._specs)):
                break
            spec = self._rng.choices(self._specs, weights)[0]
            if spec not in chosen:
                chosen.append(spec)
        return chosen


def _address(rng: random.Random) -> str:
    return f"0x{rng.getrandbits(160):040x}"


def _mixed_case(rng: random.Random, address: str) -> str:
    # Stands in for an EIP-55 checksum spelling: same address, different case.
    body = "".join(
        c.upper() if c.isalpha() and rng.random() < 0.5 else c for c in address[2:]
    )
    return "0x" + body


def _service_uri(rng: random.Random, number: int) -> str:
    pattern = rng.choice(_HOST_PATTERNS)
    host = pattern.format(n=number, word=rng.choice(_HOST_WORDS))
    return f"https://{host}:{rng.choice(_PORTS)}"


def _gpus(rng: random.Random, count: int) -> tuple[Gpu, ...]:
    names = [name for name, _, _ in GPU_NAMES]
    weights = [share for _, share, _ in GPU_NAMES]
    main = rng.choices(names, weights)[0]
    second = rng.choices(names, weights)[0] if rng.random() < 0.15 else main
    return tuple(
        Gpu(
            f"GPU-{uuid.UUID(int=rng.getrandbits(128), version=4)}",
            second if i % 3 == 2 else main,
        )
        for i in range(count)
    )


def _gpu_count(rng: random.Random, role: str) -> int:
    if role == "live":
        return rng.choices((1, 2, 3, 4, 6, 8), (30, 30, 10, 15, 10, 5))[0]
    if role == "hybrid":
        return rng.randint(2, 4)
    if role == "batch":
        return rng.randint(1, 3)
    if role == "llm":
        return rng.randint(1, 2)
    return 1


def _price(rng: random.Random, spec: ModelSpec) -> int:
    quote = rng.choice(spec.quotes)
    if spec.family == LIVE:
        return quote if rng.random() < 0.9 else rng.randint(2287, 3000)
    return quote if rng.random() < 0.75 else int(quote * rng.uniform(0.85, 1.15))


def _offers(
    rng: random.Random, role: str, gpus: tuple[Gpu, ...], pickers: dict[str, _Picker]
) -> tuple[Offer, ...]:
    gpu_ids = [gpu.gpu_id for gpu in gpus]
    live: list[ModelSpec] = []
    batch: list[ModelSpec] = []
    if role in ("live", "hybrid"):
        count = rng.choices((1, 2, 3), (55, 30, 15))[0]
        live = pickers[LIVE].pick(min(count, len(gpu_ids)))
    if role in ("hybrid", "batch"):
        batch = pickers["image"].pick(rng.randint(1, 3) if role == "hybrid" else 3)
    if role == "llm":
        batch = pickers["llm"].pick(rng.randint(1, 3))
    offers = [
        # Each live-video GPU runs one model warm, so GPUs are dealt out round-robin.
        Offer(spec, _price(rng, spec), 1, tuple(gpu_ids[i :: len(live)]))
        for i, spec in enumerate(live)
    ]
    for i, spec in enumerate(batch):
        cold = i > 0 and rng.random() < 0.15
        gpu = () if cold else (gpu_ids[i % len(gpu_ids)],)
        offers.append(Offer(spec, _price(rng, spec), 1, gpu))
    if role == "byoc":
        offers += [
            Offer(spec, _price(rng, spec), 1, tuple(gpu_ids))
            for spec in pickers[BYOC].pick(rng.randint(1, 3))
        ]
    return tuple(offers)


def _fps_factor(rng: random.Random, gpus: tuple[Gpu, ...]) -> float:
    factors = {name: factor for name, _, factor in GPU_NAMES}
    base = factors[gpus[0].name] if gpus else 1.0
    return round(base * rng.uniform(0.95, 1.05), 4)


def generate_orchestrators(seed: int) -> tuple[Orchestrator, ...]:
    rng = seeded(seed, "orchestrators")
    roles = list(_ROLES)
    rng.shuffle(roles)
    live_slots = [i for i, role in enumerate(roles) if role == "live"]
    farm = live_slots[0]  # one big GPU farm, as on the real network
    # The last live slots: the first ones receive the models nobody else offers yet.
    standby = set(live_slots[-_STANDBY_LIVE_NODES:])
    pickers = {
        LIVE: _Picker(rng, LIVE_MODELS),
        "image": _Picker(rng, IMAGE_MODELS),
        "llm": _Picker(rng, LLM_MODELS),
        BYOC: _Picker(rng, BYOC_MODELS),
    }
    nodes = []
    for i, role in enumerate([*roles, *_INVENTORY_ONLY_ROLES]):
        address = _address(rng)
        gpus = _gpus(rng, 20 if i == farm else _gpu_count(rng, role))
        nodes.append(
            Orchestrator(
                address=address,
                inventory_address=(
                    _mixed_case(rng, address) if rng.random() < 0.6 else address
                ),
                service_uri=_service_uri(rng, i + 1),
                gpus=gpus,
                offers=_offers(rng, role, gpus, pickers),
                startup_success=round(rng.uniform(0.86, 0.995), 4),
                no_swap=round(rng.uniform(0.88, 0.995), 4),
                fps_factor=_fps_factor(rng, gpus),
                uptime=0.9 if rng.random() < 0.1 else 0.995,
                traffic_weight=0.0 if i in standby else round(rng.uniform(0.6, 1.4), 3),
                heartbeat_phase_us=rng.randrange(HEARTBEAT_US),
                on_dashboard=i < len(roles),
            )
        )
    return tuple(nodes)


# ---------------------------------------------------------------------------
# Hourly activity: the rows of the hourly streaming demand / SLA / job tables.


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

    def __init__(self, world: SimWorld, index: int) -> None:
        self.world = world
        self.index = index
        self.rng = seeded(world.seed, "hour", index)
        self.intensity = traffic_intensity(index * HOUR_US) * self.rng.uniform(0.9, 1.1)
        self.online = frozenset(
            o.address for o in world.orchestrators if self.rng.random() < o.uptime
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
        servers = []
        for node in self.world.dashboard_orchestrators:
            if node.address not in self.online or node.traffic_weight == 0:
                continue
            for offer in node.live_offers:
                if offer.model == spec.model:
                    servers.append((node, node.traffic_weight * len(offer.gpu_ids)))
        return servers

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
            node = self.world.by_address[cell.address]
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
        no_orch = _binomial(rng, total, 0.02)
        success = _binomial(rng, total - no_orch, 0.97)
        duration = round(total * spec.job_ms * rng.uniform(0.85, 1.15), 1)
        return JobCell(
            spec.family, spec.pipeline, spec.model, total, no_orch, success, duration
        )


def _binomial(rng: random.Random, trials: int, probability: float) -> int:
    return sum(1 for _ in range(trials) if rng.random() < probability)


# ---------------------------------------------------------------------------
# Live streams for the job feed: a seeded arrival process over 30-second slots.

SLOT_US: Final = 30 * SECOND_US
MAX_STREAM_US: Final = 25 * 60 * SECOND_US
ARRIVALS_PER_SLOT: Final = 1.25  # x mean duration ~7.5 min => ~19 concurrent streams
_DEGRADED_STATES: Final = (
    ("degraded_input", 0.5),
    ("degraded_inference", 0.3),
    ("degraded_output", 0.2),
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


def _poisson(rng: random.Random, mean: float) -> int:
    limit = math.exp(-mean)
    count, product = 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


# ---------------------------------------------------------------------------
# Chain: L1 blocks, protocol rounds, stake and daily fee volume.

BLOCK_ANCHOR_US: Final = epoch_us(datetime(2025, 1, 1, tzinfo=UTC))
BLOCK_AT_ANCHOR: Final = 21_525_000
BLOCK_US: Final = 12 * SECOND_US
ROUND_LENGTH: Final = 5760
ANCHOR_ROUND: Final = 3600
ANCHOR_ROUND_START_BLOCK: Final = 21_521_000
FEE_HISTORY_DAYS: Final = 365
FEE_EPOCH_DAY: Final = epoch_us(datetime(2021, 1, 1, tzinfo=UTC)) // DAY_US
FEE_BLOCK_DAYS: Final = 100
WEI: Final = 10**18
FEES_BEFORE_EPOCH_WEI: Final = 2_150 * WEI  # protocol fees older than the fee epoch
FEES_BEFORE_EPOCH_USD: Final = 4_100_000 * WEI  # USD in 1e-18 units, like the wei


def decimal_string(atto: int) -> str:
    """A 1e-18 fixed-point integer as The Graph prints a BigDecimal."""
    whole, fraction = divmod(atto, WEI)
    return f"{whole}.{fraction:018d}".rstrip("0").rstrip(".")


# ---------------------------------------------------------------------------
# The world.


@dataclass(slots=True)
class _Totals:
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
class _JobTotals:
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


@dataclass(slots=True)
class _SlaTotals:
    requested: int = 0
    success: int = 0
    eff_weighted: float = 0.0
    no_swap_weighted: float = 0.0


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


class SimWorld:
    """The simulated network for one seed; every query takes the time explicitly."""

    def __init__(self, seed: int = 1) -> None:
        self.seed = seed
        self.orchestrators = generate_orchestrators(seed)
        self.dashboard_orchestrators = tuple(
            o for o in self.orchestrators if o.on_dashboard
        )
        self.by_address = {o.address: o for o in self.orchestrators}
        # 7 d window + the prior window for the orchestrator delta, plus slack.
        self._hours: BoundedMemo[int, Hour] = BoundedMemo(self._build_hour, 1200)
        self._slots = BoundedMemo(self._slot_streams, 4000)
        self._days = BoundedMemo(self._day_volume, 4000)
        self._fee_blocks = BoundedMemo(self._fee_block, 200)

    # -- hours -------------------------------------------------------------

    def _build_hour(self, index: int) -> Hour:
        return _HourBuilder(self, index).build()

    def _hour_view(self, index: int, now_us: int) -> Hour:
        full = self._hours(index)
        if (index + 1) * HOUR_US <= now_us:
            return full
        return full.scaled((now_us - index * HOUR_US) / HOUR_US)

    def _window(self, now_us: int, hours: int) -> list[Hour]:
        """Hour buckets with window_start >= now - H (the current one partial)."""
        first = -(-(now_us - hours * HOUR_US) // HOUR_US)
        return [self._hour_view(h, now_us) for h in range(first, now_us // HOUR_US + 1)]

    def _window_from_hour_start(self, now_us: int, hours: int) -> list[Hour]:
        """Hour buckets with window_start >= toStartOfHour(now - H)."""
        first = (now_us - hours * HOUR_US) // HOUR_US
        return [self._hour_view(h, now_us) for h in range(first, now_us // HOUR_US + 1)]

    def _online_between(self, start_us: int, end_us: int) -> set[str]:
        """Addresses that heartbeated in any hour overlapping [start, end)."""
        online: set[str] = set()
        for h in range(start_us // HOUR_US, -(-end_us // HOUR_US)):
            online |= self._hours(h).online
        return online

    def _observed(
        self, now_us: int, hours: int, *, dashboard: bool = True
    ) -> list[Orchestrator]:
        online = self._online_between(now_us - hours * HOUR_US, now_us)
        nodes = self.dashboard_orchestrators if dashboard else self.orchestrators
        return [o for o in nodes if o.address in online]

    def last_seen_us(self, node: Orchestrator, now_us: int) -> int | None:
        """Latest heartbeat (every 3 min at a per-node phase) in an online hour."""
        current = now_us // HOUR_US
        for h in range(current, current - 48, -1):
            if node.address in self._hours(h).online:
                end = min(now_us, (h + 1) * HOUR_US - 1)
                return end - (end - node.heartbeat_phase_us) % HEARTBEAT_US
        return None

    # -- dashboard/kpi -------------------------------------------------------

    def kpi(
        self, now: datetime, hours: int, pipeline: str = "", model_id: str = ""
    ) -> JSON:
        now_us = epoch_us(now)
        return {
            "streaming": self._streaming_kpi(now_us, hours, pipeline, model_id),
            "requests": self._jobs_overview(now_us, hours),
        }

    def _streaming_kpi(
        self, now_us: int, hours: int, pipeline: str, model_id: str
    ) -> JSON:
        starts: list[int] = []
        buckets: list[tuple[int, int]] = []  # (requested, success)
        minutes: list[float] = []
        for hour in self._window(now_us, hours):
            totals = _Totals()
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
        observed = self._stream_orchs(window_start, now_us, pipeline, model_id)
        previous = self._stream_orchs(
            window_start - hours * HOUR_US, window_start, pipeline, model_id
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
        self, start_us: int, end_us: int, pipeline: str, model_id: str
    ) -> int:
        """Distinct orchestrators with a streaming offer seen in [start, end)."""
        online = self._online_between(start_us, end_us)
        return sum(
            1
            for node in self.dashboard_orchestrators
            if node.address in online
            and any(
                (not pipeline or o.pipeline == pipeline)
                and (not model_id or o.model == model_id)
                for o in node.live_offers
            )
        )

    def _jobs_overview(self, now_us: int, hours: int) -> JSON:
        families = {BUILTIN: _JobTotals(), BYOC: _JobTotals()}
        for hour in self._window_from_hour_start(now_us, hours):
            for cell in hour.jobs:
                families[cell.family].add(cell)
        return {"ai_batch": families[BUILTIN].stats(), "byoc": families[BYOC].stats()}

    # -- dashboard/pipelines -------------------------------------------------

    def pipelines(self, now: datetime, hours: int, limit: int) -> JSON:
        now_us = epoch_us(now)
        window = self._window(now_us, hours)
        per_model: dict[tuple[str, str], _Totals] = {}
        for hour in window:
            for cell in hour.demand:
                per_model.setdefault((cell.pipeline, cell.model), _Totals()).add(cell)
        streaming = self._pipeline_rows(per_model)[:limit]
        return {
            "streaming": streaming,
            "requests": {
                "by_pipeline": self._job_rows(window, BUILTIN, "pipeline"),
                "by_capability": self._job_rows(window, BYOC, "capability"),
            },
        }

    @staticmethod
    def _pipeline_rows(per_model: dict[tuple[str, str], _Totals]) -> list[JSON]:
        by_pipeline: dict[str, list[tuple[str, _Totals]]] = {}
        for (pipeline, model), totals in sorted(per_model.items()):
            by_pipeline.setdefault(pipeline, []).append((model, totals))
        rows: list[JSON] = []
        for name, models in by_pipeline.items():
            models.sort(key=lambda item: (-item[1].requested, item[0]))
            overall = _Totals()
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

    @staticmethod
    def _job_rows(window: Iterable[Hour], family: str, label: str) -> list[JSON] | None:
        groups: dict[str, _JobTotals] = {}
        for hour in window:
            for cell in hour.jobs:
                if cell.family == family:
                    groups.setdefault(cell.pipeline, _JobTotals()).add(cell)
        ordered = sorted(groups.items(), key=lambda item: (-item[1].total, item[0]))
        # Go serialises an empty (nil) slice as null here; the BFF maps it to [].
        return [{label: name, **totals.stats()} for name, totals in ordered] or None

    # -- dashboard/orchestrators ---------------------------------------------

    def orchestrators_table(self, now: datetime, hours: int) -> list[JSON]:
        now_us = epoch_us(now)
        totals: dict[str, _SlaTotals] = {}
        latest: dict[str, tuple[int, float]] = {}  # address -> (hour start, score)
        for hour in self._window(now_us, hours):
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
            self._orchestrator_row(
                node, totals.get(node.address), latest.get(node.address)
            )
            for node in self._observed(now_us, hours)
        ]
        rows.sort(key=lambda row: (-row["knownSessions"], row["address"]))
        return rows

    @staticmethod
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

    # -- inventory-style dashboard endpoints (fixed 24 h look-back) ------------

    def gpu_capacity(self, now: datetime) -> JSON:
        now_us = epoch_us(now)
        hardware: dict[tuple[str, str], str] = {}
        per_pipeline: dict[str, dict[str, set[tuple[str, str]]]] = {}
        for node in self._observed(now_us, INVENTORY_HOURS):
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
        active = len({(s.orchestrator.address, s.gpu_id) for s in self.streams(now_us)})
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

    def pipeline_catalog(self, now: datetime) -> list[JSON]:
        catalog: dict[str, set[str]] = {}
        for node in self._observed(epoch_us(now), INVENTORY_HOURS):
            for offer in node.offers:
                if offer.warm:
                    catalog.setdefault(offer.pipeline, set()).add(offer.model)
        return [
            {"id": p, "name": p, "models": sorted(catalog[p]), "regions": []}
            for p in sorted(catalog)
        ]

    def pricing(self, now: datetime) -> list[JSON] | None:
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
            for node in self._observed(epoch_us(now), INVENTORY_HOURS)
            for offer in node.offers
        ]
        rows.sort(key=lambda r: (r["orchAddress"], r["pipeline"], r["model"]))
        return rows or None  # Go: a nil slice encodes as null

    # -- streaming/* and requests/* inventory --------------------------------

    def streaming_models(self, now: datetime) -> list[JSON]:
        now_us = epoch_us(now)
        usage: dict[str, _Totals] = {}
        for hour in self._window(now_us, INVENTORY_HOURS):
            for cell in hour.demand:
                if cell.pipeline == LIVE_PIPELINE:
                    usage.setdefault(cell.model, _Totals()).add(cell)
        active: dict[str, int] = {}
        for stream in self.streams(now_us):
            active[stream.model] = active.get(stream.model, 0) + 1
        observed = self._observed(now_us, INVENTORY_HOURS)
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
            streams = active.get(spec.model, 0)
            rows.append(
                {
                    "pipeline": LIVE_PIPELINE,
                    "model": spec.model,
                    "warm_orch_count": len(warm),
                    "gpu_slots": slots,
                    "active_streams": streams,
                    "available_capacity": slots - streams,
                    "avg_fps": round(usage.get(spec.model, _Totals()).avg_fps, 1),
                }
            )
        rows.sort(key=lambda row: (-row["warm_orch_count"], row["model"]))
        return rows

    def requests_models(self, now: datetime) -> list[JSON]:
        now_us = epoch_us(now)
        jobs: dict[tuple[str, str], _JobTotals] = {}
        for hour in self._window(now_us, INVENTORY_HOURS):
            for cell in hour.jobs:
                jobs.setdefault((cell.pipeline, cell.model), _JobTotals()).add(cell)
        offers: dict[ModelSpec, list[Offer]] = {}
        for node in self._observed(now_us, INVENTORY_HOURS):
            for offer in node.request_offers:
                offers.setdefault(offer.spec, []).append(offer)
        rows: list[JSON] = []
        for spec in REQUEST_MODELS:
            if spec not in offers:
                continue
            warm = [offer for offer in offers[spec] if offer.warm]
            stats = jobs.get((spec.pipeline, spec.model), _JobTotals()).stats()
            rows.append(
                {
                    "pipeline": spec.pipeline,
                    "model": spec.model,
                    "job_type": "ai-batch" if spec.family == BUILTIN else "byoc",
                    "warm_orch_count": len(warm),
                    "gpu_slots": (
                        sum(len(o.gpu_ids) for o in warm)
                        if spec.family == BUILTIN
                        else 0
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
        self,
        now_us: int,
        offers_of: Callable[[Orchestrator], tuple[Offer, ...]],
        listing: Callable[[tuple[Offer, ...]], list[str]],
        key: str,
    ) -> list[JSON]:
        rows: list[JSON] = []
        for node in self._observed(now_us, INVENTORY_HOURS, dashboard=False):
            offers = offers_of(node)
            seen = self.last_seen_us(node, now_us)
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

    def streaming_orchestrators(self, now: datetime) -> list[JSON]:
        return self._inventory(
            epoch_us(now),
            lambda node: node.live_offers,
            lambda offers: sorted({o.model for o in offers}),
            "models",
        )

    def requests_orchestrators(self, now: datetime) -> list[JSON]:
        return self._inventory(
            epoch_us(now),
            lambda node: node.request_offers,
            lambda offers: sorted({f"{o.pipeline}:{o.model}" for o in offers}),
            "capabilities",
        )

    # -- job feed --------------------------------------------------------------

    def _slot_streams(self, slot: int) -> tuple[Stream, ...]:
        rng = seeded(self.seed, "streams", slot)
        slot_us = slot * SLOT_US
        # A gentler curve than the hourly one keeps ~5-40 streams live at any time.
        intensity = 1 + 0.3 * math.cos(
            2 * math.pi * ((slot_us % DAY_US) / HOUR_US - 16) / 24
        )
        streams = []
        for n in range(_poisson(rng, ARRIVALS_PER_SLOT * intensity)):
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
        online = self._hours(started // HOUR_US).online
        candidates = [
            (node, offer)
            for node in self.dashboard_orchestrators
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

    def streams(self, now_us: int) -> list[Stream]:
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
        for stream in self.streams(now_us):
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

    # -- chain: blocks, rounds, stake, fees ------------------------------------

    def block_number(self, now: datetime) -> int:
        return BLOCK_AT_ANCHOR + (epoch_us(now) - BLOCK_ANCHOR_US) // BLOCK_US

    def protocol(self, now: datetime) -> JSON:
        block = self.block_number(now)
        round_id = ANCHOR_ROUND + (block - ANCHOR_ROUND_START_BLOCK) // ROUND_LENGTH
        start_block = (
            ANCHOR_ROUND_START_BLOCK + (round_id - ANCHOR_ROUND) * ROUND_LENGTH
        )
        total_eth, total_usd = self._lifetime_fees(epoch_us(now))
        return {
            "id": "0",
            "roundLength": str(ROUND_LENGTH),
            "totalActiveStake": decimal_string(self._active_stake(round_id)),
            "currentRound": {
                "id": str(round_id),
                "startBlock": str(start_block),
                "initialized": True,
            },
            "totalVolumeETH": decimal_string(total_eth),
            "totalVolumeUSD": decimal_string(total_usd),
        }

    def _active_stake(self, round_id: int) -> int:
        """Bonded LPT (in 1e-18 units), ~30-32M, redrawn once per round."""
        rng = seeded(self.seed, "stake", round_id)
        drift = 0.018 * math.sin(2 * math.pi * round_id / 97)
        drift += 0.008 * math.sin(2 * math.pi * round_id / 17)
        lpt = 31_000_000 * (1 + drift) + rng.uniform(-25_000, 25_000)
        return int(lpt * 1_000_000) * 10**12 + rng.randrange(10**12)

    def _day_volume(self, day: int) -> tuple[int, int]:
        """A full UTC day's fees: (ETH in wei, USD in 1e-18 units)."""
        rng = seeded(self.seed, "fees", day)
        weekday = (day + 3) % 7  # 1970-01-01 was a Thursday; 0 = Monday
        weekly = 0.8 if weekday >= 5 else 1.0
        trend = 1 + 0.25 * math.sin(2 * math.pi * day / 211)
        eth = min(15.0, max(2.0, 7.0 * trend * weekly * rng.uniform(0.55, 1.45)))
        wei = int(eth * 1e6) * 10**12 + rng.randrange(10**12)
        price = 3250 + 550 * math.sin(2 * math.pi * day / 173)
        price += 150 * math.sin(2 * math.pi * day / 41) + rng.uniform(-40, 40)
        cents = round(min(4000.0, max(2500.0, price)) * 100)
        return wei, wei * cents // 100

    def _fee_block(self, first_day: int) -> tuple[int, int]:
        days = [self._days(d) for d in range(first_day, first_day + FEE_BLOCK_DAYS)]
        return sum(e for e, _ in days), sum(u for _, u in days)

    def _sum_full_days(self, first: int, stop: int) -> tuple[int, int]:
        eth = usd = 0
        day = first
        while day < stop:
            aligned = (day - FEE_EPOCH_DAY) % FEE_BLOCK_DAYS == 0
            if aligned and day + FEE_BLOCK_DAYS <= stop:
                e, u = self._fee_block(day)
                day += FEE_BLOCK_DAYS
            else:
                e, u = self._days(day)
                day += 1
            eth, usd = eth + e, usd + u
        return eth, usd

    def _today_so_far(self, now_us: int) -> tuple[int, int]:
        today, elapsed = divmod(now_us, DAY_US)
        wei, usd = self._days(today)
        return wei * elapsed // DAY_US, usd * elapsed // DAY_US

    def _lifetime_fees(self, now_us: int) -> tuple[int, int]:
        today = now_us // DAY_US
        first = min(FEE_EPOCH_DAY, today - FEE_HISTORY_DAYS + 1)
        eth, usd = self._sum_full_days(first, today)
        part_eth, part_usd = self._today_so_far(now_us)
        return (
            FEES_BEFORE_EPOCH_WEI + eth + part_eth,
            FEES_BEFORE_EPOCH_USD + usd + part_usd,
        )

    def fee_days(self, now: datetime) -> list[JSON]:
        """The last 365 UTC days, ascending, today's partial day last."""
        now_us = epoch_us(now)
        today = now_us // DAY_US
        days = []
        for day in range(today - FEE_HISTORY_DAYS + 1, today + 1):
            eth, usd = self._today_so_far(now_us) if day == today else self._days(day)
            days.append(
                {
                    "id": str(day),
                    "date": day * 86_400,
                    "volumeETH": decimal_string(eth),
                    "volumeUSD": decimal_string(usd),
                }
            )
        return days
