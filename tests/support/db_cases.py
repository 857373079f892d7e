"""The database layer's behaviour on a backend: the migration matches the models,
the constraints and delete rules hold in the database itself, sessions commit and
roll back, seeding is idempotent, the connection settings.

`DatabaseCases` is run once per backend by a subclass that provides the
`database` fixture (a fresh migrated, seeded `Database`): tests/unit/test_db.py on
SQLite, tests/integration/test_db_postgres.py on PostgreSQL.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import CheckConstraint, delete, func, inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel, col, select

from app.db import MIGRATIONS, Database, check
from app.developer.models import (
    BillingProvider,
    DevApiAIModel,
    DevApiKey,
    DevApiProject,
    DevApiUsageLog,
    OAuthSession,
    utcnow,
)
from app.developer.seed import AI_MODELS, catalog_counts, seed, seed_catalog
from tests.support.db import sqlite_url


async def provider_id(db: Database, slug: str) -> str:
    async with db.session() as s:
        provider = (
            await s.scalars(select(BillingProvider).where(BillingProvider.slug == slug))
        ).one()
    return provider.id


async def add(db: Database, *rows: SQLModel) -> None:
    async with db.session() as s:
        s.add_all(rows)
        await s.commit()


async def count(db: Database, model: type[SQLModel]) -> int:
    table = SQLModel.metadata.tables[str(model.__tablename__)]
    async with db.session() as s:
        return (await s.scalars(select(func.count()).select_from(table))).one()


async def new_key(db: Database, *, project_id: str | None = None) -> DevApiKey:
    key = DevApiKey(
        user_id="u-1",
        project_id=project_id,
        billing_provider_id=await provider_id(db, "daydream"),
        key_prefix="dd_AbCd…",
    )
    await add(db, key)
    return key


def _schema_report(connection: Connection) -> dict[str, Any]:
    context = MigrationContext.configure(connection)
    inspector = inspect(connection)
    return {
        "tables": set(inspector.get_table_names()),
        "revision": context.get_current_revision(),
        "diff": compare_metadata(context, SQLModel.metadata),
        "checks": {
            table: {c["name"] for c in inspector.get_check_constraints(table)}
            for table in SQLModel.metadata.tables
        },
        "fks": {
            table: {
                (fk["referred_table"], fk["options"].get("ondelete"))
                for fk in inspector.get_foreign_keys(table)
            }
            for table in SQLModel.metadata.tables
        },
        "default_index": next(
            index
            for index in inspector.get_indexes("dev_api_project")
            if index["name"] == "uq_dev_api_project_one_default"
        ),
    }


async def write_then_fail(db: Database) -> None:
    async with db.writer() as s:
        s.add(DevApiProject(user_id="u-1", name="Dropped"))
        await s.flush()
        raise RuntimeError("boom")


class DatabaseCases:
    """The cases every backend must pass; subclasses provide `database`."""

    # --- schema ---------------------------------------------------------------------

    async def test_migration_matches_the_models(self, database: Database) -> None:
        async with database.engine.connect() as connection:
            report = await connection.run_sync(_schema_report)
        metadata = SQLModel.metadata
        head = ScriptDirectory(str(MIGRATIONS)).get_current_head()

        assert report["tables"] == set(metadata.tables) | {"alembic_version"}
        assert report["revision"] == head == "0001"
        assert report["diff"] == []  # what `alembic check` would say: nothing to do
        # Checked explicitly (autogenerate ignores CHECKs and partial-index clauses).
        assert report["checks"] == {
            name: {c.name for c in table.constraints if isinstance(c, CheckConstraint)}
            for name, table in metadata.tables.items()
        }
        assert report["fks"] == {
            name: {(fk.column.table.name, fk.ondelete) for fk in table.foreign_keys}
            for name, table in metadata.tables.items()
        }
        index = report["default_index"]
        assert index["unique"]
        assert index["column_names"] == ["user_id"]
        where = index["dialect_options"][f"{database.dialect}_where"]
        assert str(where) == "is_default"

    async def test_dialect_and_readiness(self, database: Database) -> None:
        assert database.dialect == database.url.get_backend_name()
        await check(database)
        if database.url.password:
            assert ":***@" in repr(database)

    # --- constraints and delete rules ---------------------------------------

    async def test_one_default_project_per_user(self, database: Database) -> None:
        await add(
            database,
            DevApiProject(user_id="u-1", name="Default", is_default=True),
            *(DevApiProject(user_id="u-1", name=f"p{i}") for i in range(3)),
        )
        with pytest.raises(IntegrityError):
            await add(
                database, DevApiProject(user_id="u-1", name="Other", is_default=True)
            )
        await add(
            database, DevApiProject(user_id="u-2", name="Default", is_default=True)
        )
        async with database.session() as s:
            defaults = (
                await s.scalars(
                    select(DevApiProject.user_id).where(col(DevApiProject.is_default))
                )
            ).all()
        assert sorted(defaults) == ["u-1", "u-2"]
        assert await count(database, DevApiProject) == 5

    async def test_project_name_is_unique_per_user(self, database: Database) -> None:
        await add(database, DevApiProject(user_id="u-1", name="App"))
        with pytest.raises(IntegrityError):
            await add(database, DevApiProject(user_id="u-1", name="App"))
        await add(database, DevApiProject(user_id="u-2", name="App"))
        assert await count(database, DevApiProject) == 2

    async def test_deleting_a_project_deletes_its_keys(
        self, database: Database
    ) -> None:
        project = DevApiProject(user_id="u-1", name="App")
        other = DevApiProject(user_id="u-1", name="Other")
        await add(database, project, other)
        key = await new_key(database, project_id=project.id)
        kept = await new_key(database, project_id=other.id)
        await add(database, DevApiUsageLog(api_key_id=key.id))
        async with database.session() as s:
            await s.execute(
                delete(DevApiProject).where(col(DevApiProject.id) == project.id)
            )
            await s.commit()
            remaining = (await s.scalars(select(DevApiKey.id))).all()
        assert remaining == [kept.id]
        assert await count(database, DevApiUsageLog) == 0

    async def test_a_billing_provider_with_keys_cannot_be_deleted(
        self,
        database: Database,
    ) -> None:
        key = await new_key(database)
        async with database.session() as s:
            with pytest.raises(IntegrityError):
                await s.execute(
                    delete(BillingProvider).where(
                        col(BillingProvider.id) == key.billing_provider_id
                    )
                )
        assert await count(database, BillingProvider) == 2
        # Without keys it can go.
        async with database.session() as s:
            await s.execute(
                delete(BillingProvider).where(col(BillingProvider.slug) == "pymthouse")
            )
            await s.commit()
        assert await count(database, BillingProvider) == 1

    async def test_deleting_a_key_deletes_its_usage(self, database: Database) -> None:
        key, other = await new_key(database), await new_key(database)
        await add(
            database,
            DevApiUsageLog(api_key_id=key.id, request_count=3),
            DevApiUsageLog(api_key_id=key.id),
            DevApiUsageLog(api_key_id=other.id),
        )
        async with database.session() as s:
            await s.execute(delete(DevApiKey).where(col(DevApiKey.id) == key.id))
            await s.commit()
            usage = (await s.scalars(select(DevApiUsageLog.api_key_id))).all()
        assert usage == [other.id]

    async def test_status_check_constraints(self, database: Database) -> None:
        with pytest.raises(IntegrityError):
            await add(
                database,
                DevApiKey(
                    user_id="u-1",
                    billing_provider_id=await provider_id(database, "daydream"),
                    key_prefix="x",
                    status="BOGUS",
                ),
            )
        with pytest.raises(IntegrityError):
            await add(
                database,
                OAuthSession(
                    login_session_id="a" * 64,
                    state="s",
                    provider_slug="daydream",
                    code_verifier="v",
                    naap_user_id="u-1",
                    status="BOGUS",
                    expires_at=utcnow(),
                ),
            )
        assert await count(database, DevApiKey) == 0
        assert await count(database, OAuthSession) == 0

    # --- sessions -----------------------------------------------------------

    async def test_writer_commits_and_rolls_back(self, database: Database) -> None:
        async with database.writer() as s:
            s.add(DevApiProject(user_id="u-1", name="Kept"))
        with pytest.raises(RuntimeError, match="boom"):
            await write_then_fail(database)
        # A savepoint lets a lost unique race be absorbed without losing the rest.
        async with database.writer() as s:
            s.add(DevApiProject(user_id="u-2", name="Also kept"))
            with pytest.raises(IntegrityError):
                async with s.begin_nested():
                    s.add(DevApiProject(user_id="u-1", name="Kept"))
        async with database.session() as s:
            names = (await s.scalars(select(DevApiProject.name))).all()
        assert sorted(names) == ["Also kept", "Kept"]

    # --- seed ---------------------------------------------------------------

    async def test_seed_catalog(self, database: Database) -> None:
        async with database.session() as s:
            providers = (
                await s.scalars(
                    select(BillingProvider).order_by(col(BillingProvider.sort_order))
                )
            ).all()
            models = (await s.scalars(select(DevApiAIModel))).all()
        assert [
            (p.slug, p.display_name, p.description, p.icon, p.auth_type, p.sort_order)
            for p in providers
        ] == [
            (
                "daydream",
                "Daydream",
                "Real-time AI video generation",
                "Cloud",
                "oauth",
                0,
            ),
            (
                "pymthouse",
                "PymtHouse",
                "Billing, plans, and Livepeer AI access via PymtHouse",
                "Wallet",
                "oauth",
                1,
            ),
        ]
        assert all(p.enabled for p in providers)
        assert len(models) == len(AI_MODELS) >= 10
        assert {m.type for m in models} == {"text", "image", "video", "audio"}
        by_name = {m.name: m for m in models}
        sdxl = by_name["streamdiffusion-sdxl"]
        assert (sdxl.type, sdxl.realtime, sdxl.fps) == ("video", True, 15)
        assert all(m.use_cases and m.badges for m in models)
        assert all(0 < m.cost_per_min_min <= m.cost_per_min_max for m in models)
        assert all(m.fps > 0 for m in models if m.realtime)
        for table in (DevApiProject, DevApiKey, DevApiUsageLog, OAuthSession):
            assert await count(database, table) == 0

    async def test_seed_is_idempotent_and_keeps_edits(self, database: Database) -> None:
        before = await catalog_counts(database)
        async with database.session() as s:
            model = (
                await s.scalars(
                    select(DevApiAIModel).where(DevApiAIModel.name == "glm-4.7-flash")
                )
            ).one()
            model.tagline, model.featured = "Edited by an operator", True
            provider = (
                await s.scalars(
                    select(BillingProvider).where(BillingProvider.slug == "daydream")
                )
            ).one()
            provider.enabled = False
            s.add_all([model, provider])
            await s.commit()

        await seed(database)
        result = await seed_catalog(database)

        assert (result.providers_added, result.models_added) == (0, 0)
        assert await catalog_counts(database) == before
        assert before[0] == 2
        assert before[1] >= 10
        async with database.session() as s:
            model = await s.get_one(DevApiAIModel, model.id)
            provider = await s.get_one(BillingProvider, provider.id)
        assert (model.tagline, model.featured) == ("Edited by an operator", True)
        assert provider.enabled is False

    async def test_seed_restores_a_deleted_catalog_row(
        self, database: Database
    ) -> None:
        async with database.session() as s:
            await s.execute(
                delete(DevApiAIModel).where(col(DevApiAIModel.name) == "glm-4.7-flash")
            )
            await s.commit()
        result = await seed_catalog(database)
        assert (result.providers_added, result.models_added) == (0, 1)

    # --- connection settings ------------------------------------------------

    async def test_connection_settings(
        self, database: Database, tmp_path: Path
    ) -> None:
        if database.dialect == "postgresql":
            assert database.engine.pool._pre_ping
            return
        async with database.engine.connect() as connection:
            pragmas = [
                (await connection.execute(text(f"PRAGMA {name}"))).scalar_one()
                for name in ("journal_mode", "busy_timeout", "foreign_keys")
            ]
        assert pragmas == ["wal", 5000, 1]
        other = Database(sqlite_url(tmp_path / "other"), busy_timeout_ms=1234)
        try:
            async with other.engine.connect() as connection:
                result = await connection.execute(text("PRAGMA busy_timeout"))
                assert result.scalar_one() == 1234
        finally:
            await other.aclose()
        assert (tmp_path / "other" / "db").is_dir()  # the folder was created
