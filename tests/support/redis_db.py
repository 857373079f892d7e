"""Redis for tests: the server named by TEST_REDIS_URL (`.ci/run` starts one).

Unset, Redis tests skip locally and fail under CI=true, like the PostgreSQL ones
(tests/support/db.py). Tests take the `redis_test_url` fixture (conftest.py): it
flushes the URL's database first, so every test starts empty; tests sharing that
database must not run at the same time (conftest.py keeps them on one xdist worker).
"""

from __future__ import annotations

import os
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis.asyncio as redis

REDIS_ENV = "TEST_REDIS_URL"


def require_redis_url() -> str:
    """TEST_REDIS_URL (a `redis://host:port/db` URL); else skip the test locally,
    or fail it under CI=true."""
    url = os.environ.get(REDIS_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(
            f"{REDIS_ENV} is not set under CI=true: the Redis tests must run "
            "(.ci/run starts a local server and sets it)",
            pytrace=False,
        )
    pytest.skip(f"set {REDIS_ENV} to run Redis tests")


def with_db(url: str, db: int) -> str:
    """`url` pointing at database number `db` instead."""
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{db}"))


async def flushed_redis_url(db: int | None = None) -> str:
    """TEST_REDIS_URL (with database `db` if given), after FLUSHDB on it."""
    url = require_redis_url()
    if db is not None:
        url = with_db(url, db)
    client = redis.Redis.from_url(url)
    try:
        await client.flushdb()
    finally:
        await client.aclose()
    return url
