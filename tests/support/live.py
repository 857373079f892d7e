"""Push under test: a driven clock for the hub, and clients that read a response
as the app writes it (httpx's ASGITransport returns only finished bodies).

- `ManualTimer`: the hub's `Timer`; `await timer.advance(5)` moves its clock (and
  the simulator's and the snapshots' with it) and lets every task it woke run
  until it waits on the timer again.
- `StreamClient`: one HTTP request in process; its body is parsed as server-sent
  events as it arrives. `stall()` makes the app's next write wait, as a client
  that stopped reading makes a socket's.
- `WSClient`: one WebSocket in process (graphql-transport-ws messages as JSON).
- `Rebuilt`: a client's list rebuilt from snapshot, delta and status events.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

from tests.support.app import T0, Clock

WAIT = 10.0  # real seconds a helper waits for the app before failing the test
_SETTLE_ROUNDS = 20_000


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
        while self._sleepers and self._sleepers[0][0] <= target:
            deadline, _, future, task = heapq.heappop(self._sleepers)
            self._move_to(max(self.now, deadline))
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
        timer again, or has ended."""
        for _ in range(_SETTLE_ROUNDS):
            await asyncio.sleep(0)
            self._woken = {t for t in self._woken if not t.done()}
            if not self._woken:
                return
        raise AssertionError(f"tasks woken by the timer never settled: {self._woken}")


# --- server-sent events -------------------------------------------------------
@dataclass
class SSEEvent:
    event: str = "message"
    id: str | None = None
    data: str = ""
    retry: int | None = None
    comment: str | None = None

    def json(self) -> Any:
        return orjson.loads(self.data)


def parse_sse(block: str) -> SSEEvent:
    event = SSEEvent()
    data: list[str] = []
    for line in block.split("\n"):
        if line.startswith(":"):
            event.comment = line[1:].strip()
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "id":
            event.id = value
        elif name == "event":
            event.event = value
        elif name == "retry":
            event.retry = int(value)
    event.data = "\n".join(data)
    return event


class StreamClient:
    """One request to `app`, its response read as it is written."""

    def __init__(
        self,
        app: ASGIApp,
        path: str,
        *,
        method: str = "GET",
        headers: Iterable[tuple[str, str]] = (),
        body: bytes = b"",
    ) -> None:
        self.app = app
        target, _, query = path.partition("?")
        self.scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn
            "http_version": "1.1",
            "method": method,
            "scheme": "http",
            "path": target,
            "raw_path": target.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"test")]
            + [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": ("127.0.0.1", 50000),
            "server": ("test", 80),
        }
        self.body = body
        self.status: int | None = None
        self.headers: dict[str, str] = {}
        self.raw = b""
        self.events: list[SSEEvent] = []
        self.finished = False
        self._buffer = ""
        self._disconnect = asyncio.Event()
        self._sent_request = False
        self._started = asyncio.Event()
        self._changed = asyncio.Event()
        self._flowing = asyncio.Event()
        self._flowing.set()
        self.task: asyncio.Task[None] | None = None

    async def open(self) -> StreamClient:
        self.task = asyncio.create_task(self._run())
        async with asyncio.timeout(WAIT):
            await self._started.wait()
        return self

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._receive, self._send)
        finally:
            self.finished = True
            self._started.set()
            self._changed.set()

    async def _receive(self) -> Message:
        if not self._sent_request:
            self._sent_request = True
            return {"type": "http.request", "body": self.body, "more_body": False}
        await self._disconnect.wait()
        return {"type": "http.disconnect"}

    async def _send(self, message: Message) -> None:
        if self._disconnect.is_set():
            raise OSError("client disconnected")
        if message["type"] == "http.response.start":
            self.status = message["status"]
            self.headers = {
                k.decode().lower(): v.decode() for k, v in message.get("headers", [])
            }
            self._started.set()
            return
        await self._flowing.wait()  # a stalled client: the write waits
        chunk: bytes = message.get("body", b"")
        self.raw += chunk
        self._buffer += chunk.decode().replace("\r\n", "\n")
        while "\n\n" in self._buffer:
            block, self._buffer = self._buffer.split("\n\n", 1)
            self.events.append(parse_sse(block))
        if not message.get("more_body", False):
            self.finished = True
        self._changed.set()

    def stall(self) -> None:
        self._flowing.clear()

    def resume(self) -> None:
        self._flowing.set()

    def data_events(self) -> list[SSEEvent]:
        """The job-feed stream's events (each has an id), or GraphQL's `next`."""
        return [e for e in self.events if e.id is not None or e.event == "next"]

    @property
    def last_id(self) -> int | None:
        ids = [int(e.id) for e in self.events if e.id is not None]
        return ids[-1] if ids else None

    async def wait_for(self, ready: Callable[[StreamClient], bool]) -> None:
        async with asyncio.timeout(WAIT):
            while not ready(self):
                if self.finished and not ready(self):
                    raise AssertionError(f"the stream ended: {self.raw[-500:]!r}")
                self._changed.clear()
                await self._changed.wait()

    async def until_seq(self, seq: int) -> None:
        await self.wait_for(lambda c: (c.last_id or 0) >= seq)

    async def until_events(self, count: int) -> None:
        await self.wait_for(lambda c: len(c.data_events()) >= count)

    async def close(self) -> None:
        self._disconnect.set()
        self._flowing.set()
        if self.task is not None:
            async with asyncio.timeout(WAIT):
                await asyncio.gather(self.task, return_exceptions=True)

    async def finish(self) -> None:
        """Wait for the app to end the response by itself."""
        if self.task is not None:
            async with asyncio.timeout(WAIT):
                await asyncio.gather(self.task, return_exceptions=True)


# --- WebSockets ---------------------------------------------------------------------
class WSClient:
    """One WebSocket to `app`: `accepted`, `closed` (code, reason), or `denied`
    (an HTTP status, headers and body) once the handshake is over."""

    def __init__(
        self,
        app: ASGIApp,
        path: str = "/graphql",
        *,
        subprotocols: Iterable[str] = ("graphql-transport-ws",),
        headers: Iterable[tuple[str, str]] = (),
        denial: bool = True,
    ) -> None:
        self.app = app
        self.scope = {
            "type": "websocket",
            "asgi": {"version": "3.0", "spec_version": "2.3"},  # as uvicorn
            "http_version": "1.1",
            "scheme": "ws",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"test")]
            + [(k.lower().encode(), v.encode()) for k, v in headers],
            "client": ("127.0.0.1", 50001),
            "server": ("test", 80),
            "subprotocols": list(subprotocols),
            "extensions": {"websocket.http.response": {}} if denial else {},
        }
        self.accepted: str | bool | None = False
        self.closed: tuple[int, str] | None = None
        self.denied: tuple[int, dict[str, str], bytes] | None = None
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._handshake = asyncio.Event()
        self.task: asyncio.Task[None] | None = None
        self._inbox.put_nowait({"type": "websocket.connect"})

    async def connect(self) -> WSClient:
        self.task = asyncio.create_task(self._run())
        async with asyncio.timeout(WAIT):
            await self._handshake.wait()
        return self

    async def _run(self) -> None:
        try:
            await self.app(self.scope, self._inbox.get, self._send)
        finally:
            self._handshake.set()
            if self.closed is None and self.denied is None:
                self.closed = (1006, "app returned")
            self.messages.put_nowait({"type": "_closed"})

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        if kind == "websocket.accept":
            self.accepted = message.get("subprotocol") or True
            self._handshake.set()
        elif kind == "websocket.close":
            self.closed = (message.get("code", 1000), message.get("reason") or "")
            self._handshake.set()
            self.messages.put_nowait({"type": "_closed"})
        elif kind == "websocket.send":
            text = message.get("text") or message.get("bytes") or b""
            self.messages.put_nowait(orjson.loads(text))
        elif kind == "websocket.http.response.start":
            headers = {k.decode().lower(): v.decode() for k, v in message["headers"]}
            self.denied = (message["status"], headers, b"")
        elif kind == "websocket.http.response.body":
            assert self.denied is not None
            status, headers, body = self.denied
            self.denied = (status, headers, body + message.get("body", b""))
            if not message.get("more_body", False):
                self._handshake.set()

    async def send(self, message: Mapping[str, Any]) -> None:
        await self._inbox.put(
            {"type": "websocket.receive", "text": orjson.dumps(message).decode()}
        )

    async def receive(self) -> dict[str, Any]:
        async with asyncio.timeout(WAIT):
            return await self.messages.get()

    async def init(self) -> None:
        await self.send({"type": "connection_init"})
        ack = await self.receive()
        assert ack["type"] == "connection_ack", ack

    async def subscribe(self, op_id: str, query: str, **variables: Any) -> None:
        await self.send(
            {
                "id": op_id,
                "type": "subscribe",
                "payload": {"query": query, "variables": variables},
            }
        )

    async def wait_closed(self) -> tuple[int, str]:
        async with asyncio.timeout(WAIT):
            while self.closed is None:
                await self.messages.get()
        return self.closed

    async def close(self) -> None:
        await self._inbox.put({"type": "websocket.disconnect", "code": 1000})
        if self.task is not None:
            async with asyncio.timeout(WAIT):
                await asyncio.gather(self.task, return_exceptions=True)


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


def seconds(**delta: float) -> float:
    return timedelta(**delta).total_seconds()


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


def graphql_sse(
    app: ASGIApp, query: str = SUBSCRIPTION, **variables: Any
) -> StreamClient:
    """A GraphQL-over-SSE request (the graphql-sse protocol's distinct
    connections mode) for `query`."""
    return StreamClient(
        app,
        "/graphql",
        method="POST",
        headers=[("content-type", "application/json"), ("accept", "text/event-stream")],
        body=orjson.dumps({"query": query, "variables": variables}),
    )


def graphql_payload(kind_and_data: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    """A subscription result's `jobFeed` as (kind, payload) in the SSE shape."""
    feed = dict(kind_and_data)
    typename = feed.pop("__typename")
    kind = {"JobFeedSnapshot": "snapshot", "JobFeedDelta": "delta"}.get(
        typename, "status"
    )
    return kind, feed


async def eventually(check: Callable[[], bool]) -> None:
    """Let the event loop run until `check()` holds (WAIT real seconds at most):
    for what the app finishes on its own tasks (a cancelled subscription's
    cleanup, a stream noticing its client left)."""
    async with asyncio.timeout(WAIT):
        while not check():  # noqa: ASYNC110  (the app's state has no event to wait on)
            await asyncio.sleep(0.001)
