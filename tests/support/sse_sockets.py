"""The job-feed stream over a real socket, for what only sockets show: a client
that stops reading (TCP backpressure), connections by the hundred, disconnects.

`SocketStream.open` sends the GET and reads the response head; `next_event`
reads the chunked body as server-sent events. With `small_buffers`, the client
takes in little before the server's writes have to wait (a small receive buffer
and a small reader limit), as a stalled browser tab would. Without `keep_data`,
events are kept without their data (memory tests share the process).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterable
from urllib.parse import urlsplit

from tests.support.streams import WAIT, SSEEvent, parse_sse

_SMALL = 4096


class SocketStream:
    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        keep_data: bool = True,
    ) -> None:
        self.keep_data = keep_data
        self.reader = reader
        self.writer = writer
        self.status = 0
        self.headers: dict[str, str] = {}
        self.events: list[SSEEvent] = []
        self.ended = False
        self._text = ""

    @classmethod
    async def open(
        cls,
        base_url: str,
        path: str,
        *,
        headers: Iterable[tuple[str, str]] = (),
        small_buffers: bool = False,
        keep_data: bool = True,
    ) -> SocketStream:
        url = urlsplit(base_url)
        host, port = url.hostname or "127.0.0.1", url.port or 80
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if small_buffers:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _SMALL)
        sock.setblocking(False)
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(
            sock=sock, limit=_SMALL if small_buffers else 2**16
        )
        stream = cls(reader, writer, keep_data)
        extra = "".join(f"{k}: {v}\r\n" for k, v in headers)
        writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Accept: text/event-stream\r\n{extra}\r\n".encode()
        )
        await writer.drain()
        async with asyncio.timeout(WAIT):
            head = await reader.readuntil(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        stream.status = int(lines[0].split()[1])
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                stream.headers[name.strip().lower()] = value.strip()
        return stream

    async def _chunk(self) -> bytes:
        size_line = await self.reader.readuntil(b"\r\n")
        size = int(size_line.strip(), 16)
        if size == 0:
            await self.reader.readuntil(b"\r\n")
            self.ended = True
            return b""
        data = await self.reader.readexactly(size)
        await self.reader.readexactly(2)
        return data

    async def next_event(self) -> SSEEvent | None:
        """The next event or comment; None once the server ended the body."""
        async with asyncio.timeout(WAIT):
            while "\n\n" not in self._text:
                if self.ended:
                    return None
                self._text += (await self._chunk()).decode()
        block, self._text = self._text.split("\n\n", 1)
        event = parse_sse(block)
        if not self.keep_data:
            event.data = ""
        self.events.append(event)
        return event

    async def until_id(self, seq: int) -> None:
        while True:
            event = await self.next_event()
            if event is None:
                raise AssertionError(f"the stream ended before event {seq}")
            if event.id is not None and int(event.id) >= seq:
                return

    async def until_data_events(self, count: int) -> None:
        while sum(e.id is not None for e in self.events) < count:
            if await self.next_event() is None:
                raise AssertionError("the stream ended")

    def close(self) -> None:
        self.writer.close()
