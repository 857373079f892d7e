"""Database faults on SQLite, end to end through the app's ASGI interface: another
connection holds the write lock past the busy timeout. Every write (REST and
GraphQL: keys, projects, usage, the OAuth broker) answers 503 SERVICE_UNAVAILABLE
within about that timeout and leaves no row behind; reads are still served (WAL
lets readers through); released, the same writes succeed. A database error that is
not a fault stays an internal error. PostgreSQL's faults are in
tests/integration/test_db_faults.py.
"""

from __future__ import annotations

import logging
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.db import LOCKED_MESSAGE
from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock, auth, serve
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
from tests.support.metrics import db_errors

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
