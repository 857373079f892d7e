"""Concurrent key creation on PostgreSQL, where the requests really race (no
database-wide write lock): the named project's unique (user, name) constraint is
exercised as well as the default project's. SQLite's case is in
tests/api/test_developer_isolation.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from starlette.applications import Starlette

from app.main import create_app
from tests.support.app import Clock, make_settings, serve
from tests.support.db import fresh_database
from tests.support.developer import (
    PROJECT_KINDS,
    assert_one_project_holds_all,
    create_at_once,
)


@pytest.mark.parametrize("kind", PROJECT_KINDS)
async def test_concurrent_creates_share_one_project_on_postgresql(
    postgres_url: str, simulator: Starlette, clock: Clock, tmp_path: Path, kind: str
) -> None:
    await (await fresh_database("postgresql", tmp_path)).aclose()
    app = create_app(
        make_settings(database_url=postgres_url), simulator=simulator, clock=clock
    )
    async with serve(app) as client:
        responses = await create_at_once(client, "burst", 20, **PROJECT_KINDS[kind])
        await assert_one_project_holds_all(client, responses, kind)
