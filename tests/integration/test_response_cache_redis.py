"""Snapshots on Redis (`CACHE_URL`): storage and single flight shared by several
app instances, in process and across two real worker processes.

Needs TEST_REDIS_URL (see tests/support/redis_db.py): skipped locally without it, failed
under CI=true. Every test starts from a flushed database (`redis_test_url`).
"""

from __future__ import annotations

import asyncio
import gzip
import os
import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import IO

import httpx
import pytest
import redis.asyncio as redis
from starlette.applications import Starlette

from app.caching.snapshots import Snapshots
from simulator import Fault
from tests.support.app import serve
from tests.support.loopback import (
    free_port,
    live_simulator,
    run_checked,
    wait_until_serve,
)

ROOT = Path(__file__).resolve().parents[2]
KPI = "/api/v1/dashboard/kpi"
ENTRY_PATTERN = "naap:snap:*"  # app/caching/redis_backend.py RedisStore's namespace
DASHBOARD_FRESH = 60.0
GZIP = {"accept-encoding": "gzip"}
IDENTITY = {"accept-encoding": "identity"}

Build = Callable[..., tuple[Starlette, Starlette]]


class CacheClock:
    """A settable epoch clock for the snapshots."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def snapshots(app: Starlette) -> Snapshots:
    found: Snapshots = app.state.services.snapshots
    return found


def calls(sim: Starlette, key: str = "dashboard/kpi") -> int:
    count: int = sim.state.calls[key]
    return count


@asynccontextmanager
async def redis_client(url: str) -> AsyncIterator[redis.Redis]:
    client = redis.Redis.from_url(url)
    try:
        yield client
    finally:
        await client.aclose()


async def stored_entries(url: str) -> list[bytes | str]:
    """The response cache's entries in Redis (their keys)."""
    async with redis_client(url) as client:
        return list(await client.keys(ENTRY_PATTERN))


async def get_raw(
    http: httpx.AsyncClient, path: str, headers: dict[str, str]
) -> tuple[httpx.Response, bytes]:
    """The response and its body exactly as sent (httpx would decode gzip)."""
    async with http.stream("GET", path, headers=headers) as response:
        raw = b"".join([chunk async for chunk in response.aiter_raw()])
    return response, raw


def open_log(path: Path) -> IO[bytes]:
    return path.open("wb")


async def stop(process: asyncio.subprocess.Process) -> None:
    if process.returncode is None:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), timeout=10)
        except TimeoutError:
            process.kill()
            await process.wait()


# --- two worker processes -------------------------------------------------------------


@pytest.mark.slow
async def test_cold_key_is_fetched_once_when_two_worker_processes_share_redis(
    redis_test_url: str, tmp_path: Path
) -> None:
    async with live_simulator({"dashboard/kpi": Fault(latency=3)}) as (sim, upstream):
        env = {
            **os.environ,
            "APP_ENV": "development",
            "LOG_LEVEL": "warning",
            "CACHE_URL": redis_test_url,
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'db.sqlite'}",
            "NAAP_API_SERVER_URL": f"{upstream}/v1",
            "SUBGRAPH_URL": f"{upstream}/subgraph",
            "L1_RPC_URL": f"{upstream}/rpc",
        }
        await run_checked(sys.executable, "scripts/migrate.py", env=env)

        ports = [free_port(), free_port()]
        logs = [tmp_path / f"worker-{port}.log" for port in ports]
        workers: list[asyncio.subprocess.Process] = []
        try:
            for port, log in zip(ports, logs, strict=True):
                with open_log(log) as sink:
                    workers.append(
                        await asyncio.create_subprocess_exec(
                            sys.executable,
                            "-m",
                            "uvicorn",
                            "app.main:create_app",
                            "--factory",
                            "--host",
                            "127.0.0.1",
                            "--port",
                            str(port),
                            "--log-level",
                            "warning",
                            cwd=ROOT,
                            env=env,
                            stdout=sink,
                            stderr=sink,
                        )
                    )
            bases = [f"http://127.0.0.1:{port}" for port in ports]
            for worker, base, log in zip(workers, bases, logs, strict=True):
                await wait_until_serve(worker, base, log)

            limits = httpx.Limits(max_connections=50)
            async with (
                httpx.AsyncClient(base_url=bases[0], limits=limits, timeout=30) as a,
                httpx.AsyncClient(base_url=bases[1], limits=limits, timeout=30) as b,
            ):
                answers = await asyncio.gather(
                    *(a.get(KPI) for _ in range(50)), *(b.get(KPI) for _ in range(50))
                )
                later = [await a.get(KPI), await b.get(KPI)]
        finally:
            for worker in workers:
                await stop(worker)

        assert calls(sim) == 1
        assert [r.status_code for r in answers] == [200] * 100
        assert len({r.content for r in answers}) == 1
        assert answers[0].json()["timeframeHours"] == 24
        assert {r.headers["x-cache"] for r in answers} == {"MISS"}
        assert [r.headers["x-cache"] for r in later] == ["HIT", "HIT"]
        assert {r.content for r in later} == {answers[0].content}


# --- in process, several app instances ------------------------------------------------


async def test_cold_key_is_fetched_once_when_requests_share_a_redis_flight(
    faulty_app: Build, redis_test_url: str
) -> None:
    app, sim = faulty_app(
        {"dashboard/kpi": Fault(latency=0.5)}, cache_url=redis_test_url
    )
    async with serve(app) as http:
        answers = await asyncio.gather(*(http.get(KPI) for _ in range(100)))
    assert calls(sim) == 1
    assert {r.status_code for r in answers} == {200}
    assert len({r.content for r in answers}) == 1
    assert {r.headers["x-cache"] for r in answers} == {"MISS"}
    assert len(await stored_entries(redis_test_url)) == 1


async def test_entry_is_shared_by_app_instances_with_its_bodies_and_validators(
    faulty_app: Build, redis_test_url: str
) -> None:
    first_app, first_sim = faulty_app({}, cache_url=redis_test_url)
    second_app, second_sim = faulty_app({}, cache_url=redis_test_url)
    async with serve(first_app) as first, serve(second_app) as second:
        zipped, zipped_raw = await get_raw(first, KPI, GZIP)
        plain, plain_raw = await get_raw(first, KPI, IDENTITY)
        hit_zipped, hit_zipped_raw = await get_raw(second, KPI, GZIP)
        hit_plain, hit_plain_raw = await get_raw(second, KPI, IDENTITY)
        not_modified = await second.get(
            KPI, headers={**GZIP, "if-none-match": zipped.headers["etag"]}
        )

    assert calls(first_sim) == 1
    assert calls(second_sim) == 0
    assert (zipped.headers["x-cache"], plain.headers["x-cache"]) == ("MISS", "HIT")
    assert {hit_zipped.headers["x-cache"], hit_plain.headers["x-cache"]} == {"HIT"}
    assert hit_zipped_raw == zipped_raw
    assert hit_plain_raw == plain_raw
    assert gzip.decompress(hit_zipped_raw) == hit_plain_raw
    assert hit_zipped.headers["etag"] == zipped.headers["etag"]
    assert hit_plain.headers["etag"] == plain.headers["etag"]
    assert hit_zipped.headers["etag"] != hit_plain.headers["etag"]
    assert hit_zipped.headers["content-encoding"] == "gzip"
    assert "content-encoding" not in hit_plain.headers
    assert hit_plain.headers["vary"] == "Accept-Encoding"
    assert hit_plain.headers["content-type"] == "application/json"
    assert hit_plain.headers["x-data-source"] == "simulator"
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert not_modified.headers["x-cache"] == "HIT"


async def test_stale_redis_entry_is_served_when_upstream_is_down(
    faulty_app: Build, redis_test_url: str
) -> None:
    app, sim = faulty_app({}, cache_url=redis_test_url)
    cache_clock = CacheClock(snapshots(app).clock())
    snapshots(app).clock = cache_clock
    async with serve(app) as http:
        first = await http.get(KPI)
        sim.state.faults["dashboard/kpi"] = Fault(status=500)
        cache_clock.now += DASHBOARD_FRESH + 1
        stale = await http.get(KPI)
        await snapshots(app).drain()  # its background refresh fails
        again = await http.get(KPI)
        await snapshots(app).drain()
    for response in (stale, again):
        assert response.status_code == 200
        assert response.headers["x-cache"] == "STALE"
        assert response.content == first.content
        assert response.headers["x-data-age"] == "61"
    assert calls(sim) == 3


async def test_failure_is_not_stored_in_redis(
    faulty_app: Build, redis_test_url: str
) -> None:
    app, sim = faulty_app(
        {"dashboard/kpi": Fault(status=500)}, cache_url=redis_test_url
    )
    async with serve(app) as http:
        failed = await http.get(KPI)
        assert failed.status_code == 503
        assert failed.json()["error"]["code"] == "SERVICE_UNAVAILABLE"
        assert await stored_entries(redis_test_url) == []
        sim.state.faults.clear()
        recovered = await http.get(KPI)
    assert recovered.status_code == 200
    assert recovered.headers["x-cache"] == "MISS"
    assert calls(sim) == 2
    assert len(await stored_entries(redis_test_url)) == 1
