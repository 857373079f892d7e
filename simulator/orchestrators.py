"""The fixed cast of orchestrators, generated once per seed.

42 nodes with invented addresses, `.example` service URIs, GPUs and capability
offers (pipeline, model, price) whose distributions follow a real network snapshot:
live-video-to-video dominates, most GPUs are RTX 5090/4090, one node is a big GPU
farm, two live nodes get no traffic, and two nodes are known only to the inventory
endpoints.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from simulator.catalogue import (
    BYOC,
    BYOC_MODELS,
    IMAGE_MODELS,
    LIVE,
    LIVE_MODELS,
    LLM_MODELS,
    ModelSpec,
)
from simulator.draws import seeded
from simulator.units import SECOND_US

GPU_NAMES: Final = (
    ("NVIDIA GeForce RTX 5090", 0.55, 1.08),  # name, share of nodes, FPS factor
    ("NVIDIA GeForce RTX 4090", 0.28, 1.0),
    ("NVIDIA GeForce RTX 3090", 0.06, 0.85),
    ("NVIDIA GeForce RTX 4070 Ti SUPER", 0.06, 0.82),
    ("NVIDIA RTX 6000 Ada Generation", 0.05, 0.97),
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

HEARTBEAT_US: Final = 180 * SECOND_US  # each node reports every 3 minutes


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


class Cast:
    """The seed's orchestrators and the lookups every query uses."""

    def __init__(self, seed: int) -> None:
        self.orchestrators = generate_orchestrators(seed)
        self.dashboard = tuple(o for o in self.orchestrators if o.on_dashboard)
        self.by_address = {o.address: o for o in self.orchestrators}
        # live model -> (dashboard node, its traffic weight times the offer's
        # GPUs), one per live offer of the model on a node that takes traffic, in
        # dashboard order: each hour keeps those online.
        self.live_servers: dict[str, list[tuple[Orchestrator, float]]] = {}
        for node in self.dashboard:
            if node.traffic_weight == 0:
                continue
            for offer in node.live_offers:
                weight = node.traffic_weight * len(offer.gpu_ids)
                self.live_servers.setdefault(offer.model, []).append((node, weight))
