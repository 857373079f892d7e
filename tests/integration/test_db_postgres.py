"""The database layer's cases (tests/support/db_cases.py) on PostgreSQL: the server
of TEST_POSTGRES_URL, its `public` schema dropped, migrated and seeded per test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from app.db import Database
from tests.support.db import fresh_database
from tests.support.db_cases import DatabaseCases


class TestPostgres(DatabaseCases):
    @pytest.fixture
    async def database(
        self, postgres_url: str, tmp_path: Path
    ) -> AsyncIterator[Database]:
        db = await fresh_database("postgresql", tmp_path)
        try:
            yield db
        finally:
            await db.aclose()
