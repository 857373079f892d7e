"""`subscription { jobFeed }` over graphql-transport-ws and GraphQL over SSE: the
same events as the job-feed stream, typed; and the hardening of long-lived
GraphQL connections (legacy subprotocol, subscriptions per socket,
connection_init timeout, origins, the stream cap, the document limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.graphql.strawberry_app import MAX_SUBSCRIPTIONS
from app.main import create_app
from app.settings import Settings
from resolvers.jobs import as_graphql
from simulator import Fault
from tests.support.app import Clock
from tests.support.live import (
    STREAM,
    SUBSCRIPTION,
    ManualTimer,
    Rebuilt,
    drive,
    eventually,
)
from tests.support.streams import (
    StreamClient,
    WSClient,
    graphql_payload,
    graphql_sse,
)

INTERVAL = 5.0
SMALL = "subscription { jobFeed(limit: 3) { __typename } }"


class Running:
    def __init__(self, asgi: ASGIApp, timer: ManualTimer, app: Starlette) -> None:
        self.asgi = asgi
        self.timer = timer
        self.hub = app.state.services.live
        self.slots = app.state.services.streams


async def start(app: Starlette, clock: Clock) -> AsyncIterator[Running]:
    timer = drive(app, clock)
    async with LifespanManager(app) as manager:
        yield Running(manager.app, timer, app)


@pytest.fixture
async def running(app: Starlette, clock: Clock) -> AsyncIterator[Running]:
    async for running in start(app, clock):
        yield running


def built(
    settings: Settings, simulator: Starlette, clock: Clock, **update: Any
) -> Starlette:
    return create_app(
        settings.model_copy(update=update), simulator=simulator, clock=clock
    )


async def test_a_websocket_subscription_gets_the_streams_events_typed(
    running: Running,
) -> None:
    sse = await StreamClient(running.asgi, STREAM).open()
    socket = await WSClient(running.asgi).connect()
    assert socket.accepted == "graphql-transport-ws"
    await socket.init()
    await socket.subscribe("feed", SUBSCRIPTION, limit=50)
    await running.timer.settle()
    typed = Rebuilt()
    for _ in range(12):
        await running.timer.advance(INTERVAL)
    state = running.hub.feeds[50].state
    await sse.until_seq(state.seq)
    while typed.seq != state.seq:
        message = await socket.receive()
        assert message["type"] == "next", message
        assert message["id"] == "feed"
        typed.apply(*graphql_payload(message["payload"]["data"]["jobFeed"]))
    plain = Rebuilt()
    plain.apply_sse(sse.events)
    assert typed.rows == plain.rows  # the same entries, field for field
    await socket.send({"id": "feed", "type": "complete"})
    await eventually(lambda: running.hub.listeners == 1)
    await socket.close()
    await sse.close()


async def test_an_upstream_outage_reaches_subscribers_as_a_stale_status(
    running: Running, simulator: Starlette
) -> None:
    socket = await WSClient(running.asgi).connect()
    await socket.init()
    await socket.subscribe("feed", SUBSCRIPTION, limit=50)
    await running.timer.settle()
    first = await socket.receive()
    assert first["payload"]["data"]["jobFeed"]["__typename"] == "JobFeedSnapshot"
    simulator.state.faults["dashboard/job-feed"] = Fault(status=500)
    await running.timer.advance(INTERVAL)
    status = (await socket.receive())["payload"]["data"]["jobFeed"]
    assert status["__typename"] == "JobFeedStatus"
    assert status["stale"] is True
    assert (
        status["lastSuccessAt"] == first["payload"]["data"]["jobFeed"]["lastSuccessAt"]
    )
    await socket.close()


async def test_shutdown_completes_subscriptions_and_refuses_new_ones(
    running: Running,
) -> None:
    socket = await WSClient(running.asgi).connect()
    await socket.init()
    await socket.subscribe("before", SMALL)
    await running.timer.settle()
    assert (await socket.receive())["type"] == "next"
    running.hub.begin_shutdown()
    assert await socket.receive() == {"id": "before", "type": "complete"}
    await socket.subscribe("after", SMALL)
    refused = await socket.receive()
    assert refused["type"] == "next"
    [error] = refused["payload"]["errors"]
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    await socket.close()


async def test_subscribers_asking_the_same_share_one_execution_per_event(
    running: Running,
) -> None:
    sockets = [await WSClient(running.asgi).connect() for _ in range(4)]
    for n, socket in enumerate(sockets):
        await socket.init()
        query = SMALL.replace("limit: 3", "limit: 50") if n == 3 else SUBSCRIPTION
        await socket.subscribe("feed", query, limit=50)
    await running.timer.settle()
    answers = [await socket.receive() for socket in sockets]
    snapshot = running.hub.feeds[50].snapshot()
    assert snapshot is not None
    typed = as_graphql(snapshot)
    assert len(typed.executed) == 2  # two selections, four subscribers
    first = answers[0]["payload"]["data"]["jobFeed"]
    assert all(a["payload"]["data"]["jobFeed"] == first for a in answers[1:3])
    assert answers[3]["payload"]["data"]["jobFeed"] == {"__typename": "JobFeedSnapshot"}
    for socket in sockets:
        await socket.close()


async def test_graphql_over_sse_streams_the_same_events(running: Running) -> None:
    client = await graphql_sse(running.asgi, SUBSCRIPTION, limit=50).open()
    await running.timer.settle()
    await client.until_events(1)
    assert client.headers["content-type"].startswith("text/event-stream")
    first = orjson.loads(client.data_events()[0].data)["data"]["jobFeed"]
    assert first["__typename"] == "JobFeedSnapshot"
    assert first["seq"] == running.hub.feeds[50].state.seq
    await client.close()
    await eventually(lambda: running.hub.listeners == 0)


@pytest.mark.parametrize("subprotocols", [("graphql-ws",), ()])
async def test_the_legacy_subprotocol_is_refused_before_it_opens(
    running: Running, subprotocols: tuple[str, ...]
) -> None:
    socket = await WSClient(running.asgi, subprotocols=subprotocols).connect()
    assert socket.accepted is False
    assert socket.closed is not None  # closed before accept: the server sends 403
    assert running.hub.listeners == 0


async def test_the_sixth_subscription_on_one_socket_is_refused(
    running: Running,
) -> None:
    socket = await WSClient(running.asgi).connect()
    await socket.init()
    for n in range(MAX_SUBSCRIPTIONS + 1):
        await socket.subscribe(str(n), SMALL)
    await running.timer.settle()
    refusal = None
    seen: set[str] = set()
    while len(seen) < MAX_SUBSCRIPTIONS or refusal is None:
        message = await socket.receive()
        if message["type"] == "error":
            refusal = message
        else:
            seen.add(message["id"])
    assert MAX_SUBSCRIPTIONS == 5
    assert refusal["id"] == str(MAX_SUBSCRIPTIONS)
    assert refusal["payload"][0]["message"] == "Subscription limit reached"
    assert seen == {str(n) for n in range(MAX_SUBSCRIPTIONS)}
    await socket.close()


async def test_no_connection_init_closes_the_socket_with_4408(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    app = built(settings, simulator, clock, graphql_ws_init_timeout=0.05)
    async for running in start(app, clock):
        socket = await WSClient(running.asgi).connect()
        assert await socket.wait_closed() == (4408, "Connection initialisation timeout")


def test_the_connection_init_timeout_is_10_seconds_by_default() -> None:
    assert Settings().graphql_ws_init_timeout == 10.0


@pytest.mark.parametrize(
    ("origin", "opens"),
    [
        ("https://evil.example", False),
        ("https://dashboard.example", True),  # in CORS_ORIGINS
        ("http://test", True),  # the server's own origin
        (None, True),  # not a browser
    ],
)
async def test_cross_site_websockets_only_from_allowed_origins(
    settings: Settings,
    simulator: Starlette,
    clock: Clock,
    origin: str | None,
    opens: bool,
) -> None:
    app = built(settings, simulator, clock, cors_origins=("https://dashboard.example",))
    async for running in start(app, clock):
        headers = [("origin", origin)] if origin else []
        socket = await WSClient(running.asgi, headers=headers).connect()
        if opens:
            assert socket.accepted == "graphql-transport-ws"
            await socket.close()
        else:
            assert socket.accepted is False
            assert socket.closed is not None  # 403 at the handshake


async def test_past_the_stream_cap_graphql_gets_503_with_retry_after(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    app = built(settings, simulator, clock, max_streams_per_worker=1)
    async for running in start(app, clock):
        holder = await WSClient(running.asgi).connect()
        denied = await WSClient(running.asgi).connect()
        assert denied.accepted is False
        assert denied.denied is not None
        status, headers, body = denied.denied
        assert status == 503
        assert 2 <= int(headers["retry-after"]) <= 10
        assert (
            orjson.loads(body)["errors"][0]["extensions"]["code"]
            == "SERVICE_UNAVAILABLE"
        )
        without_denials = await WSClient(running.asgi, denial=False).connect()
        assert without_denials.closed is not None
        assert without_denials.accepted is False
        over_sse = await graphql_sse(running.asgi, SMALL).open()
        await over_sse.finish()
        assert over_sse.status == 503
        assert "retry-after" in over_sse.headers
        await holder.close()
        again = await WSClient(running.asgi).connect()
        assert again.accepted == "graphql-transport-ws"
        await again.close()


@pytest.mark.parametrize(
    ("update", "query", "message"),
    [
        (
            {"graphql_max_depth": 3},
            "subscription { jobFeed { ... on JobFeedDelta "
            "{ added { stream { id } } } } }",
            "deep",
        ),
        (
            {},
            "subscription { jobFeed { ... on JobFeedStatus { "
            + " ".join(f"a{n}: seq" for n in range(31))
            + " } } }",
            "aliases",
        ),
    ],
)
async def test_the_document_limits_hold_on_subscriptions(
    settings: Settings,
    simulator: Starlette,
    clock: Clock,
    update: dict[str, Any],
    query: str,
    message: str,
) -> None:
    app = built(settings, simulator, clock, **update)
    async for running in start(app, clock):
        socket = await WSClient(running.asgi).connect()
        await socket.init()
        await socket.subscribe("deep", query)
        refusal = await socket.receive()
        assert refusal["type"] == "error"
        assert message in refusal["payload"][0]["message"]
        over_sse = await graphql_sse(running.asgi, query).open()
        await over_sse.finish()
        errors = orjson.loads(over_sse.data_events()[0].data)["errors"]
        assert message in errors[0]["message"]
        assert running.hub.feeds == {}
        await socket.close()


async def test_the_token_limit_holds_on_subscriptions(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    app = built(settings, simulator, clock, graphql_max_tokens=100)
    long = "subscription { jobFeed { " + "__typename " * 120 + "} }"
    async for running in start(app, clock):
        socket = await WSClient(running.asgi).connect()
        await socket.init()
        await socket.subscribe("long", long)
        code, reason = await socket.wait_closed()  # a syntax error closes the socket
        assert code == 4400
        assert "100 tokens" in reason
        over_sse = await graphql_sse(running.asgi, long).open()
        await over_sse.finish()
        assert "100 tokens" in over_sse.raw.decode()
        assert running.hub.feeds == {}


async def test_a_subscription_over_plain_http_is_a_400(running: Running) -> None:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=running.asgi), base_url="http://test"
    ) as http:
        for response in (
            await http.post("/graphql", json={"query": SMALL}),
            await http.get("/graphql", params={"query": SMALL}),
        ):
            assert response.status_code == 400
            error = response.json()["errors"][0]
            assert error["extensions"]["code"] == "BAD_REQUEST"
            assert "text/event-stream" in error["message"]
    assert running.hub.feeds == {}


async def test_every_long_lived_connection_is_let_go_when_it_closes(
    running: Running,
) -> None:
    streams = [await StreamClient(running.asgi, STREAM).open() for _ in range(5)]
    graphql = [await graphql_sse(running.asgi, SMALL).open() for _ in range(5)]
    sockets = [await WSClient(running.asgi).connect() for _ in range(5)]
    for socket in sockets:
        await socket.init()
        await socket.subscribe("1", SMALL)
    await eventually(lambda: running.hub.listeners == 15)
    assert running.slots.open == {"sse": 5, "graphql-ws": 5, "graphql-sse": 5}
    for client in streams + graphql:
        await client.close()
    for socket in sockets:
        await socket.close()
    await eventually(lambda: running.hub.listeners == 0)
    assert running.slots.used == 0
