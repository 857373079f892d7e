"""One upstream poll per interval for every listener of the job feed, whatever
the surface: SSE streams, GraphQL subscriptions (WebSocket and SSE) and REST polls
of the same feed share one cached, single-flight snapshot. Counted at the
simulator, with the hub's clock driven (tests/support/live.py)."""

from __future__ import annotations

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from tests.support.app import Clock
from tests.support.live import (
    JOB_FEED,
    JOB_FEED_CALLS,
    STREAM,
    SUBSCRIPTION,
    drive,
)
from tests.support.streams import (
    StreamClient,
    WSClient,
    graphql_sse,
)

INTERVAL = 5.0  # JOB_FEED_PUSH_INTERVAL's default
LINGER = 30.0


def calls(simulator: Starlette) -> int:
    count: int = simulator.state.calls[JOB_FEED_CALLS]
    return count


async def test_sse_graphql_and_rest_make_one_upstream_call_per_interval(
    app: Starlette, simulator: Starlette, clock: Clock
) -> None:
    timer = drive(app, clock)
    hub = app.state.services.live
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as rest,
    ):
        asgi = manager.app
        streams = [await StreamClient(asgi, STREAM).open() for _ in range(100)]
        sockets = [await WSClient(asgi).connect() for _ in range(10)]
        for index, socket in enumerate(sockets):
            await socket.init()
            await socket.subscribe(str(index), SUBSCRIPTION, limit=50)
        graphql_streams = [
            await graphql_sse(asgi, SUBSCRIPTION, limit=50).open() for _ in range(10)
        ]
        await timer.settle()
        assert hub.listeners == 120
        assert calls(simulator) == 1  # the first poll, for all of them
        for client in streams + graphql_streams:
            await client.until_events(1)
        for socket in sockets:
            first = await socket.receive()
            assert (
                first["payload"]["data"]["jobFeed"]["__typename"] == "JobFeedSnapshot"
            )

        for interval in range(1, 7):
            for _ in range(3):  # REST polls between two pushes: served cached
                await timer.advance(INTERVAL / 4)
                response = await rest.get(JOB_FEED)
                assert response.status_code == 200
                assert response.headers["x-cache"] == "HIT"
            await timer.advance(INTERVAL / 4)
            assert calls(simulator) == 1 + interval

        for client in streams + graphql_streams:
            await client.close()
        for socket in sockets:
            await socket.close()
        await timer.settle()
        assert hub.listeners == 0
        await timer.advance(LINGER)  # still polling while the feed lingers
        lingered = calls(simulator)
        await timer.advance(10 * INTERVAL)
        assert calls(simulator) == lingered
        assert hub.feeds == {}
