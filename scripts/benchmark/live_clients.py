"""The push rows' moving parts, in the benchmark's own process.

- `FakeFeed`: the job feed's upstream (`GET /v1/dashboard/job-feed`), 50 rows of
  which two change status at every call (a 2-row delta per poll), each call's
  version written into every row's id and its answer time noted; or, with
  `changing` off, the same rows every time.
- `SSEClient`: the job-feed stream over a raw socket, noting when each event id
  first arrives; one client (`mapper`) also reads the data to map ids to versions.
- `ws_client`: a graphql-transport-ws subscription, noting the same.
- `Fanout`: those notes: per event, how many clients got it and the last arrival.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

import orjson

ROWS = 50
SEQ = re.compile(rb"id: (\d+)\n")
VERSION = re.compile(rb'"id":"v(\d+)-r')
WS_SEQ = re.compile(rb'"seq":(\d+)')
SUBSCRIPTION = (
    "subscription { jobFeed { __typename "
    "... on JobFeedSnapshot { seq streams { id status } } "
    "... on JobFeedDelta { seq removed added { key stream { id status } } "
    "updated { key stream { id status } } } ... on JobFeedStatus { seq stale } } }"
)


@dataclass
class Fanout:
    """Per event id: how many clients got it, and when the last one did."""

    count: dict[int, int] = field(default_factory=dict)
    last: dict[int, float] = field(default_factory=dict)
    version: dict[int, int] = field(default_factory=dict)  # event id -> feed version

    def seen(self, seq: int, when: float) -> None:
        self.count[seq] = self.count.get(seq, 0) + 1
        if when > self.last.get(seq, 0.0):
            self.last[seq] = when

    def reset(self) -> None:
        self.count.clear()
        self.last.clear()


class FakeFeed:
    def __init__(self) -> None:
        self.version = 0
        self.changing = True
        self.served_at: dict[int, float] = {}
        self.calls = 0
        self.server: asyncio.Server | None = None

    def body(self) -> bytes:
        if self.changing:
            self.version += 1
        v = self.version
        rows = [
            {
                "id": f"v{v}-r{k}",
                "pipeline": "live-video-to-video",
                "model": "streamdiffusion-sdxl",
                "gateway": "gateway-use1.livepeer-sim.example",
                "orchestratorAddress": f"0x{k:040x}",
                "orchestratorUrl": f"https://node{k}.orchestrators.example:8935",
                "state": "degraded_output" if (k + v) % ROWS < 2 else "online",
                "job_type": "streaming",
                "inputFps": 29.97,
                "outputFps": 14.5,
                "firstSeen": f"2026-11-25T14:{k // 60:02d}:{k % 60:02d}Z",
                "lastSeen": "2026-11-25T14:59:00Z",
                "durationSeconds": 1234.5,
            }
            for k in range(ROWS)
        ]
        return orjson.dumps(rows)

    async def handle(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                path = head.split(b" ", 2)[1]
                body = (
                    self.body() if path.startswith(b"/v1/dashboard/job-feed") else b"[]"
                )
                self.calls += 1
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n"
                    b"content-length: %d\r\n\r\n%s" % (len(body), body)
                )
                self.served_at[self.version] = time.monotonic()
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def start(self, host: str) -> str:
        self.server = await asyncio.start_server(self.handle, host, 0)
        port = self.server.sockets[0].getsockname()[1]
        return f"http://{host}:{port}"

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()


class SSEClient(asyncio.Protocol):
    def __init__(
        self, host: str, path: str, fanout: Fanout, *, mapper: bool = False
    ) -> None:
        self.request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}\r\nAccept: text/event-stream\r\n\r\n"
        ).encode()
        self.fanout = fanout
        self.mapper = mapper
        self.tail = b""
        self.text = b""
        self.last_seq = 0
        self.ready = asyncio.get_running_loop().create_future()
        self.ended = False  # the server ended the body (the chunk of size 0)
        self.retries = 0
        self.closed = asyncio.get_running_loop().create_future()
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)  # noqa: S101
        self.transport = transport
        transport.write(self.request)

    def data_received(self, data: bytes) -> None:
        now = time.monotonic()
        window = self.tail + data
        for match in SEQ.finditer(window):
            seq = int(match.group(1))
            if seq > self.last_seq:
                self.last_seq = seq
                self.fanout.seen(seq, now)
                if not self.ready.done():
                    self.ready.set_result(None)
        self.retries += data.count(b"retry: ")
        if b"\r\n0\r\n\r\n" in window or window.endswith(b"0\r\n\r\n"):
            self.ended = True
        self.tail = window[-64:]
        if self.mapper:
            self.text += data
            self._map()

    def _map(self) -> None:
        *events, self.text = self.text.split(b"\n\n")
        for event in events:
            ids = SEQ.findall(event + b"\n")
            versions = VERSION.findall(event)
            if ids and versions:
                self.fanout.version[int(ids[-1])] = max(int(v) for v in versions)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


async def open_sse(
    host: str, port: int, path: str, fanout: Fanout, count: int, *, batch: int = 100
) -> list[SSEClient]:
    """`count` streams, opened `batch` at a time, each once its first event came."""
    loop = asyncio.get_running_loop()
    clients: list[SSEClient] = []
    for start in range(0, count, batch):
        opened = await asyncio.gather(
            *(
                loop.create_connection(
                    lambda: SSEClient(host, path, fanout), host, port
                )
                for _ in range(min(batch, count - start))
            )
        )
        batch_clients = [protocol for _, protocol in opened]
        await asyncio.wait_for(asyncio.gather(*(c.ready for c in batch_clients)), 60)
        clients.extend(batch_clients)
    return clients


async def ws_client(
    url: str, fanout: Fanout, ready: asyncio.Event, stop: asyncio.Event, *, mapper: bool
) -> None:
    """One graphql-transport-ws subscription until `stop`."""
    from websockets.asyncio.client import connect

    async with connect(
        url,
        subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        compression=None,
        max_size=None,
    ) as socket:
        await socket.send('{"type":"connection_init"}')
        await socket.recv()
        payload = {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
        await socket.send(orjson.dumps(payload).decode())
        last = 0

        async def receive() -> None:
            nonlocal last
            async for message in socket:
                now = time.monotonic()
                raw = message.encode() if isinstance(message, str) else message
                found = WS_SEQ.search(raw)
                if found is None:
                    continue
                seq = int(found.group(1))
                if seq > last:
                    last = seq
                    fanout.seen(seq, now)
                    ready.set()
                    if mapper:
                        versions = VERSION.findall(raw)
                        if versions:
                            fanout.version[seq] = max(int(v) for v in versions)

        receiver = asyncio.create_task(receive())
        await stop.wait()
        receiver.cancel()
        await asyncio.gather(receiver, return_exceptions=True)


def latencies(
    fanout: Fanout, feed: FakeFeed, seqs: Iterable[int], clients: int
) -> list[float]:
    """Per event fanned out to every client: the last arrival minus the moment the
    upstream answered the poll that made it (seconds; includes the server's poll)."""
    found = []
    for seq in seqs:
        version = fanout.version.get(seq)
        if version is None or fanout.count.get(seq, 0) < clients:
            continue
        found.append(fanout.last[seq] - feed.served_at[version])
    return found
