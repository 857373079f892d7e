"""Redis for tests: the server named by TEST_REDIS_URL (`.ci/run` starts one).

Unset, Redis tests skip locally and fail under CI=true, like the PostgreSQL ones
(tests/support/db.py). Tests take the `redis_test_url` fixture (conftest.py): it
flushes the URL's database first, so every test starts empty. Under pytest-xdist
worker `gwN` uses database number (the URL's + N) on that server, so workers never
flush each other's: `redis://host:6390/2` with two workers uses 2 and 3.
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as redis

REDIS_ENV = "TEST_REDIS_URL"
MAX_DB = 15  # a server's default `databases 16`


def require_redis_url() -> str:
    """TEST_REDIS_URL (a `redis://host:port/db` URL), at this xdist worker's
    database number; else skip the test locally, or fail it under CI=true."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if url:
        return worker_database(url)
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(
            f"{REDIS_ENV} is not set under CI=true: the Redis tests must run "
            "(.ci/run starts a local server and sets it)",
            pytrace=False,
        )
    pytest.skip(f"set {REDIS_ENV} to run Redis tests")


def worker_database(url: str) -> str:
    """`url` itself, or under pytest-xdist its database number plus the worker's."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker:
        return url
    base = int(urlsplit(url).path.strip("/") or 0)
    number = base + int(worker.removeprefix("gw"))
    if number > MAX_DB:
        pytest.fail(
            f"{REDIS_ENV} names database {base}: worker {worker} would need "
            f"{number}, past Redis's default 16 databases; use a lower one",
            pytrace=False,
        )
    return with_db(url, number)


def with_db(url: str, db: int) -> str:
    """`url` pointing at database number `db` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


async def flushed_redis_url() -> str:
    """This worker's TEST_REDIS_URL, after FLUSHDB on it."""
    url = require_redis_url()
    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url
