"""`GET /api/v1/dashboard/job-feed/stream`: headers, framing, the snapshot that
is the REST body, Last-Event-ID, the `limit` rule, the stream cap and shutdown.
The hub's clock is driven (tests/support/live.py); streams are read in process
as the app writes them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import orjson
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.live.events import FPS_DEADBAND
from app.main import create_app
from app.settings import Settings
from simulator import Fault
from tests.support.app import Clock
from tests.support.live import (
    JOB_FEED,
    STREAM,
    ManualTimer,
    Rebuilt,
    assert_matches_rest,
    drive,
)
from tests.support.streams import (
    StreamClient,
)

INTERVAL = 5.0


class Live:
    """The app started, its hub on a driven clock, a REST client beside it."""

    def __init__(
        self, app: Starlette, asgi: ASGIApp, timer: ManualTimer, rest: httpx.AsyncClient
    ) -> None:
        self.app = app
        self.asgi = asgi
        self.timer = timer
        self.rest = rest
        self.hub = app.state.services.live

    async def stream(self, path: str = STREAM, **headers: str) -> StreamClient:
        client = await StreamClient(self.asgi, path, headers=headers.items()).open()
        await self.timer.settle()
        return client


@pytest.fixture
async def live(app: Starlette, clock: Clock) -> AsyncIterator[Live]:
    timer = drive(app, clock)
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as rest,
    ):
        yield Live(app, manager.app, timer, rest)


async def rest_body(live: Live) -> tuple[bytes, dict[str, Any]]:
    response = await live.rest.get(JOB_FEED)
    assert response.status_code == 200
    return response.content, response.json()


async def test_the_stream_is_server_sent_events_with_the_rest_cors(live: Live) -> None:
    client = await live.stream(origin="https://elsewhere.example")
    await client.until_events(1)
    assert client.status == 200
    headers = client.headers
    assert headers["content-type"] == "text/event-stream"
    assert headers["cache-control"] == "no-store, no-transform"
    assert headers["x-accel-buffering"] == "no"
    assert headers["access-control-allow-origin"] == "*"
    assert headers["x-data-source"] == "simulator"
    assert "x-request-id" in headers
    retry, snapshot = client.events[:2]
    assert retry.retry is not None
    assert 2000 <= retry.retry <= 10_000
    assert snapshot.event == "snapshot"
    assert snapshot.id == str(snapshot.json()["seq"])
    await client.close()


async def test_the_snapshot_is_the_rest_body_of_the_same_poll(live: Live) -> None:
    follower = await live.stream()
    await follower.until_events(1)
    for _ in range(12):  # a minute of polls; streams start, change and end
        await live.timer.advance(INTERVAL)
        raw, body = await rest_body(live)
        joiner = await live.stream()
        await joiner.until_events(1)
        [snapshot] = joiner.data_events()
        payload = snapshot.json()
        streams = orjson.dumps(body["streams"])
        assert orjson.dumps(payload["streams"]) == streams
        assert b'{"streams":' + streams in raw  # the very bytes of the REST body
        assert snapshot.data.encode().count(streams) == 1
        await joiner.close()
        # The client that followed by deltas holds the same list.
        state = live.hub.feeds[50].state
        await follower.until_seq(state.seq)
        rebuilt = Rebuilt()
        rebuilt.apply_sse(follower.events)
        assert_matches_rest(
            rebuilt.rows, body["streams"], payload["keys"], FPS_DEADBAND
        )
    seqs = [int(e.id) for e in follower.data_events() if e.id is not None]
    assert seqs == sorted(set(seqs))  # strictly increasing
    assert len(seqs) > 3, "no delta in a minute of the simulator's feed"
    await follower.close()


async def test_every_event_has_an_id_and_a_ping_comes_every_15_s(live: Live) -> None:
    client = await live.stream()
    await client.until_events(1)
    await live.timer.advance(14)
    assert not any(e.comment == "ping" for e in client.events)
    await live.timer.advance(1)
    await client.wait_for(lambda c: any(e.comment == "ping" for e in c.events))
    await live.timer.advance(60)
    await client.wait_for(lambda c: sum(e.comment == "ping" for e in c.events) == 5)
    assert all(e.id is not None for e in client.events if e.event != "message")
    await client.close()


async def test_last_event_id_resumes_without_a_snapshot(live: Live) -> None:
    keeper = await live.stream()  # keeps the feed polling meanwhile
    client = await live.stream()
    await client.until_events(1)
    last = client.last_id
    await client.close()
    feed = live.hub.feeds[50]
    for _ in range(12):  # until something changed (a few polls at most)
        await live.timer.advance(INTERVAL)
        missed = [e.seq for e in feed.ring if e.seq > (last or 0)]
        if missed:
            break
    assert missed, "nothing changed in a minute"
    back = await live.stream(**{"last-event-id": str(last)})
    await back.until_seq(missed[-1])
    assert [int(e.id) for e in back.data_events() if e.id] == missed
    assert all(e.event != "snapshot" for e in back.data_events())
    await back.close()
    await keeper.close()


@pytest.mark.parametrize("last_event_id", ["1", "99999999999999999999", "abc", ""])
async def test_an_unknown_last_event_id_gets_a_snapshot(
    live: Live, last_event_id: str
) -> None:
    client = await live.stream(**{"last-event-id": last_event_id})
    await client.until_events(1)
    assert client.data_events()[0].event == "snapshot"
    await client.close()


@pytest.mark.parametrize(
    ("query", "limit"),
    [("", 50), ("?limit=3", 3), ("?limit=0", 1), ("?limit=x", 50), ("?limit=500", 200)],
)
async def test_limit_follows_the_job_feed_rule(
    live: Live, query: str, limit: int
) -> None:
    client = await live.stream(STREAM + query)
    await client.until_events(1)
    assert set(live.hub.feeds) == {limit}
    assert len(client.data_events()[0].json()["streams"]) <= limit
    await client.close()


async def test_head_answers_the_headers_only(live: Live) -> None:
    response = await live.rest.head(STREAM)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.content == b""
    assert live.hub.feeds == {}


async def test_an_upstream_outage_is_a_stale_status_not_an_error(
    app: Starlette, clock: Clock, simulator: Starlette
) -> None:
    timer = drive(app, clock)
    async with LifespanManager(app) as manager:
        client = await StreamClient(manager.app, STREAM).open()
        await timer.settle()
        await client.until_events(1)
        simulator.state.faults["dashboard/job-feed"] = Fault(status=500)
        await timer.advance(INTERVAL)
        await client.until_events(2)
        status = client.data_events()[1]
        assert status.event == "status"
        assert status.json()["stale"] is True
        assert status.json()["lastSuccessAt"].endswith("Z")
        simulator.state.faults.clear()
        await timer.advance(30)  # the backoff: 1, 2, 5, 10, 15 s
        await client.wait_for(
            lambda c: any(
                e.event == "status" and e.json()["stale"] is False for e in c.events
            )
        )
        await client.close()


async def test_past_the_stream_cap_it_is_503_with_retry_after(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    app = create_app(
        settings.model_copy(update={"max_streams_per_worker": 2}),
        simulator=simulator,
        clock=clock,
    )
    timer = drive(app, clock)
    async with LifespanManager(app) as manager:
        held = [await StreamClient(manager.app, STREAM).open() for _ in range(2)]
        await timer.settle()
        refused = await StreamClient(manager.app, STREAM).open()
        await refused.finish()
        assert refused.status == 503
        assert 2 <= int(refused.headers["retry-after"]) <= 10
        assert refused.headers["cache-control"] == "no-store"
        assert orjson.loads(refused.raw)["error"]["code"] == "SERVICE_UNAVAILABLE"
        await held[0].close()
        again = await StreamClient(manager.app, STREAM).open()
        assert again.status == 200
        for client in (held[1], again):
            await client.close()


async def test_shutdown_ends_each_stream_with_a_retry(live: Live) -> None:
    clients = [await live.stream() for _ in range(3)]
    for client in clients:
        await client.until_events(1)
    live.hub.begin_shutdown()
    for client in clients:
        await client.finish()
        assert client.finished
        assert client.events[-1].retry is not None
        assert 2000 <= client.events[-1].retry <= 10_000
    refused = await StreamClient(live.asgi, STREAM).open()
    await refused.finish()
    assert refused.status == 503
    assert "retry-after" in refused.headers


async def test_the_stream_is_in_the_openapi_document(live: Live) -> None:
    document = (await live.rest.get("/openapi.json")).json()
    operation = document["paths"][STREAM]["get"]
    assert "text/event-stream" in operation["responses"]["200"]["content"]
    parameters = {p["name"]: p for p in operation["parameters"]}
    assert parameters["limit"]["schema"] == {
        "type": "integer",
        "minimum": 1,
        "maximum": 200,
        "default": 50,
    }
    assert parameters["Last-Event-ID"]["in"] == "header"
    assert {"200", "429", "503"} <= set(operation["responses"])
