"""In-process clients of the app's long-lived responses: httpx's ASGITransport
returns only finished bodies, so these drive the ASGI interface themselves.

- `StreamClient`: one HTTP request; its body is parsed as server-sent events as
  it arrives. `stall()` makes the app's next write wait, as a client that stopped
  reading makes a socket's.
- `WSClient`: one WebSocket (graphql-transport-ws messages as JSON), with the
  denial-response extension a server like uvicorn offers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.types import ASGIApp, Message

WAIT = 10.0  # real seconds a helper waits for the app before failing the test


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


def graphql_sse(app: ASGIApp, query: str, **variables: Any) -> StreamClient:
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
