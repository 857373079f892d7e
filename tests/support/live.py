"""Push under test: a driven clock for the hub, and what a client holds.

- `ManualTimer`: the hub's `Timer`; `await timer.advance(5)` moves its clock (and
  the simulator's and the snapshots' with it) and lets every task it woke run
  until it waits on the timer again. `drive(app, clock)` installs one.
- `Rebuilt`: a client's list rebuilt from snapshot, delta and status events, and
  `assert_matches_rest`, its comparison with a REST body.
- The in-process stream and WebSocket clients are in tests/support/streams.py.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tests.support.app import T0, Clock
from tests.support.streams import WAIT, SSEEvent


class ManualTimer:
    """Monotonic seconds from 0, wall = T0 + that; `sleep` returns when `advance`
    passes its deadline."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.now = 0.0
        self.clock = clock
        self.wall0 = (clock.now if clock is not None else T0).timestamp()
        self._sleepers: list[
            tuple[float, int, asyncio.Future[None], asyncio.Task[Any] | None]
        ] = []
        self._order = itertools.count()
        self._woken: set[asyncio.Task[Any]] = set()

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> float:
        return self.wall0 + self.now

    @property
    def sleepers(self) -> int:
        return len(self._sleepers)

    async def sleep(self, seconds: float) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._woken.discard(task)
        future = asyncio.get_running_loop().create_future()
        deadline = self.now + max(0.0, seconds)
        heapq.heappush(self._sleepers, (deadline, next(self._order), future, task))
        await future

    async def advance(self, seconds: float) -> None:
        """Move the clock by `seconds`, waking sleepers in deadline order; each
        woken task runs until it sleeps again or ends."""
        target = self.now + seconds
        # Deadlines a float rounding past the target (3.33 s + 1.67 s) count too.
        while self._sleepers and self._sleepers[0][0] <= target + 1e-6:
            deadline, _, future, task = heapq.heappop(self._sleepers)
            self._move_to(max(self.now, min(deadline, target)))
            if not future.done():
                future.set_result(None)
                if task is not None:
                    self._woken.add(task)
            await self.settle()
        self._move_to(target)
        await self.settle()

    def _move_to(self, moment: float) -> None:
        if self.clock is not None and moment > self.now:
            self.clock.advance(seconds=moment - self.now)
        self.now = moment

    async def settle(self) -> None:
        """Let the event loop run until every task the timer woke waits on the
        timer again, or has ended (WAIT real seconds at most: a task may be
        waiting on a socket meanwhile, Redis for one)."""
        async with asyncio.timeout(WAIT):
            while True:
                await asyncio.sleep(0)
                self._woken = {t for t in self._woken if not t.done()}
                if not self._woken:
                    return


# --- what a client holds ------------------------------------------------------------
@dataclass
class Rebuilt:
    """A client's list, rebuilt from the events it received (SSE JSON payloads)."""

    seq: int | None = None
    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    stale: bool = False
    last_success_at: str | None = None
    snapshots: int = 0

    def apply(self, kind: str, payload: Mapping[str, Any]) -> None:
        seq = payload["seq"]
        if kind == "snapshot":
            self.rows = dict(zip(payload["keys"], payload["streams"], strict=True))
            self.stale = payload["stale"]
            self.last_success_at = payload["lastSuccessAt"]
            self.snapshots += 1
        else:
            assert self.seq is not None, "an event before the first snapshot"
            assert seq > self.seq, (self.seq, seq)
            if kind == "delta":
                for key in payload["removed"]:
                    del self.rows[key]
                for change in payload["added"] + payload["updated"]:
                    self.rows[change["key"]] = change["stream"]
            elif kind == "status":
                self.stale = payload["stale"]
                self.last_success_at = payload["lastSuccessAt"]
        self.seq = seq

    def apply_sse(self, events: Iterable[SSEEvent]) -> None:
        for event in events:
            if event.id is not None:
                self.apply(event.event, event.json())


MATERIAL = ("status", "model", "pipeline", "orchestratorUrl", "gateway")


def feed_entry(n: int, status: str = "online") -> dict[str, Any]:
    """Job-feed entry number `n`, as the upstream and the REST body carry it."""
    return {
        "id": f"e{n}",
        "pipeline": "p",
        "model": "m",
        "status": status,
        "startedAt": f"2026-11-25T14:{n:02d}:00Z",
        "gateway": "g",
        "orchestratorUrl": "o",
        "inputFps": None,
        "outputFps": None,
        "lastSeen": None,
        "durationSeconds": None,
        "runningFor": None,
    }


def assert_matches_rest(
    rows: Mapping[str, Mapping[str, Any]],
    streams: Sequence[Mapping[str, Any]],
    keys: Sequence[str],
    deadband: float,
) -> None:
    """The client's list is the REST body's: the same streams by key, the same
    material fields, and each fps within the deadband."""
    rest = dict(zip(keys, streams, strict=True))
    assert set(rows) == set(rest), sorted(set(rows) ^ set(rest))
    for key, entry in rest.items():
        held = rows[key]
        for name in MATERIAL:
            assert held[name] == entry[name], (key, name, held[name], entry[name])
        assert held["startedAt"] == entry["startedAt"]
        for name in ("inputFps", "outputFps"):
            if entry[name] is None or held[name] is None:
                assert entry[name] is held[name], (key, name)
            else:
                assert abs(held[name] - entry[name]) < deadband, (key, name)


def drive(app: Any, clock: Clock) -> ManualTimer:
    """The app's push hub and snapshots on a `ManualTimer` moving `clock` (the
    simulator's), without jitter. Call before the app's first request."""
    timer = ManualTimer(clock)
    services = app.state.services
    services.live.timer = timer
    services.live.jitter = lambda: 0.5  # the interval itself, +-0 %
    services.snapshots.clock = timer.wall
    return timer


STREAM = "/api/v1/dashboard/job-feed/stream"
JOB_FEED = "/api/v1/dashboard/job-feed"
JOB_FEED_CALLS = "dashboard/job-feed"  # the simulator's key for the upstream call
SUBSCRIPTION = """
subscription Feed($limit: Int) {
  jobFeed(limit: $limit) {
    __typename
    ... on JobFeedSnapshot { seq keys stale lastSuccessAt streams { ...Entry } }
    ... on JobFeedDelta {
      seq removed
      added { key stream { ...Entry } }
      updated { key stream { ...Entry } }
    }
    ... on JobFeedStatus { seq stale lastSuccessAt }
  }
}
fragment Entry on JobFeedEntry {
  id pipeline model status startedAt gateway orchestratorUrl inputFps outputFps
  lastSeen durationSeconds runningFor
}
"""


async def eventually(check: Callable[[], bool]) -> None:
    """Let the event loop run until `check()` holds (WAIT real seconds at most):
    for what the app finishes on its own tasks (a cancelled subscription's
    cleanup, a stream noticing its client left)."""
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110  (the app's state has no event to wait on)
            await asyncio.sleep(0.001)
