"""`/graphql`'s long-lived connections: WebSockets and GraphQL over SSE.

Each holds one of the worker's stream slots (MAX_STREAMS_PER_WORKER) while open;
past the cap, a WebSocket handshake is answered 503 with `Retry-After` (or
refused, where the server cannot send a denial response) and a GraphQL-over-SSE
request gets a 503 GraphQL error. Only the graphql-transport-ws subprotocol is
taken: a handshake offering just the legacy graphql-ws (whose implementations
ran operations before `connection_init`) or none is refused before it opens
(403, as for an origin not in CORS_ORIGINS).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from app.context import Services
from app.graphql.refusals import refusal
from app.live.capacity import CAPACITY_MESSAGE, retry_after

TRANSPORT_WS = "graphql-transport-ws"
_DENIAL = "websocket.http.response"  # the ASGI extension for a refused handshake


def accepts_event_stream(scope: Scope) -> bool:
    for name, value in scope["headers"]:
        if name == b"accept":
            return any(
                part.split(b";", 1)[0].strip().lower() == b"text/event-stream"
                for part in value.split(b",")
            )
    return False


async def websocket(
    app: ASGIApp, services: Services, scope: Scope, receive: Receive, send: Send
) -> None:
    """A WebSocket to /graphql: checked, counted, then handed to Strawberry."""
    if TRANSPORT_WS not in scope.get("subprotocols", ()):
        await refuse(receive, send)
        return
    slots = services.streams
    if not slots.acquire("graphql-ws"):
        await deny(scope, receive, send, 503, CAPACITY_MESSAGE, retry_after())
        return
    with slots.held("graphql-ws"):
        await app(scope, receive, send)


async def event_stream(
    app: ASGIApp, services: Services, scope: Scope, receive: Receive, send: Send
) -> None:
    """A /graphql request that asks for text/event-stream, counted while open."""
    slots = services.streams
    if not slots.acquire("graphql-sse"):
        await refusal(503, CAPACITY_MESSAGE, retry_after())(scope, receive, send)
        return
    with slots.held("graphql-sse"):
        await app(scope, receive, send)


async def refuse(receive: Receive, send: Send) -> None:
    """Close a handshake before accepting it: the server answers 403."""
    await receive()  # websocket.connect
    await send({"type": "websocket.close", "code": 1008})


async def deny(
    scope: Scope,
    receive: Receive,
    send: Send,
    status: int,
    message: str,
    retry: int | None = None,
) -> None:
    """Refuse a handshake with an HTTP answer where the server can send one
    (uvicorn can, and logs it as a handshake the app did not complete), else
    with a close before accepting (403)."""
    if _DENIAL not in scope.get("extensions", {}):
        await refuse(receive, send)
        return
    await receive()  # websocket.connect
    response = refusal(status, message, retry)
    await send(
        {
            "type": "websocket.http.response.start",
            "status": status,
            "headers": response.raw_headers,
        }
    )
    await send({"type": "websocket.http.response.body", "body": response.body})
