"""Fresh, migrated, seeded databases on both backends.

- SQLite: a new file under the test's tmp_path (or a copy of the session's template:
  the `database_url` fixture).
- PostgreSQL: the server named by TEST_POSTGRES_URL (`.ci/run` starts one and sets
  it), through the `postgres_url` fixture. Its `public` schema is dropped and
  recreated before migrating, so every test starts clean. Under pytest-xdist each
  worker has a database of its own on that server, created on first use: the URL's
  database name plus `_gw0`, `_gw1`, ... Unset, the PostgreSQL tests skip locally
  and fail under CI=true.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from app.db import Database, migrate
from app.developer.seed import seed

POSTGRES_ENV = "TEST_POSTGRES_URL"
BACKENDS = ("sqlite", "postgresql")


def require_postgres_url() -> str:
    """This xdist worker's database on TEST_POSTGRES_URL's server (the URL itself
    without xdist); else skip the test locally, or fail it under CI=true."""
    return worker_database(given_postgres_url())


def given_postgres_url() -> str:
    """TEST_POSTGRES_URL (a `postgresql+asyncpg://` URL); else skip the test
    locally, or fail it under CI=true."""
    url = os.environ.get(POSTGRES_ENV, "").strip()
    if url:
        return url
    if os.environ.get("CI", "").strip().lower() == "true":
        pytest.fail(
            f"{POSTGRES_ENV} is not set under CI=true: the PostgreSQL tests must run "
            "(.ci/run starts a local server and sets it)",
            pytrace=False,
        )
    pytest.skip(f"set {POSTGRES_ENV} to run PostgreSQL tests")


def worker_database(url: str) -> str:
    """`url` itself, or under pytest-xdist the database named after it and this
    worker (`naap_test` -> `naap_test_gw1`), so workers never share a schema."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if not worker:
        return url
    parsed = make_url(url)
    mine = parsed.set(database=f"{parsed.database}_{worker}")
    return mine.render_as_string(hide_password=False)


async def create_database(url: str, *, via: str) -> None:
    """Create the database `url` names unless it exists, connected through the
    database `via` (CREATE DATABASE needs the CREATEDB privilege)."""
    name = make_url(url).database
    engine = create_async_engine(via, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            exists = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                quoted = connection.dialect.identifier_preparer.quote(str(name))
                await connection.execute(text(f"CREATE DATABASE {quoted}"))
    finally:
        await engine.dispose()


def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite+aiosqlite:///{tmp_path / 'db' / 'naap.db'}"


async def reset_postgres(url: str) -> None:
    """Drop everything in the `public` schema (tables, alembic_version, indexes)."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            await connection.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            await connection.execute(text("CREATE SCHEMA public"))
    finally:
        await engine.dispose()


async def migrate_and_seed(url: str) -> None:
    """Migrate the database at `url` to head and load the seed catalog."""
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    try:
        await seed(db)
    finally:
        await db.aclose()


async def fresh_database(
    url_kind: str, tmp_path: Path, *, seeded: bool = True
) -> Database:
    """A new empty database of that kind ("sqlite" or "postgresql"), migrated to
    head and (unless seeded=False) seeded. The caller closes it (`aclose()`)."""
    if url_kind == "sqlite":
        url = sqlite_url(tmp_path)
    elif url_kind == "postgresql":
        url = require_postgres_url()
        await reset_postgres(url)
    else:
        raise ValueError(f"url_kind must be one of {BACKENDS}, not {url_kind!r}")
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    if seeded:
        try:
            await seed(db)
        except BaseException:
            await db.aclose()
            raise
    return db
