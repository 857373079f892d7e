"""Database faults end to end, through the app's ASGI interface.

- SQLite: another connection holds the write lock past the busy timeout. Every
  write (REST and GraphQL: keys, projects, usage, the OAuth broker) answers 503
  SERVICE_UNAVAILABLE within about that timeout and leaves no row behind; reads are
  still served (WAL lets readers through); released, the same writes succeed.
- PostgreSQL (TEST_POSTGRES_URL; skipped locally without it, failing under
  CI=true): the app's connections are terminated with `pg_terminate_backend`. An
  idle pooled connection costs no request (pool pre-ping); a write waiting inside
  its transaction is rolled back and answered 503, and the next request succeeds.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]
import httpx
import pytest
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

import app.db as app_db
from app.db import CONNECTION_MESSAGE, LOCKED_MESSAGE
from app.main import create_app
from app.metrics import REGISTRY
from app.settings import Settings
from tests.support.app import Clock, auth, make_settings, serve
from tests.support.db import fresh_database, require_postgres_url, reset_postgres
from tests.support.developer import (
    KEYS,
    METERING,
    PRIVATE,
    PROJECTS,
    PROVIDERS,
    assert_page,
    authorize,
    create_key,
    error_of,
    graphql,
    new_raw_key,
    ok,
    provider_ids,
    sql,
    sqlite_path,
    start,
    table_counts,
)
from tests.support.loopback import free_port

BUSY_MS = 200
# Well above the busy timeout (scrypt and scheduling included), far below the
# 5 s default: a write that waited for the default timeout would fail this.
WITHIN = 2.0
UNAVAILABLE = "SERVICE_UNAVAILABLE"
SESSIONS = "billing_provider_oauth_session"
KPI = "/api/v1/dashboard/kpi"
START = "/api/v1/auth/providers/daydream/start"

CREATE_PROJECT = """
mutation ($name: String!) { createProject(input: {name: $name}) { project { id } } }
"""
CREATE_KEY = """
mutation ($provider: String!, $raw: String!) {
  createApiKey(input: {billingProviderId: $provider, rawApiKey: $raw}) { key { id } }
}
"""
REVOKE_KEY = "mutation ($id: String!) { revokeApiKey(id: $id) { key { status } } }"
RECORD_USAGE = "mutation ($id: String!) { recordUsage(keyId: $id) { id } }"
START_LOGIN = 'mutation { startProviderLogin(slug: "daydream") { login_session_id } }'
PROJECT_NAMES = "{ projects { name } }"


def db_errors(kind: str) -> float:
    return REGISTRY.get_sample_value("naap_db_errors_total", {"kind": kind}) or 0.0


# --- SQLite: a writer holds the lock past the busy timeout ---------------------------


@contextmanager
def write_lock(path: Path) -> Iterator[None]:
    """Another writer on the same file (a raw sqlite3 connection), holding the
    write lock until the block ends."""
    with closing(sqlite3.connect(path, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            other.execute("ROLLBACK")


@dataclass(frozen=True, slots=True)
class Write:
    """One write, on either surface: `send` makes the request."""

    name: str
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]
    graphql_field: str | None = None  # None: a REST route in the standard envelope
    page: bool = False  # an HTML page (the OAuth callback)


def unavailable_problems(write: Write, response: httpx.Response) -> list[str]:
    """Why `response` is not the 503 SERVICE_UNAVAILABLE a locked database gives
    ([] when it is): the standard envelope and `private, no-store` on REST, the
    error code on GraphQL, a page saying to retry for the OAuth callback."""
    if write.page:
        assert_page(response, 503, "Please Try Again")
        return [] if LOCKED_MESSAGE in response.text else [response.text[:200]]
    if write.graphql_field is not None:
        body = response.json()
        errors = body.get("errors") or [{}]
        seen = (
            response.status_code,
            (body.get("data") or {}).get(write.graphql_field),
            errors[0].get("message"),
            (errors[0].get("extensions") or {}).get("code"),
        )
        wanted = (200, None, LOCKED_MESSAGE, UNAVAILABLE)
        return [] if seen == wanted else [f"{seen} != {wanted}"]
    error = error_of(response, 503)
    problems = []
    if error != {"code": UNAVAILABLE, "message": LOCKED_MESSAGE}:
        problems.append(f"error {error}")
    if response.headers.get("cache-control") != PRIVATE:
        problems.append(f"cache-control {response.headers.get('cache-control')}")
    return problems


def succeeded(write: Write, response: httpx.Response) -> bool:
    if write.page:
        return response.status_code == 200 and "Authentication Complete" in (
            response.text
        )
    if write.graphql_field is not None:
        body = response.json()
        return "errors" not in body and body["data"][write.graphql_field] is not None
    return response.status_code == 200 and response.json()["success"] is True


def all_rows(settings: Settings) -> dict[str, Any]:
    """What a half-written request would change: row counts, the existing key's
    status, the OAuth sessions and their states."""
    return {
        **table_counts(settings),
        "keys": sql(settings, "SELECT id, status, revoked_at FROM dev_api_key"),
        "sessions": sql(
            settings,
            f"SELECT login_session_id, status FROM {SESSIONS} ORDER BY 1",  # noqa: S608
        ),
    }


@pytest.fixture
def busy_app(settings: Settings, simulator: Starlette, clock: Clock) -> Starlette:
    locked = settings.model_copy(update={"db_busy_timeout_ms": BUSY_MS})
    return create_app(locked, simulator=simulator, clock=clock)


async def test_sqlite_writes_are_503_and_reads_served_while_another_writer_holds_the_lock(  # noqa: E501
    busy_app: Starlette, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    async with serve(busy_app) as client:
        provider = (await provider_ids(client))["daydream"]
        existing = (await create_key(client, provider))["key"]["id"]
        ok(await client.post(PROJECTS, json={"name": "Existing"}, headers=auth()))
        login = await start(client, "user-c")
        # New users and fresh raw keys: a half-written key would turn the retry
        # below into a 409, a half-made default project into a second one.
        raw_rest, raw_graphql = new_raw_key("dd_"), new_raw_key("dd_")
        writes = [
            Write(
                "POST /developer/projects",
                lambda c: c.post(PROJECTS, json={"name": "Locked"}, headers=auth()),
            ),
            Write(
                "createProject",
                lambda c: c.post(
                    "/graphql",
                    json={"query": CREATE_PROJECT, "variables": {"name": "Locked 2"}},
                    headers=auth(),
                ),
                "createProject",
            ),
            Write(
                "POST /developer/keys",
                lambda c: c.post(
                    KEYS,
                    json={"billingProviderId": provider, "rawApiKey": raw_rest},
                    headers=auth("user-b"),
                ),
            ),
            Write(
                "createApiKey",
                lambda c: c.post(
                    "/graphql",
                    json={
                        "query": CREATE_KEY,
                        "variables": {"provider": provider, "raw": raw_graphql},
                    },
                    headers=auth("user-d"),
                ),
                "createApiKey",
            ),
            Write(
                "DELETE /developer/keys/{id}",
                lambda c: c.delete(f"{KEYS}/{existing}", headers=auth()),
            ),
            Write(
                "revokeApiKey",
                lambda c: c.post(
                    "/graphql",
                    json={"query": REVOKE_KEY, "variables": {"id": existing}},
                    headers=auth(),
                ),
                "revokeApiKey",
            ),
            Write(
                "recordUsage",
                lambda c: c.post(
                    "/graphql",
                    json={"query": RECORD_USAGE, "variables": {"id": existing}},
                    headers=METERING,
                ),
                "recordUsage",
            ),
            Write(
                "POST /auth/providers/daydream/start",
                lambda c: c.post(START, headers=auth()),
            ),
            Write(
                "startProviderLogin",
                lambda c: c.post(
                    "/graphql", json={"query": START_LOGIN}, headers=auth("user-e")
                ),
                "startProviderLogin",
            ),
        ]
        before = all_rows(settings)
        locked_before = db_errors("locked")

        with write_lock(sqlite_path(settings)), caplog.at_level(logging.WARNING):
            # Reads first and last: WAL lets them through while the lock is held.
            callback = await authorize(client, login["auth_url"])  # reads the session
            reads = [
                await client.get(PROJECTS, headers=auth()),
                await client.get(KEYS, headers=auth()),
                await client.get(PROVIDERS),
                await client.get(KPI),
                await client.post(
                    "/graphql", json={"query": PROJECT_NAMES}, headers=auth()
                ),
            ]
            writes.append(Write("OAuth callback", lambda c: c.get(callback), page=True))
            failures: dict[str, list[str]] = {}
            elapsed: dict[str, float] = {}
            for write in writes:
                began = time.perf_counter()
                response = await write.send(client)
                elapsed[write.name] = time.perf_counter() - began
                problems = unavailable_problems(write, response)
                if problems:
                    failures[write.name] = problems
            reads.append(await client.get(PROJECTS, headers=auth()))

        assert failures == {}
        assert max(elapsed.values()) < WITHIN, elapsed
        assert [r.status_code for r in reads] == [200] * len(reads)
        assert "errors" not in reads[4].json()
        assert {p["name"] for p in reads[0].json()["data"]["projects"]} == {
            "Default",
            "Existing",
        }
        # Nothing half-written, each failure counted and logged once, nothing worse.
        assert all_rows(settings) == before
        assert db_errors("locked") - locked_before == len(writes)
        logged = [r for r in caplog.records if r.name == "naap.db"]
        assert len(logged) == len(writes)
        assert all("kind=locked" in r.getMessage() for r in logged)
        assert [r for r in caplog.records if r.levelno >= logging.ERROR] == []

        # Released: the very same requests succeed.
        retried = {w.name: succeeded(w, await w.send(client)) for w in writes}
        assert retried == dict.fromkeys(retried, True)
        after = table_counts(settings)
        # user-a: 2 projects; user-b and user-d: a default project and a key each;
        # user-c: the callback's key and default project; one usage row.
        assert after == {
            "dev_api_key": before["dev_api_key"] + 3,
            "dev_api_project": before["dev_api_project"] + 5,
            "dev_api_usage_log": before["dev_api_usage_log"] + 1,
        }


async def test_a_database_error_that_is_not_a_fault_is_not_a_503(
    settings: Settings,
) -> None:
    """Only lock and connection faults become 503: a broken schema stays a 500-class
    internal error (masked), so it is noticed rather than retried forever."""
    sql(settings, "DROP TABLE dev_api_usage_log")
    counted = db_errors("locked"), db_errors("connection")
    async with serve(create_app(settings)) as client:
        response = await graphql(
            client, "{ usage { totalRequests } }", headers=auth("user-a")
        )
    assert response["errors"][0]["extensions"]["code"] == "INTERNAL_ERROR"
    assert (db_errors("locked"), db_errors("connection")) == counted


# --- PostgreSQL: unreachable, connections terminated ---------------------------------


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
async def pg_settings(tmp_path: Path) -> AsyncIterator[Settings]:
    """A migrated, seeded PostgreSQL database; emptied again afterwards."""
    db = await fresh_database("postgresql", tmp_path)
    await db.aclose()
    url = require_postgres_url()
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
