"""The database layer on SQLite (tests/support/db_cases.py; the same cases run on
PostgreSQL in tests/integration/test_db_postgres.py), SQLite's write lock, URL
validation, and scripts/migrate.py's refusal of a bad URL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from app.db import Database, check, sqlite_file
from app.developer.models import DevApiProject
from app.errors import DatabaseUnavailable
from scripts import migrate as migrate_script
from tests.support.db import fresh_database, sqlite_url
from tests.support.db_cases import DatabaseCases, count


class TestSqlite(DatabaseCases):
    @pytest.fixture
    async def database(self, database_url: str) -> AsyncIterator[Database]:
        """A copy of the session's migrated, seeded template (conftest.py)."""
        db = Database(database_url)
        try:
            yield db
        finally:
            await db.aclose()


async def test_sqlite_writers_take_the_write_lock_up_front(tmp_path: Path) -> None:
    await (await fresh_database("sqlite", tmp_path, seeded=False)).aclose()
    db = Database(sqlite_url(tmp_path), busy_timeout_ms=50)
    try:
        async with db.writer() as first:
            await first.execute(text("SELECT 1"))  # BEGIN IMMEDIATE: lock held
            with pytest.raises(DatabaseUnavailable, match="busy") as raised:
                async with db.writer() as second:
                    await second.execute(text("SELECT 1"))
            assert raised.value.kind == "locked"
            assert isinstance(raised.value.__cause__, OperationalError)
            assert await count(db, DevApiProject) == 0  # WAL: readers not blocked
            first.add(DevApiProject(user_id="u-1", name="App"))
        assert await count(db, DevApiProject) == 1
    finally:
        await db.aclose()


# --- URLs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "mysql+aiomysql://naap:s3cret@db/naap",
        "sqlite:///./var/naap.db",
        "postgresql://naap:s3cret@db/naap",
        "postgresql+psycopg://naap:s3cret@db/naap",
        "not a url",
        "",
    ],
)
def test_unsupported_database_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match="DATABASE_URL") as caught:
        Database(url)
    message = str(caught.value)
    assert "sqlite+aiosqlite:///" in message
    assert "postgresql+asyncpg://" in message
    assert "s3cret" not in message


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite+aiosqlite:///./var/naap.db", Path("var/naap.db")),
        ("sqlite+aiosqlite:////srv/naap.db", Path("/srv/naap.db")),
        ("sqlite+aiosqlite://", None),
        ("sqlite+aiosqlite:///:memory:", None),
        ("sqlite+aiosqlite:///file:naap?mode=memory&uri=true", None),
        ("postgresql+asyncpg://u:p@h/db", None),
    ],
)
def test_sqlite_file(url: str, path: Path | None) -> None:
    assert sqlite_file(make_url(url)) == path


async def test_in_memory_sqlite_works() -> None:
    db = Database("sqlite+aiosqlite://")
    try:
        await check(db)
        async with db.engine.connect() as connection:
            result = await connection.execute(text("PRAGMA foreign_keys"))
            assert result.scalar_one() == 1
    finally:
        await db.aclose()


# --- scripts/migrate.py, in process -------------------------------------------------


def test_migrate_script_refuses_a_bad_url(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("DATABASE_URL", "mysql://naap:s3cret@db/naap")
    assert migrate_script.main() == 2
    error = capsys.readouterr().err
    assert "DATABASE_URL" in error
    assert "s3cret" not in error
