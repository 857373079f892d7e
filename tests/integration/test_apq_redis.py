"""APQ with CACHE_URL: registrations live in Redis, shared by every worker, each
key expiring after APQ_TTL seconds."""

from __future__ import annotations

import hashlib
from typing import Any

import redis.asyncio as redis
from starlette.applications import Starlette

from app.graphql.apq import NAMESPACE
from app.main import create_app
from simulator import create_simulator
from tests.support.app import Clock, open_client

QUERY = "query Shared { protocol { currentRound } }"
DIGEST = hashlib.sha256(QUERY.encode()).hexdigest()
EXTENSIONS = {"persistedQuery": {"version": 1, "sha256Hash": DIGEST}}


async def test_a_registration_on_one_worker_is_a_hit_on_another(
    settings: Any, clock: Clock, redis_test_url: str
) -> None:
    simulator = create_simulator(seed=1, clock=clock)
    shared = settings.model_copy(update={"cache_url": redis_test_url, "apq_ttl": 120})
    apps: list[Starlette] = [
        create_app(shared, simulator=simulator, clock=clock) for _ in range(2)
    ]
    opened = [await open_client(app) for app in apps]
    try:
        (_, first), (_, second) = opened
        miss = await second.post("/graphql", json={"extensions": EXTENSIONS})
        assert miss.json()["errors"][0]["extensions"]["code"] == (
            "PERSISTED_QUERY_NOT_FOUND"
        )
        registered = await first.post(
            "/graphql", json={"query": QUERY, "extensions": EXTENSIONS}
        )
        hit = await second.post("/graphql", json={"extensions": EXTENSIONS})
        assert hit.json() == registered.json()
        assert hit.json()["data"]["protocol"]["currentRound"] > 0
    finally:
        for manager, http in opened:
            await http.aclose()
            await manager.__aexit__(None, None, None)
    client = redis.Redis.from_url(redis_test_url)
    try:
        assert await client.get(NAMESPACE + DIGEST) == QUERY.encode()
        assert 0 < await client.pttl(NAMESPACE + DIGEST) <= 120_000
    finally:
        await client.aclose()
