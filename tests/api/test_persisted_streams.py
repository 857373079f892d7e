"""Persisted operations over `/graphql`'s streams: a graphql-transport-ws
`subscribe` and a GraphQL-over-SSE request may name a registered operation by
`extensions.persistedQuery.sha256Hash` (without `query`), register one by APQ,
and are judged by the same `PERSISTED_OPERATIONS` policy as POST and GET;
refusals arrive as GraphQL errors on the stream, never as a broken one."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock, auth
from tests.support.live import SUBSCRIPTION, ManualTimer, drive
from tests.support.persisted import APQ_QUERY, SOURCE, persisted, sha256
from tests.support.streams import StreamClient, WSClient

FEED = sha256(SUBSCRIPTION)
PROTOCOL = SOURCE["DashboardProtocol"].decode()


class Running:
    def __init__(self, asgi: ASGIApp, timer: ManualTimer) -> None:
        self.asgi = asgi
        self.timer = timer


@pytest.fixture
def manifest(tmp_path: Path) -> str:
    """The dashboard plugin's build output, say: the job-feed subscription."""
    path = tmp_path / "plugin-operations.json"
    operation = {
        "id": FEED,
        "body": SUBSCRIPTION,
        "name": "Feed",
        "type": "subscription",
    }
    path.write_text(
        json.dumps(
            {
                "format": "apollo-persisted-query-manifest",
                "version": 1,
                "operations": [operation],
            }
        ),
        encoding="utf-8",
    )
    return str(path)


@pytest.fixture
def start(settings: Settings, simulator: Starlette, clock: Clock, manifest: str) -> Any:
    async def run(**overrides: Any) -> AsyncIterator[Running]:
        update = {"persisted_operations_files": (manifest,), **overrides}
        app = create_app(
            settings.model_copy(update=update), simulator=simulator, clock=clock
        )
        timer = drive(app, clock)
        async with LifespanManager(app) as manager:
            yield Running(manager.app, timer)

    return run


@pytest.fixture
async def audit(start: Any) -> AsyncIterator[Running]:
    async for running in start():
        yield running


@pytest.fixture
async def enforcing(start: Any) -> AsyncIterator[Running]:
    async for running in start(persisted_operations="enforce-anonymous"):
        yield running


async def subscribe(
    socket: WSClient, op_id: str, payload: dict[str, Any]
) -> dict[str, Any]:
    await socket.send({"id": op_id, "type": "subscribe", "payload": payload})
    return await socket.receive()


def codes(message: dict[str, Any]) -> list[str]:
    """The error codes of a WebSocket `error` message (or a `next` with errors)."""
    payload = message["payload"]
    errors = payload if isinstance(payload, list) else payload.get("errors", [])
    return [(e.get("extensions") or {}).get("code", "") for e in errors]


async def opened(app: ASGIApp, **headers: str) -> WSClient:
    socket = await WSClient(app, headers=list(headers.items())).connect()
    await socket.init()
    return socket


# --- WebSockets ------------------------------------------------------------------


async def test_a_websocket_subscription_by_hash_alone_streams_the_feed(
    audit: Running,
) -> None:
    socket = await opened(audit.asgi)
    await socket.send(
        {
            "id": "feed",
            "type": "subscribe",
            "payload": {"extensions": persisted(FEED), "variables": {"limit": 5}},
        }
    )
    await audit.timer.settle()
    first = await socket.receive()
    assert first["type"] == "next", first
    assert first["payload"]["data"]["jobFeed"]["__typename"] == "JobFeedSnapshot"
    await socket.close()


async def test_a_query_by_hash_over_a_websocket_answers_as_post_does(
    audit: Running,
) -> None:
    socket = await opened(audit.asgi)
    by_hash = await subscribe(socket, "q", {"extensions": persisted(sha256(PROTOCOL))})
    assert by_hash["type"] == "next", by_hash
    assert await socket.receive() == {"id": "q", "type": "complete"}
    by_text = await subscribe(socket, "t", {"query": PROTOCOL})
    assert by_hash["payload"] == by_text["payload"]
    assert by_hash["payload"]["data"]["protocol"]["currentRound"] > 0
    await socket.close()


async def test_apq_over_a_websocket_misses_registers_then_hits(audit: Running) -> None:
    socket = await opened(audit.asgi)
    digest = sha256(APQ_QUERY)
    miss = await subscribe(socket, "1", {"extensions": persisted(digest)})
    assert (miss["type"], codes(miss)) == ("error", ["PERSISTED_QUERY_NOT_FOUND"])
    registered = await subscribe(
        socket, "2", {"query": APQ_QUERY, "extensions": persisted(digest)}
    )
    assert registered["type"] == "next", registered
    await socket.receive()  # complete
    hit = await subscribe(socket, "3", {"extensions": persisted(digest)})
    assert hit["payload"] == registered["payload"]
    await socket.receive()  # complete
    wrong = await subscribe(
        socket, "4", {"query": PROTOCOL, "extensions": persisted(digest)}
    )
    assert codes(wrong) == ["PERSISTED_QUERY_HASH_MISMATCH"]
    assert socket.closed is None  # refusals are per operation, not per socket
    await socket.close()


async def test_enforce_anonymous_over_a_websocket(enforcing: Running) -> None:
    anonymous = await opened(enforcing.asgi)
    refused = await subscribe(
        anonymous, "adhoc", {"query": "subscription { jobFeed { __typename } }"}
    )
    assert (refused["type"], codes(refused)) == (
        "error",
        ["PERSISTED_OPERATION_REQUIRED"],
    )
    await anonymous.send(
        {
            "id": "feed",
            "type": "subscribe",
            "payload": {"extensions": persisted(FEED), "variables": {"limit": 5}},
        }
    )
    await enforcing.timer.settle()
    assert (await anonymous.receive())["type"] == "next"
    await anonymous.close()
    holder = await opened(enforcing.asgi, **auth())
    ad_hoc = await subscribe(holder, "q", {"query": APQ_QUERY})
    assert ad_hoc["payload"]["data"]["protocol"]["currentRound"] > 0
    await holder.close()


async def test_a_malformed_extensions_object_closes_with_4400(audit: Running) -> None:
    socket = await opened(audit.asgi)
    await socket.send(
        {
            "id": "x",
            "type": "subscribe",
            "payload": {"query": PROTOCOL, "extensions": 3},
        }
    )
    code, reason = await socket.wait_closed()
    assert code == 4400
    assert "extensions" in reason


async def test_a_persisted_query_of_the_wrong_shape_is_an_operation_error(
    audit: Running,
) -> None:
    socket = await opened(audit.asgi)
    bad = await subscribe(
        socket, "x", {"extensions": {"persistedQuery": {"version": 2}}}
    )
    assert (bad["type"], codes(bad)) == ("error", ["BAD_REQUEST"])
    await socket.close()


# --- GraphQL over SSE --------------------------------------------------------------


def sse(app: ASGIApp, body: dict[str, Any]) -> StreamClient:
    return StreamClient(
        app,
        "/graphql",
        method="POST",
        headers=[("content-type", "application/json"), ("accept", "text/event-stream")],
        body=orjson.dumps(body),
    )


async def test_graphql_over_sse_by_hash_alone_streams_the_feed(audit: Running) -> None:
    client = await sse(
        audit.asgi, {"extensions": persisted(FEED), "variables": {"limit": 5}}
    ).open()
    await audit.timer.settle()
    await client.until_events(1)
    assert client.status == 200
    first = orjson.loads(client.data_events()[0].data)
    assert first["data"]["jobFeed"]["__typename"] == "JobFeedSnapshot"
    await client.close()


async def test_graphql_over_sse_refusals_are_graphql_errors(
    enforcing: Running,
) -> None:
    unknown = await sse(enforcing.asgi, {"extensions": persisted("0" * 64)}).open()
    await unknown.finish()
    ad_hoc = await sse(
        enforcing.asgi, {"query": "subscription { jobFeed { __typename } }"}
    ).open()
    await ad_hoc.finish()
    for client, code in (
        (unknown, "PERSISTED_QUERY_NOT_FOUND"),
        (ad_hoc, "PERSISTED_OPERATION_REQUIRED"),
    ):
        assert client.status == 200, client.raw
        [event] = client.data_events()
        errors = orjson.loads(event.data)["errors"]
        assert [e["extensions"]["code"] for e in errors] == [code]
        assert b"complete" in client.raw  # the stream ends cleanly
