"""Bring the database to the latest schema, then seed it: `python scripts/migrate.py`.

Reads DATABASE_URL (and DB_BUSY_TIMEOUT_MS) like the server does. Idempotent:
`make run` runs it once before starting the workers. Exit status 2 on a
configuration error, with the message on stderr.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection

from app.db import Database, migrate, parse_url
from app.developer.seed import catalog_counts, seed_catalog
from app.settings import SettingsError, load_settings


def _revision(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()


async def current_revision(db: Database) -> str | None:
    async with db.engine.connect() as connection:
        return await connection.run_sync(_revision)


async def run(url: str, busy_timeout_ms: int) -> str:
    db = Database(url, busy_timeout_ms=busy_timeout_ms)
    try:
        before = await current_revision(db)
        await asyncio.to_thread(migrate, url)
        after = await current_revision(db)
        result = await seed_catalog(db)
        providers, models = await catalog_counts(db)
    finally:
        await db.aclose()
    where = db.url.render_as_string(hide_password=True)
    schema = (
        f"schema at {after} (already up to date)"
        if before == after
        else f"schema migrated {before or 'empty'} -> {after}"
    )
    return (
        f"{where}: {schema}; seeded {result.providers_added} billing providers and "
        f"{result.models_added} AI models (now {providers} and {models})\n"
    )


def main() -> int:
    try:
        settings = load_settings()
        parse_url(settings.database_url)
    except (SettingsError, ValueError) as exc:
        sys.stderr.write(f"migrate: {exc}\n")
        return 2
    report = asyncio.run(run(settings.database_url, settings.db_busy_timeout_ms))
    sys.stdout.write(report)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
