"""`GET /api/v1/dashboard/job-feed/stream`: the job feed pushed as server-sent
events, and the read that feeds it.

`JobFeedReader` is the hub's poll: the REST route's own snapshot (planned from
the route's selection with `limit` as a variable, so `limit=50` is the very
snapshot `GET /api/v1/dashboard/job-feed` reads), loaded through the same single
flight, then rendered by executing that selection: each entry is the REST body's,
byte for byte. `job_feed_stream` writes a listener's events as they come: a first
`retry:` drawn from 2-10 s, `id: <seq>` on every event, `: ping` every 15 s,
`Last-Event-ID` resumption, and a last `retry:` when the server shuts down.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Final
from urllib.parse import unquote_plus

import orjson
import strawberry
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    OperationDefinitionNode,
    parse,
    print_ast,
)
from starlette.types import Message, Receive, Scope, Send

from app.caching.plan import plan_read
from app.caching.snapshots import Need
from app.context import Context, Services
from app.inputs import limit as clamp_limit
from app.live.capacity import CAPACITY_MESSAGE, retry_after
from app.live.hub import FeedClosed, Polled
from app.live.subscriber import Ping, Subscriber
from app.provenance import mark_source
from app.schema import PUBLIC_FIELDS, graphql_schema
from rest_facade.envelope import BARE
from rest_facade.prepare import OPERATIONS_DIR

log = logging.getLogger("naap.live.sse")

REST_OPERATION = "DashboardJobFeed"
LIVE_OPERATION = "LiveJobFeed"
DEFAULT_LIMIT = 50
RETRY_MS: Final = (2000, 10_000)  # each connection's `retry:`, drawn in this range
MAX_EVENT_ID = 19  # digits: a Last-Event-ID longer than that is not ours
SSE_HEADERS: Final = (
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-store, no-transform"),
    (b"x-accel-buffering", b"no"),
)
PING_FRAME: Final = b": ping\n\n"
SHUTDOWN_MESSAGE = "The server is shutting down; retry shortly"


def live_document() -> str:
    """The REST operation's selection of `jobFeed`, with `limit` as a variable."""
    source = (OPERATIONS_DIR / f"{REST_OPERATION}.graphql").read_text(encoding="utf-8")
    document = parse(source)
    operation = next(
        d for d in document.definitions if isinstance(d, OperationDefinitionNode)
    )
    (field,) = (
        s for s in operation.selection_set.selections if isinstance(s, FieldNode)
    )
    selection = print_ast(field.selection_set) if field.selection_set else ""
    fragments = [
        print_ast(d)
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    ]
    return "\n".join(
        [
            f"query {LIVE_OPERATION}($limit: Int) {{ jobFeed(limit: $limit) "
            f"{selection} }}",
            *fragments,
        ]
    )


class JobFeedReader:
    """The hub's poll: `(limit, seen) -> Polled`. A stored snapshot is used when
    it is fresh and newer than what the feed last had (a REST request or another
    worker loaded it since); otherwise it is loaded, joining any load in flight."""

    def __init__(self, schema: strawberry.Schema, services: Services) -> None:
        self.schema = schema
        self.services = services
        self.query = live_document()
        self.document: DocumentNode = parse(self.query)
        self._needs: dict[int, Need] = {}

    def need(self, limit: int) -> Need:
        need = self._needs.get(limit)
        if need is None:
            plan = plan_read(
                graphql_schema(self.schema),
                self.document,
                LIVE_OPERATION,
                {"limit": limit},
                PUBLIC_FIELDS,
            )
            if plan is None or len(plan.needs) != 1:  # pragma: no cover
                raise RuntimeError(f"{LIVE_OPERATION} does not plan to one snapshot")
            need = self._needs[limit] = plan.needs[0]
        return need

    async def __call__(self, limit: int, seen: float | None) -> Polled:
        need = self.need(limit)
        snapshots = self.services.snapshots
        (stored,) = await snapshots.lookup([need])
        if (
            stored is not None
            and snapshots.clock() < stored.fresh_until
            and (seen is None or stored.fetched_at > seen)
        ):
            snapshot = stored
        else:
            snapshot = await snapshots.load(need)
        context = Context(services=self.services, found={need.key: snapshot})
        result = await self.schema.execute(
            self.query,
            variable_values={"limit": limit},
            context_value=context,
            operation_name=LIVE_OPERATION,
        )
        if result.errors or not result.data:
            message = result.errors[0].message if result.errors else "no data"
            raise RuntimeError(f"{LIVE_OPERATION}: {message}")
        feed: dict[str, Any] = result.data["jobFeed"]
        streams = None if feed["queryFailed"] else feed["streams"]
        return Polled(streams, snapshot.fetched_at)


def _last_event_id(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"last-event-id":
            text = value.strip()
            if text.isdigit() and len(text) <= MAX_EVENT_ID:
                return int(text)
            return None
    return None


def _limit(scope: Scope) -> int:
    for part in scope["query_string"].split(b"&"):
        name, _, value = part.partition(b"=")
        if name == b"limit":  # the first one, as URLSearchParams.get
            return clamp_limit(unquote_plus(value.decode("latin-1")), DEFAULT_LIMIT)
    return DEFAULT_LIMIT


def _retry_frame() -> bytes:
    return b"retry: %d\n\n" % random.randint(*RETRY_MS)  # noqa: S311  (spreading)


async def _unavailable(send: Send, message: str) -> None:
    body = orjson.dumps(BARE.error("SERVICE_UNAVAILABLE", message))
    await send(
        {
            "type": "http.response.start",
            "status": 503,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"retry-after", str(retry_after()).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class JobFeedStream:
    """The plain route's endpoint, an ASGI app (Starlette routes to it as is)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await job_feed_stream(scope, receive, send)


async def job_feed_stream(scope: Scope, receive: Receive, send: Send) -> None:
    services: Services = scope["app"].state.services
    if services.settings.naap_api_server_url is None:
        mark_source("simulator")
    if scope["method"] == "HEAD":
        await send(
            {"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)}
        )
        await send({"type": "http.response.body", "body": b""})
        return
    slots = services.streams
    if not slots.acquire("sse"):
        await _unavailable(send, CAPACITY_MESSAGE)
        return
    with slots.held("sse"):
        try:
            subscriber = services.live.subscribe(_limit(scope), _last_event_id(scope))
        except FeedClosed:
            await _unavailable(send, SHUTDOWN_MESSAGE)
            return
        try:
            await _stream(subscriber, receive, send)
        finally:
            services.live.unsubscribe(subscriber)


async def _stream(subscriber: Subscriber, receive: Receive, send: Send) -> None:
    gone = False

    async def watch() -> None:
        nonlocal gone
        while True:
            message: Message = await receive()
            if message["type"] == "http.disconnect":
                gone = True
                subscriber.close()
                return

    watcher = asyncio.create_task(watch())
    try:
        await send(
            {"type": "http.response.start", "status": 200, "headers": list(SSE_HEADERS)}
        )
        await send(
            {"type": "http.response.body", "body": _retry_frame(), "more_body": True}
        )
        while True:
            item = await subscriber.next()
            if item is None:
                break
            body = PING_FRAME if isinstance(item, Ping) else item.sse
            await send({"type": "http.response.body", "body": body, "more_body": True})
        if not gone:  # shutting down: when to come back, then a clean end
            await send({"type": "http.response.body", "body": _retry_frame()})
    except OSError:  # the client went away mid-write
        pass
    finally:
        watcher.cancel()
