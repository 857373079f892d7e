"""SIGTERM with streams open, on a server started as `make run` starts it
(scripts/serve.py): every job-feed stream ends at once with its `retry:` and a
clean end of body, GraphQL subscriptions complete and their sockets close, the
pollers stop and, with Redis, the lease is released; the process exits well
within SHUTDOWN_TIMEOUT + 1 s instead of waiting the timeout out. (And its
WebSockets refuse messages over 64 KiB.)"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import orjson
import pytest
import redis.asyncio as redis
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from tests.support.live import STREAM
from tests.support.loopback import (
    live_simulator,
    make_run_process,
    read_log,
)
from tests.support.redis_db import require_redis_url
from tests.support.sse_sockets import SocketStream

pytestmark = pytest.mark.slow

GRACE = 5  # SHUTDOWN_TIMEOUT
SIGTERMED = -signal.SIGTERM
SUBSCRIPTION = "subscription { jobFeed(limit: 5) { __typename } }"


@asynccontextmanager
async def server(
    tmp_path: Path, **env: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    async with (
        live_simulator({}) as (_sim, upstream),
        make_run_process(
            tmp_path, upstream, SHUTDOWN_TIMEOUT=str(GRACE), **env
        ) as running,
    ):
        yield running


@pytest.mark.parametrize("shared", [False, True], ids=["per-worker", "redis"])
async def test_sigterm_ends_every_stream_at_once(tmp_path: Path, shared: bool) -> None:
    env = {"CACHE_URL": require_redis_url()} if shared else {}
    if shared:
        async with redis.Redis.from_url(env["CACHE_URL"]) as client:
            await client.flushdb()
    async with server(tmp_path, **env) as (process, base_url, log):
        streams = [await SocketStream.open(base_url, STREAM) for _ in range(20)]
        for stream in streams:
            await stream.until_data_events(1)
        socket = await connect(
            base_url.replace("http", "ws") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
        )
        await socket.send(orjson.dumps({"type": "connection_init"}).decode())
        await socket.recv()
        await socket.send(
            orjson.dumps(
                {"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}}
            ).decode()
        )
        await socket.recv()  # the snapshot
        # make run's WebSockets take messages of at most 64 KiB.
        oversized = await connect(
            base_url.replace("http", "ws") + "/graphql",
            subprotocols=["graphql-transport-ws"],  # type: ignore[list-item]
            max_size=None,
        )
        await oversized.send("x" * (64 * 1024 + 1))
        with pytest.raises(ConnectionClosed) as closed:
            await oversized.recv()
        assert closed.value.rcvd is not None
        assert closed.value.rcvd.code == 1009  # message too big
        if shared:
            async with redis.Redis.from_url(env["CACHE_URL"]) as client:
                assert await client.keys("naap:live:lease:*") != []

        process.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        for stream in streams:  # each ends with a retry: and a clean end of body
            while (event := await stream.next_event()) is not None:
                last = event
            assert stream.ended
            assert last.retry is not None
            assert 2000 <= last.retry <= 10_000
            stream.close()
        messages = []
        try:
            async with asyncio.timeout(GRACE):
                async for message in socket:
                    messages.append(orjson.loads(message))
        except ConnectionClosed:
            pass
        assert {"id": "1", "type": "complete"} in messages
        async with asyncio.timeout(GRACE + 1):
            code = await process.wait()
        took = time.monotonic() - signalled

    assert code == SIGTERMED, read_log(log)
    assert took <= GRACE + 1
    assert "timeout graceful shutdown exceeded" not in read_log(log)
    if shared:
        async with redis.Redis.from_url(env["CACHE_URL"]) as client:
            assert await client.keys("naap:live:lease:*") == []
