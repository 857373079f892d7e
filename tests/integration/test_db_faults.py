"""Database faults on PostgreSQL, through the app's ASGI interface.

- Unreachable (nothing listens) or silent (accepts, never answers): reads and
  writes answer 503 SERVICE_UNAVAILABLE within the connect timeout, /readyz stays
  200 and reports the database down. No PostgreSQL server needed.
- TEST_POSTGRES_URL's server (skipped locally without it, failing under CI=true):
  the app's connections are terminated with `pg_terminate_backend`. An idle pooled
  connection costs no request (pool pre-ping); a write waiting inside its
  transaction is rolled back and answered 503, and the next request succeeds.

SQLite's faults (a held write lock) are in tests/api/test_db_faults.py.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

import app.db as app_db
from app.db import CONNECTION_MESSAGE
from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock, auth, make_settings, serve
from tests.support.db import fresh_database, reset_postgres
from tests.support.developer import (
    KEYS,
    PRIVATE,
    PROJECTS,
    error_of,
    graphql,
    new_raw_key,
    ok,
    provider_ids,
)
from tests.support.loopback import free_port
from tests.support.metrics import db_errors

# An upper bound for answering a database fault, with slack for a loaded machine;
# far below asyncpg's 60 s default connect timeout.
WITHIN = 2.0
UNAVAILABLE = "SERVICE_UNAVAILABLE"
KPI = "/api/v1/dashboard/kpi"

CREATE_PROJECT = """
mutation ($name: String!) { createProject(input: {name: $name}) { project { id } } }
"""
PROJECT_NAMES = "{ projects { name } }"


# --- PostgreSQL unreachable or silent -----------------------------------------------


async def test_an_unreachable_postgres_server_is_503_for_reads_and_writes(
    simulator: Starlette, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens on the port (a stopped server): no PostgreSQL needed."""
    url = f"postgresql+asyncpg://naap:naap@127.0.0.1:{free_port()}/naap"
    app = create_app(make_settings(database_url=url), simulator=simulator, clock=clock)
    lost_before = db_errors("connection")
    async with serve(app) as client:
        with caplog.at_level(logging.WARNING):
            read = await client.get(PROJECTS, headers=auth())
            write = await client.post(PROJECTS, json={"name": "X"}, headers=auth())
            body = await graphql(client, PROJECT_NAMES, headers=auth())
        dashboard = await client.get(KPI)

    for response in (read, write):
        assert error_of(response, 503) == {
            "code": UNAVAILABLE,
            "message": CONNECTION_MESSAGE,
        }
        assert response.headers["cache-control"] == PRIVATE
    assert body["errors"][0]["extensions"]["code"] == UNAVAILABLE
    assert dashboard.status_code == 200  # the public dashboard needs no database
    assert db_errors("connection") - lost_before == 3
    logged = [r.getMessage() for r in caplog.records if r.name == "naap.db"]
    assert len(logged) == 3
    assert all("kind=connection" in m for m in logged), logged


async def test_a_silent_postgres_host_is_503_after_the_connect_timeout(
    simulator: Starlette, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A host that accepts the TCP connection and never answers (a hung server, a
    black-holing firewall) must not hold a request for asyncpg's default 60 s: the
    engine's connect timeout turns it into the same 503."""
    monkeypatch.setattr(app_db, "PG_CONNECT_TIMEOUT", 0.5)
    accepted: list[asyncio.StreamWriter] = []

    async def silent(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        accepted.append(writer)  # keep it open, say nothing

    server = await asyncio.start_server(silent, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    url = f"postgresql+asyncpg://naap:naap@127.0.0.1:{port}/naap"
    app = create_app(make_settings(database_url=url), simulator=simulator, clock=clock)
    try:
        async with serve(app) as client:
            started = time.monotonic()
            response = await client.get(PROJECTS, headers=auth())
            elapsed = time.monotonic() - started
    finally:
        for writer in accepted:
            writer.close()
        server.close()
        await server.wait_closed()
    assert accepted, "the request never reached the silent host"
    assert error_of(response, 503)["code"] == UNAVAILABLE
    assert elapsed < WITHIN * 2, elapsed


# --- PostgreSQL: connections terminated ----------------------------------------------


@pytest.fixture
async def pg_settings(postgres_url: str, tmp_path: Path) -> AsyncIterator[Settings]:
    """A migrated, seeded PostgreSQL database; emptied again afterwards."""
    db = await fresh_database("postgresql", tmp_path)
    await db.aclose()
    url = postgres_url
    try:
        yield make_settings(database_url=url)
    finally:
        await reset_postgres(url)


@asynccontextmanager
async def raw_connection(settings: Settings) -> AsyncIterator[Any]:
    """A plain asyncpg connection to the app's database, outside the app."""
    url = make_url(settings.database_url).set(drivername="postgresql")
    connection = await asyncpg.connect(url.render_as_string(hide_password=False))
    try:
        yield connection
    finally:
        await connection.close()


async def app_backends(admin: Any, *exclude: int) -> set[int]:
    """Client backends on this database other than `admin` and `exclude`."""
    rows = await admin.fetch(
        "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
        " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        " AND NOT (pid = ANY($1::int[]))",
        list(exclude),
    )
    return {row["pid"] for row in rows}


async def poll(what: str, check: Callable[[], Awaitable[Any]]) -> Any:
    """`check()`'s first truthy answer, polled for up to 10 s (no fixed sleeps)."""
    try:
        async with asyncio.timeout(10):
            while True:
                found = await check()
                if found:
                    return found
                await asyncio.sleep(0.02)
    except TimeoutError:
        pytest.fail(f"timed out waiting for {what}")


async def test_postgres_next_request_succeeds_after_connections_are_killed(
    pg_settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    app = create_app(pg_settings, simulator=simulator, clock=clock)
    async with serve(app) as client, raw_connection(pg_settings) as admin:
        ok(await client.post(PROJECTS, json={"name": "Before"}, headers=auth()))
        pooled = await app_backends(admin)
        assert pooled  # the pool kept the connection it used
        killed = await admin.fetch(
            "SELECT pg_terminate_backend(pid) FROM unnest($1::int[]) AS pid",
            list(pooled),
        )
        assert [row[0] for row in killed] == [True] * len(pooled)
        await poll("backends gone", lambda: _gone(admin, pooled))
        lost_before = db_errors("connection")

        # A read and a write on each surface, each on a fresh connection.
        listed = ok(await client.get(PROJECTS, headers=auth()))
        created = ok(
            await client.post(PROJECTS, json={"name": "After"}, headers=auth())
        )
        body = await graphql(client, PROJECT_NAMES, headers=auth())
        mutated = await graphql(
            client, CREATE_PROJECT, {"name": "After 2"}, headers=auth()
        )

    assert [p["name"] for p in listed["projects"]] == ["Before"]
    assert created["project"]["name"] == "After"
    assert "errors" not in body, body
    assert "errors" not in mutated, mutated
    assert sorted(p["name"] for p in body["data"]["projects"]) == ["After", "Before"]
    assert db_errors("connection") == lost_before  # pre-ping: nobody saw the loss


async def _gone(admin: Any, pids: set[int]) -> bool:
    return not (await app_backends(admin)) & pids


async def test_postgres_write_in_flight_when_its_connection_is_killed_rolls_back(
    pg_settings: Settings,
    simulator: Starlette,
    clock: Clock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    app = create_app(pg_settings, simulator=simulator, clock=clock)
    user, raw = "user-inflight", new_raw_key("dd_")
    async with (
        serve(app) as client,
        raw_connection(pg_settings) as admin,
        raw_connection(pg_settings) as blocker,
    ):
        provider = (await provider_ids(client))["daydream"]
        body = {"billingProviderId": provider, "rawApiKey": raw}
        lost_before = db_errors("connection")
        # The key's INSERT checks its foreign key with a KEY SHARE lock on the
        # provider row; holding that row FOR UPDATE makes the app's write wait
        # inside its transaction, after it has created the user's default project.
        hold = blocker.transaction()
        await hold.start()
        await blocker.execute(
            "SELECT 1 FROM billing_provider WHERE id = $1 FOR UPDATE", provider
        )
        request = asyncio.create_task(client.post(KEYS, json=body, headers=auth(user)))

        async def waiting() -> int | None:
            assert not request.done(), request.result().text
            pid: int | None = await admin.fetchval(
                "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'INSERT INTO dev_api_key%' AND pid <> $1",
                blocker.get_server_pid(),
            )
            return pid

        with caplog.at_level(logging.WARNING):
            pid = await poll("the app's write waiting on the lock", waiting)
            # Half-way: the project is written (its table locked for writing).
            wrote_project = await admin.fetchval(
                "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation"
                " WHERE l.pid = $1 AND c.relname = 'dev_api_project'"
                " AND l.mode = 'RowExclusiveLock'",
                pid,
            )
            assert wrote_project == 1
            began = time.perf_counter()
            assert await admin.fetchval("SELECT pg_terminate_backend($1)", pid)
            async with asyncio.timeout(10):
                response = await request
            answered_in = time.perf_counter() - began
        await hold.rollback()

        error = error_of(response, 503)
        rows = await admin.fetchrow(
            "SELECT (SELECT count(*) FROM dev_api_project WHERE user_id = $1) AS p,"
            " (SELECT count(*) FROM dev_api_key WHERE user_id = $1) AS k",
            user,
        )
        retried = ok(await client.post(KEYS, json=body, headers=auth(user)))
        after = await admin.fetchrow(
            "SELECT (SELECT count(*) FROM dev_api_project WHERE user_id = $1) AS p,"
            " (SELECT count(*) FROM dev_api_key WHERE user_id = $1) AS k",
            user,
        )

    assert error == {"code": UNAVAILABLE, "message": CONNECTION_MESSAGE}
    assert response.headers["cache-control"] == PRIVATE
    assert answered_in < WITHIN
    assert (rows["p"], rows["k"]) == (0, 0)  # the default project was rolled back
    assert retried["key"]["project"]["name"] == "Default"
    assert (after["p"], after["k"]) == (1, 1)
    assert db_errors("connection") - lost_before == 1
    logged = [r.getMessage() for r in caplog.records if r.name == "naap.db"]
    assert len(logged) == 1
    assert "kind=connection" in logged[0]
    assert "administrator command" in logged[0]
    assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []


async def test_readyz_stays_200_when_the_database_is_down(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    """A shared dependency down must not take every replica out of the balancer."""
    broken = settings.model_copy(
        # Nothing listens on port 9: every connection is refused at once.
        update={"database_url": "postgresql+asyncpg://naap:naap@127.0.0.1:9/naap"}
    )
    app = create_app(broken, simulator=simulator, clock=clock)
    async with serve(app) as http:
        response = await http.get("/readyz")
        metrics = (await http.get("/metrics")).text
    assert response.status_code == 200
    database = response.json()["database"]
    assert database["ok"] is False
    assert database["error"]
    assert 'naap_readiness{check="database"} 0.0' in metrics
