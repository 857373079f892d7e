"""The one cached read (app/caching/read.py): rendering from snapshots."""

from __future__ import annotations

import asyncio
from typing import Any

from app.caching.flight import SingleFlight
from app.caching.plan import ReadPlan
from app.caching.policy import Freshness
from app.caching.read import CachedReads, Found, Rendered
from app.caching.snapshots import Need, Snapshot, Snapshots, SnapshotSpec
from app.caching.stores import MemoryStore


class _Context:
    def __init__(self) -> None:
        self.degraded: list[str] = []


async def _load(context: Any, args: Any) -> Any:
    return {"value": args}


SPEC = SnapshotSpec(name="thing", freshness="dashboard", load=_load, kind=None)


def _reads() -> CachedReads:
    snapshots = Snapshots(
        store=MemoryStore(),
        flight=SingleFlight[Snapshot](),
        freshness={"dashboard": Freshness(fresh=60, stale=600)},
        loader_context=_Context,
    )
    return CachedReads(snapshots)


def _plan(args: Any) -> ReadPlan:
    return ReadPlan(needs=(Need.of(SPEC, args),), freshness="dashboard")


async def test_requests_that_miss_the_memo_together_render_once() -> None:
    reads = _reads()
    await reads.read(_plan(1), "shape", _render_counting([]))  # stored, rendered
    calls: list[int] = []
    served = await asyncio.gather(
        *(
            reads.read(_plan(1), "other shape", _render_counting(calls))
            for _ in range(50)
        )
    )
    assert len(calls) == 1
    assert {s.entry.body for s in served} == {b'{"value":1}'}
    assert all(s.complete for s in served)


async def test_a_failed_render_is_not_shared_and_the_followers_render_their_own() -> (
    None
):
    reads = _reads()
    await reads.read(_plan(2), "warm", _render_counting([]))
    calls: list[int] = []

    async def render(found: Found) -> Rendered:
        calls.append(1)
        await asyncio.sleep(0)
        if len(calls) == 1:
            raise RuntimeError("the leader's render failed")
        return Rendered(200, b"ok", True)

    results = await asyncio.gather(
        *(reads.read(_plan(2), "shape", render) for _ in range(3)),
        return_exceptions=True,
    )
    assert isinstance(results[0], RuntimeError)
    assert [r.entry.body for r in results[1:]] == [b"ok", b"ok"]  # type: ignore[union-attr]
    assert len(calls) == 3
    # Nothing is left pending, and a follower's answer was memoised.
    served = await reads.read(_plan(2), "shape", render)
    assert served.entry.body == b"ok"
    assert len(calls) == 3


def _render_counting(calls: list[int]):  # type: ignore[no-untyped-def]
    async def render(found: Found) -> Rendered:
        calls.append(1)
        await asyncio.sleep(0.01)  # a render takes time: others arrive meanwhile
        snapshot = next(iter(found.values()))
        assert isinstance(snapshot, Snapshot)
        return Rendered(200, f'{{"value":{snapshot.value["value"]}}}'.encode(), True)

    return render
