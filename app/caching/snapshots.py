"""Snapshots: the one cross-request cache of public data.

A snapshot is a public root field's resolved value for one set of canonical
arguments (`kpi` for 24 hours, `fees` for 180 days), fetched once and then shared
by every request of either surface that asks for that data. It is fresh for a
while, then served stale while one background refresh replaces it, then gone. A
missing snapshot is loaded once per key however many requests wait (across
processes with Redis); a failed load is never stored, and neither is a degraded
one (a value built without one of its optional sources).
"""

from __future__ import annotations

import asyncio
import contextvars
import hashlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from app.caching import codec
from app.caching.flight import Flight, SingleFlight
from app.caching.policy import Freshness
from app.caching.stores import Store
from app.provenance import track_data_sources

log = logging.getLogger("naap.caching")

_HEADER_END = b"\n"


class LoadContext(Protocol):
    """What a snapshot's load function gets: the services (through attributes of
    its own) and a list to record the optional sources that failed."""

    degraded: list[str]


@dataclass(frozen=True, slots=True)
class SnapshotSpec:
    """A kind of snapshot: its name (the key's prefix), its freshness class, how
    to load it from canonical arguments, and the value's type (for decoding)."""

    name: str
    freshness: str
    load: Callable[[Any, Any], Awaitable[Any]]
    kind: Any


@dataclass(frozen=True, slots=True)
class Need:
    """One snapshot a read needs: the spec and its canonical arguments."""

    spec: SnapshotSpec
    args: Any
    key: str

    @classmethod
    def of(cls, spec: SnapshotSpec, args: Any) -> Need:
        return cls(spec, args, spec.name + orjson.dumps(args).decode())


class Snapshot:
    """A loaded value with its lifetimes (epoch seconds). From Redis the value is
    decoded only when first read: a hit usually needs just the version."""

    __slots__ = (
        "_kind",
        "_raw",
        "_value",
        "degraded",
        "fetched_at",
        "fresh_until",
        "simulated",
        "stale_until",
        "version",
    )

    def __init__(
        self,
        *,
        version: str,
        fetched_at: float,
        fresh_until: float,
        stale_until: float,
        simulated: bool,
        degraded: bool,
        value: Any = None,
        raw: bytes | None = None,
        kind: Any = None,
    ) -> None:
        self.version = version
        self.fetched_at = fetched_at
        self.fresh_until = fresh_until
        self.stale_until = stale_until
        self.simulated = simulated
        self.degraded = degraded
        self._value = value
        self._raw = raw
        self._kind = kind

    @property
    def value(self) -> Any:
        if self._raw is not None:
            self._value = codec.decode(self._kind, self._raw)
            self._raw = None
        return self._value

    @classmethod
    def of(
        cls,
        value: Any,
        *,
        now: float,
        freshness: Freshness,
        simulated: bool,
        degraded: bool,
    ) -> tuple[Snapshot, bytes]:
        """A new snapshot and its value's encoding (whose hash is the version)."""
        raw = codec.encode(value)
        version = hashlib.sha256(raw).hexdigest()[:20]
        snapshot = cls(
            version=version,
            fetched_at=now,
            fresh_until=now + freshness.fresh,
            stale_until=now + freshness.fresh + freshness.stale,
            simulated=simulated,
            degraded=degraded,
            value=value,
        )
        return snapshot, raw

    def to_bytes(self, raw_value: bytes) -> bytes:
        header = orjson.dumps(
            [
                self.version,
                self.fetched_at,
                self.fresh_until,
                self.stale_until,
                self.simulated,
                self.degraded,
            ]
        )
        return header + _HEADER_END + raw_value

    @classmethod
    def from_bytes(cls, raw: bytes, kind: Any) -> Snapshot:
        header, _, value = raw.partition(_HEADER_END)
        version, fetched, fresh, stale, simulated, degraded = orjson.loads(header)
        return cls(
            version=version,
            fetched_at=fetched,
            fresh_until=fresh,
            stale_until=stale,
            simulated=simulated,
            degraded=degraded,
            raw=value,
            kind=kind,
        )


@dataclass(slots=True)
class SnapshotStats:
    loads: int = 0
    refreshes: int = 0
    stored: int = 0


@dataclass(slots=True)
class Snapshots:
    """The store, the single flight and the lifetimes, behind four calls:
    `lookup` (what is there now), `load` (fetch once, store), `refresh_in_background`
    and `read` (all of it, for a resolver outside a planned read)."""

    store: Store
    flight: SingleFlight[Snapshot] | Flight
    freshness: Mapping[str, Freshness]
    clock: Callable[[], float] = time.time
    # Builds the context a load function receives (set once the services exist).
    loader_context: Callable[[], LoadContext] | None = None
    stats: SnapshotStats = field(default_factory=SnapshotStats)
    _refreshing: dict[str, asyncio.Task[None]] = field(default_factory=dict)

    @property
    def shared(self) -> bool:
        return self.store.shared

    def in_flight(self, key: str) -> bool:
        """Whether a load of `key` is under way in this process."""
        return self.flight.in_flight(key)

    async def lookup(self, needs: Sequence[Need]) -> list[Snapshot | None]:
        """The stored snapshots that are still usable (fresh or stale)."""
        try:
            found = await self.store.get_many([need.key for need in needs])
        except Exception:  # a cache outage must not take the API down
            log.exception("snapshot store read failed")
            return [None] * len(needs)
        now = self.clock()
        snapshots: list[Snapshot | None] = []
        for need, item in zip(needs, found, strict=True):
            if item is None:
                snapshots.append(None)
                continue
            snapshot = (
                item
                if isinstance(item, Snapshot)
                else Snapshot.from_bytes(item, need.spec.kind)
            )
            snapshots.append(snapshot if now < snapshot.stale_until else None)
        return snapshots

    async def load(self, need: Need) -> Snapshot:
        """Fetch the snapshot (once per key, however many callers) and store it
        unless it is degraded. Raises what the load function raised."""
        if isinstance(self.flight, SingleFlight):

            async def fetch() -> Snapshot:
                return (await self._fetch(need))[0]

            return await self.flight.run(need.key, fetch)

        async def fetch_bytes() -> bytes:
            snapshot, raw_value = await self._fetch(need)
            return snapshot.to_bytes(raw_value)

        raw = await self.flight.run(need.key, fetch_bytes)
        return Snapshot.from_bytes(raw, need.spec.kind)

    async def _fetch(self, need: Need) -> tuple[Snapshot, bytes]:
        if self.loader_context is None:
            raise RuntimeError("Snapshots.loader_context is not set")
        self.stats.loads += 1
        context = self.loader_context()
        sources = track_data_sources()  # this load's own, in the flight's task
        value = await need.spec.load(context, need.args)
        snapshot, raw_value = Snapshot.of(
            value,
            now=self.clock(),
            freshness=self.freshness[need.spec.freshness],
            simulated="simulator" in sources,
            degraded=bool(context.degraded),
        )
        if not snapshot.degraded:
            await self._store(need.key, snapshot, raw_value)
        return snapshot, raw_value

    async def _store(self, key: str, snapshot: Snapshot, raw_value: bytes) -> None:
        ttl = max(1.0, snapshot.stale_until - self.clock())
        value: Any = snapshot.to_bytes(raw_value) if self.shared else snapshot
        try:
            await self.store.set(key, value, ttl)
        except Exception:
            log.exception("snapshot store write failed")
            return
        self.stats.stored += 1

    def refresh_in_background(self, need: Need) -> None:
        """Load `need` again in its own task, once per key at a time; failures are
        logged and the stale snapshot stays."""
        if need.key in self._refreshing:
            return
        self.stats.refreshes += 1

        async def refresh() -> None:
            try:
                snapshot = await self.load(need)
                if snapshot.degraded:
                    log.warning("background refresh degraded; keeping the stale one")
            except Exception:
                log.exception("background refresh failed; keeping the stale one")
            finally:
                self._refreshing.pop(need.key, None)

        # A fresh context: the refresh must not write into the finished request's
        # state (its deadline, its data-source labels).
        task = asyncio.create_task(refresh(), context=contextvars.Context())
        self._refreshing[need.key] = task

    async def read(self, need: Need) -> Snapshot:
        """The snapshot for a resolver outside a planned read: fresh or stale as
        stored (stale starts a refresh), else loaded now."""
        (snapshot,) = await self.lookup([need])
        if snapshot is not None:
            if self.clock() >= snapshot.fresh_until:
                self.refresh_in_background(need)
            return snapshot
        return await self.load(need)

    async def clear(self) -> None:
        await self.store.clear()

    async def drain(self) -> None:
        """Wait for background refreshes (tests and shutdown)."""
        while self._refreshing:
            await asyncio.gather(
                *list(self._refreshing.values()), return_exceptions=True
            )

    async def aclose(self) -> None:
        await self.flight.aclose()
        await self.store.aclose()
