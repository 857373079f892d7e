"""The one cached read: REST rows and public GraphQL queries both come here.

Given a plan (the snapshots a request needs) and a way to render its answer from
snapshots, it finds what is stored, loads what is missing (once per key), serves
stale snapshots while they refresh in the background, falls back to a stale
snapshot when a load fails, and renders the answer, or takes it from the memo
when it was rendered from the same snapshot versions before. Both surfaces
therefore answer from the same snapshot within its freshness window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Mapping
from dataclasses import dataclass, field

from app.caching.flight import FlightFailed
from app.caching.plan import ReadPlan
from app.caching.render import Entry, RenderMemo
from app.caching.snapshots import Need, Snapshot, Snapshots
from app.errors import UpstreamUnavailable
from app.metrics import CACHE_RESULTS
from app.provenance import mark_source

# What a render sees for each needed key: the snapshot, or why there is none
# (the resolver raises it, so each surface reports it as it reports any error).
Found = Mapping[str, Snapshot | Exception]


@dataclass(frozen=True, slots=True)
class Rendered:
    status: int
    body: bytes
    complete: bool  # no error and nothing degraded: may be memoised and shared


Render = Callable[[Found], Awaitable[Rendered]]


@dataclass(frozen=True, slots=True)
class Served:
    entry: Entry
    x_cache: str  # HIT, STALE or MISS
    age: int  # seconds since the oldest snapshot left the upstream
    complete: bool


@dataclass(slots=True)
class ReadStats:
    hit: int = 0
    stale: int = 0
    miss: int = 0
    stale_if_error: int = 0


# naap_cache_requests_total children, resolved once (the hit path counts too).
_RESULTS = {
    (surface, result): CACHE_RESULTS.labels(surface, result)
    for surface in ("rest", "graphql")
    for result in ("hit", "stale", "miss", "coalesced", "bypass", "error")
}


@dataclass(slots=True)
class _Gathered:
    """The snapshots of one read, and how they were obtained."""

    found: dict[str, Snapshot | Exception] = field(default_factory=dict)
    loaded: bool = False  # at least one was loaded for this read
    stale: bool = False  # at least one is served stale
    failed: bool = False  # a load failed
    errored: bool = False  # served stale because of a failure, or a flight failed
    led: bool = False  # this read started a load (rather than joining one)


@dataclass(slots=True)
class CachedReads:
    snapshots: Snapshots
    renders: RenderMemo = field(default_factory=RenderMemo)
    # Called before a read starts upstream work (a miss, or a bypass); raises to
    # refuse it: the rate limiter's `upstream` tier.
    admit: Callable[[], Awaitable[None]] | None = None
    stats: ReadStats = field(default_factory=ReadStats)
    _rendering: dict[Hashable, asyncio.Future[Entry | None]] = field(
        default_factory=dict
    )

    async def read(
        self,
        plan: ReadPlan,
        render_key: str,
        render: Render,
        *,
        bypass: bool = False,
        surface: str = "rest",
    ) -> Served:
        """The answer for `plan`. `render_key` names the request's shape (surface,
        document, variables); `bypass` (refresh=1) loads every snapshot again."""
        now = self.snapshots.clock()
        got = await self._gather(plan, bypass, now)
        complete = True
        oldest = now
        versions: list[str] = []
        for need in plan.needs:
            item = got.found[need.key]
            if isinstance(item, Exception):
                complete = False
                continue
            versions.append(item.version)
            complete = complete and not item.degraded
            oldest = min(oldest, item.fetched_at)
            if item.simulated:
                mark_source("simulator")
        if complete:
            memo_key = (render_key, *versions)
            entry = self.renders.get(memo_key)
            if entry is None:
                entry, complete = await self._render_once(memo_key, render, got.found)
        else:
            rendered = await render(got.found)
            entry = Entry.build(rendered.status, rendered.body)
        if got.loaded or (got.failed and not got.stale):
            x_cache = "MISS"
        else:
            x_cache = "STALE" if got.stale else "HIT"
        self._count(surface, x_cache, bypass=bypass, got=got)
        return Served(entry, x_cache, max(0, int(now - oldest)), complete)

    async def _render_once(
        self, memo_key: Hashable, render: Render, found: Found
    ) -> tuple[Entry, bool]:
        """Render and memoise, once for all the requests that ask at the same time:
        when a snapshot changes under load, every request in flight misses the
        memo together, and rendering the overview 50 times over stalled the loop
        for half a second. A follower whose leader failed renders for itself."""
        pending = self._rendering.get(memo_key)
        if pending is not None:
            shared = await asyncio.shield(pending)
            if shared is not None:
                return shared, True
            rendered = await render(found)
            entry = Entry.build(rendered.status, rendered.body)
            if rendered.complete:
                self.renders.put(memo_key, entry)
            return entry, rendered.complete
        done: asyncio.Future[Entry | None] = asyncio.get_running_loop().create_future()
        self._rendering[memo_key] = done
        try:
            rendered = await render(found)
            entry = Entry.build(rendered.status, rendered.body)
            if rendered.complete:
                self.renders.put(memo_key, entry)
            done.set_result(entry if rendered.complete else None)
            return entry, rendered.complete
        finally:
            if not done.done():
                done.set_result(None)
            del self._rendering[memo_key]

    async def _gather(self, plan: ReadPlan, bypass: bool, now: float) -> _Gathered:
        """Each needed snapshot: stored (stale ones refresh in the background),
        loaded, a stale one standing in for a failed load, or the failure."""
        snapshots = self.snapshots
        needs = plan.needs
        stored = await snapshots.lookup(needs)
        got = _Gathered()
        to_load = [
            (need, snap)
            for need, snap in zip(needs, stored, strict=True)
            if bypass or snap is None
        ]
        if to_load:
            if self.admit is not None:
                await self.admit()  # may refuse with RateLimited: nothing started
            got.led = any(not snapshots.in_flight(need.key) for need, _ in to_load)
            results = await asyncio.gather(
                *(snapshots.load(need) for need, _ in to_load), return_exceptions=True
            )
            for (need, previous), result in zip(to_load, results, strict=True):
                await self._settle(got, need, previous, result)
        for need, snap in zip(needs, stored, strict=True):
            if need.key in got.found or snap is None:
                continue
            got.found[need.key] = snap
            if now >= snap.fresh_until:
                got.stale = True
                snapshots.refresh_in_background(need)
        return got

    async def _settle(
        self,
        got: _Gathered,
        need: Need,
        previous: Snapshot | None,
        result: Snapshot | BaseException,
    ) -> None:
        if isinstance(result, Snapshot):
            got.found[need.key] = result
            got.loaded = True
            return
        if not isinstance(result, Exception):
            raise result  # cancellation and the like
        got.failed = True
        fallback = await self._fallback(need, previous)
        if fallback is not None:  # stale-if-error
            got.found[need.key] = fallback
            got.stale = got.errored = True
        else:
            got.errored = got.errored or isinstance(result, FlightFailed)
            got.found[need.key] = _as_error(result)

    async def _fallback(self, need: Need, stored: Snapshot | None) -> Snapshot | None:
        """A usable stale snapshot when a load failed."""
        if stored is None:
            (stored,) = await self.snapshots.lookup([need])
        if stored is not None and self.snapshots.clock() < stored.stale_until:
            self.stats.stale_if_error += 1
            return stored
        return None

    def _count(
        self, surface: str, x_cache: str, *, bypass: bool, got: _Gathered
    ) -> None:
        if got.errored:
            result = "error"
        elif x_cache == "HIT":
            result = "hit"
            self.stats.hit += 1
        elif x_cache == "STALE":
            result = "stale"
            self.stats.stale += 1
        else:
            self.stats.miss += 1
            result = "bypass" if bypass else "miss" if got.led else "coalesced"
        _RESULTS[surface, result].inc()


def _as_error(exc: Exception) -> Exception:
    if isinstance(exc, FlightFailed):  # another process's load failed
        return UpstreamUnavailable("Service unavailable")
    return exc
