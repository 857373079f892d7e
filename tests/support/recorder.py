"""An ASGI wrapper around the simulator that records the upstream requests an
app makes (method, path, query, body), so a test can see exactly what a route sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import parse_qs

from starlette.applications import Starlette
from starlette.types import Message, Receive, Scope, Send


@dataclass(frozen=True, slots=True)
class UpstreamCall:
    method: str
    path: str
    query: dict[str, list[str]]
    body: bytes


@dataclass(slots=True)
class Recorder:
    """ASGI wrapper around the simulator that records every request it receives."""

    app: Starlette
    calls: list[UpstreamCall] = field(default_factory=list)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        query = parse_qs(scope["query_string"].decode(), keep_blank_values=True)
        self.calls.append(UpstreamCall(scope["method"], scope["path"], query, body))
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)

    def to(self, path: str) -> list[UpstreamCall]:
        return [call for call in self.calls if call.path == path]
