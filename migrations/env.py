"""Alembic environment: async engine, SQLModel metadata, batch mode on SQLite.

The URL is the `sqlalchemy.url` that app.db.migrate() sets, or else DATABASE_URL
read through app.settings (so the plain `alembic` CLI works as well). A caller may
also hand over an open sync connection in `config.attributes["connection"]`.
"""

from __future__ import annotations

import asyncio
from logging.config import fileConfig
from typing import Any

from alembic import context
from sqlalchemy import event, pool
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import SQLModel

import app.developer.models  # noqa: F401  (registers the tables on SQLModel.metadata)
from app.db import ensure_sqlite_folder, parse_url
from app.settings import Settings

config = context.config

if config.config_file_name is not None and config.attributes.get(
    "configure_logger", True
):
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = SQLModel.metadata


def database_url() -> str:
    return config.get_main_option("sqlalchemy.url") or Settings().database_url


def configure(connection: Connection) -> None:
    sqlite = connection.dialect.name == "sqlite"
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        # SQLite cannot ALTER most things: later migrations copy-and-move tables.
        render_as_batch=sqlite,
        # SQLite has transactional DDL too (see _sqlite_transactional_ddl).
        transactional_ddl=True if sqlite else None,
        compare_type=True,
        compare_server_default=True,
    )


def run_on(connection: Connection) -> None:
    configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def run_async_migrations(url: str) -> None:
    parsed = parse_url(url)
    ensure_sqlite_folder(parsed)
    # A plain engine: SQLite foreign keys stay OFF while tables are rebuilt (with
    # them ON, a batch migration's DROP TABLE would cascade into child rows).
    engine = create_async_engine(parsed, poolclass=pool.NullPool)
    if engine.dialect.name == "sqlite":
        _sqlite_transactional_ddl(engine.sync_engine)
    try:
        async with engine.connect() as connection:
            await connection.run_sync(run_on)
    finally:
        await engine.dispose()


def _sqlite_transactional_ddl(engine: Engine) -> None:
    """Run the whole upgrade in one SQLite transaction: all or nothing, and one
    sync to disk instead of one per CREATE. The sqlite3 driver would otherwise
    commit each DDL statement on its own (SQLAlchemy's documented recipe)."""

    @event.listens_for(engine, "connect")
    def _no_driver_transactions(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN")


def run_migrations_offline() -> None:
    context.configure(
        url=database_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
        render_as_batch=database_url().startswith("sqlite"),
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        run_on(connection)
    else:
        asyncio.run(run_async_migrations(database_url()))


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
