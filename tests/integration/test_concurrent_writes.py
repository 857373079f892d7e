"""Concurrent writes through the API, on SQLite and PostgreSQL: many clients
creating keys at once all succeed, one raw key sent at once is registered once,
and nothing is half-written.

On SQLite the app's writers queue in process before taking the database's write
lock (app/db.py). The busy timeout is cut to BUSY_MS here, so writers left to
contend in SQLite's busy handler instead would show up as 503s.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db import Database
from app.developer.keystore import DUPLICATE_KEY_MESSAGE
from app.settings import Settings
from tests.support.app import auth, make_settings
from tests.support.db import BACKENDS, fresh_database, sqlite_url
from tests.support.developer import KEYS, error_of, new_raw_key, ok, provider_ids

# Far below the 5 s default: writers left to contend in SQLite's busy handler pass
# it by the hundred, while writers that take turns in process never wait on it.
BUSY_MS = 20
CLIENTS = 50
CREATES = 300
SAME_KEY = 20
TABLES = ("dev_api_key", "dev_api_project", "dev_api_usage_log")


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, database_url: str) -> str:
    """SQLite's `database_url`, or this worker's PostgreSQL database (created once
    per session, outside any event loop); PostgreSQL skips locally when
    TEST_POSTGRES_URL is unset and fails under CI=true."""
    if request.param == "sqlite":
        return database_url
    postgres: str = request.getfixturevalue("postgres_url")
    return postgres


@pytest.fixture
async def url(backend_url: str, tmp_path: Path) -> str:
    """A migrated, seeded database of each backend."""
    if backend_url.startswith("postgresql"):
        await (await fresh_database("postgresql", tmp_path)).aclose()
    return backend_url


@pytest.fixture
def settings(url: str) -> Settings:
    return make_settings(database_url=url, db_busy_timeout_ms=BUSY_MS)


@pytest.fixture
def quick_key_hash(monkeypatch: pytest.MonkeyPatch) -> None:
    """SHA-256 instead of scrypt for stored key hashes. scrypt costs ~50 ms of CPU
    per key by design: 300 keys would be 15 s of hashing, done before the
    transaction begins, which is not what these tests are about."""

    def sha256(raw_key: str) -> str:
        return hashlib.sha256(raw_key.encode()).hexdigest()

    monkeypatch.setattr("app.developer.keystore.key_hash", sha256)


async def row_counts(url: str) -> dict[str, int]:
    """Rows per developer table, read outside the app."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return {
                table: (
                    await connection.execute(
                        sa.select(sa.func.count()).select_from(sa.table(table))
                    )
                ).scalar_one()
                for table in TABLES
            }
    finally:
        await engine.dispose()


def statuses(responses: list[httpx.Response]) -> Counter[int]:
    return Counter(response.status_code for response in responses)


@pytest.mark.usefixtures("quick_key_hash")
async def test_concurrent_key_creations_all_succeed(
    client: httpx.AsyncClient, url: str
) -> None:
    provider = (await provider_ids(client))["daydream"]
    before = await row_counts(url)

    async def one_client(user: str) -> list[httpx.Response]:
        body = {"billingProviderId": provider}
        return [
            await client.post(
                KEYS, json={**body, "rawApiKey": new_raw_key()}, headers=auth(user)
            )
            for _ in range(CREATES // CLIENTS)
        ]

    users = [f"writer-{n:02d}" for n in range(CLIENTS)]
    batches = await asyncio.gather(*(one_client(user) for user in users))
    responses = [response for batch in batches for response in batch]

    assert statuses(responses) == {200: CREATES}, [
        r.text for r in responses if r.status_code != 200
    ][:5]
    # Each user: one default project holding its keys; nothing else written.
    assert await row_counts(url) == {
        "dev_api_key": before["dev_api_key"] + CREATES,
        "dev_api_project": before["dev_api_project"] + CLIENTS,
        "dev_api_usage_log": before["dev_api_usage_log"],
    }
    listed = await client.get(KEYS, params={"pageSize": "100"}, headers=auth(users[0]))
    assert listed.json()["meta"]["total"] == CREATES // CLIENTS


async def test_one_raw_key_sent_at_once_is_registered_once(
    client: httpx.AsyncClient, url: str
) -> None:
    provider = (await provider_ids(client))["daydream"]
    before = await row_counts(url)
    body = {"billingProviderId": provider, "rawApiKey": new_raw_key()}
    # Twenty users, so that a loser's default project, made in the same
    # transaction as its key, would be left behind if the rollback were partial.
    users = [f"twin-{n:02d}" for n in range(SAME_KEY)]
    responses = await asyncio.gather(
        *(client.post(KEYS, json=body, headers=auth(user)) for user in users)
    )

    assert statuses(responses) == {200: 1, 409: SAME_KEY - 1}, [
        r.text for r in responses if r.status_code not in (200, 409)
    ][:5]
    conflict = {"code": "CONFLICT", "message": DUPLICATE_KEY_MESSAGE}
    assert all(error_of(r, 409) == conflict for r in responses if r.status_code == 409)
    assert await row_counts(url) == {
        "dev_api_key": before["dev_api_key"] + 1,
        "dev_api_project": before["dev_api_project"] + 1,
        "dev_api_usage_log": before["dev_api_usage_log"],
    }
    winner = next(u for u, r in zip(users, responses, strict=True) if r.is_success)
    assert ok(await client.get(KEYS, headers=auth(winner)))["keys"] != []


def test_sqlite_writers_take_turns_in_arrival_order_in_any_event_loop(
    tmp_path: Path,
) -> None:
    db = Database(sqlite_url(tmp_path))

    async def burst() -> tuple[list[int], int]:
        entered: list[int] = []
        inside = most = 0

        async def write(n: int) -> None:
            nonlocal inside, most
            async with db.writer() as session:
                entered.append(n)
                inside += 1
                most = max(most, inside)
                await session.execute(sa.text("SELECT 1"))
                inside -= 1

        try:
            await asyncio.gather(*(write(n) for n in range(10)))
        finally:
            await db.aclose()
        return entered, most

    # The same Database in a second event loop (another asyncio.run) queues there.
    for _ in range(2):
        assert asyncio.run(burst()) == (list(range(10)), 1)
