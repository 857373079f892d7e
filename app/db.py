"""The database: one async engine, its sessions, migrations, a readiness probe.

`DATABASE_URL` picks SQLite (`sqlite+aiosqlite:///./var/naap.db`; development and
tests) or PostgreSQL (`postgresql+asyncpg://user:password@host:5432/dbname`;
production). Every write goes through `Database.writer()`. On SQLite this process's
writers queue there, first come first served, before `BEGIN IMMEDIATE` takes the
database's one write lock: SQLite's busy handler is not fair, so only another
process can make a write wait out the busy timeout. Lock and connection faults
become `DatabaseUnavailable` (503) in `unavailable_as_503`. Alembic owns the schema
(`migrate`), never `create_all`; it is imported only when a migration runs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg  # type: ignore[import-untyped]
from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, OperationalError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from app.errors import DatabaseUnavailable
from app.metrics import DB_ERRORS

if TYPE_CHECKING:
    # Alembic (with Mako and Pygments, ~100 modules) is imported where it is
    # used: a server never migrates, so it never pays for it at start.
    from alembic.config import Config

log = logging.getLogger("naap.db")

PG_CONNECT_TIMEOUT = 5.0  # seconds, per new PostgreSQL connection

ROOT = Path(__file__).resolve().parent.parent
ALEMBIC_INI = ROOT / "alembic.ini"
MIGRATIONS = ROOT / "migrations"

SUPPORTED_URLS = (
    "sqlite+aiosqlite:///path/to/file.db",
    "postgresql+asyncpg://user:password@host:5432/dbname",
)
_DRIVERS = {"sqlite+aiosqlite": "sqlite", "postgresql+asyncpg": "postgresql"}


def parse_url(url: str) -> URL:
    """The URL, if it names one of the two supported drivers; else a clear error."""
    try:
        parsed = make_url(url)
    except ArgumentError:
        parsed = None
    if parsed is None or parsed.drivername not in _DRIVERS:
        raise ValueError(
            f"unsupported DATABASE_URL {_redacted(url)!r}: use "
            + " or ".join(SUPPORTED_URLS)
        )
    return parsed


def _redacted(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url.split("://", 1)[0] + "://…" if "://" in url else "…"


def sqlite_file(url: URL) -> Path | None:
    """The file behind a SQLite URL; None for in-memory and `file:` URI databases."""
    database = url.database or ""
    if url.get_backend_name() != "sqlite" or database in ("", ":memory:"):
        return None
    if database.startswith("file:") or url.query.get("uri") in ("true", "1"):
        return None
    return Path(database)


def ensure_sqlite_folder(url: URL) -> None:
    """Create the folder of a SQLite file (SQLite creates the file, not its folder)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)


class Database:
    """An async engine and two kinds of session.

    - `async with db.session() as s:` for reads. Nothing is committed.
    - `async with db.writer() as s:` for every write: one transaction, committed
      when the block ends, rolled back if it raises. On SQLite this process's
      writers take turns in arrival order on an `asyncio.Lock`, then `BEGIN
      IMMEDIATE` takes the write lock up front, so none fails half-way with
      "database is locked". (Left to SQLite's busy handler, they would poll with
      growing sleeps that let newcomers overtake, and under load an unlucky one
      would pass the busy timeout.) Only another process (a worker, a migration,
      a `sqlite3` shell) can then hold a writer past its turn, for at most the
      busy timeout; the wait for the turn itself is unbounded. Blocks should
      not nest (see `_write_turn`). PostgreSQL needs no queue: its transactions
      lock only the rows they write.

    Both raise `DatabaseUnavailable` for a lock or connection fault, once the
    transaction is rolled back; every other exception passes unchanged.

    Sessions are SQLAlchemy `AsyncSession`s with `expire_on_commit=False` (objects
    stay readable after commit). Savepoints (`begin_nested()`) work on both
    backends: on SQLite the driver's own transaction handling is switched off and
    SQLAlchemy emits BEGIN itself (SQLAlchemy's documented recipe).
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        parsed = parse_url(url)
        self.url = parsed
        self._dialect = _DRIVERS[parsed.drivername]
        if self._dialect == "sqlite":
            ensure_sqlite_folder(parsed)
            self.engine: AsyncEngine = create_async_engine(parsed)
            _sqlite_setup(self.engine, busy_timeout_ms=int(busy_timeout_ms))
            write_engine = self.engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
        else:
            # Pooled connections are pinged before use: a restarted server costs
            # no request. asyncpg waits 60 s by default for a host that drops
            # packets; a request would hang that long before its 503. Five
            # seconds is plenty for a database on the same network.
            self.engine = create_async_engine(
                parsed,
                pool_pre_ping=True,
                connect_args={"timeout": PG_CONNECT_TIMEOUT},
            )
            write_engine = self.engine
        self._sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self._writers = async_sessionmaker(write_engine, expire_on_commit=False)
        # Made in the loop that uses it (`_write_turn`), not here: create_app
        # builds the Database before any loop runs.
        self._queue: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._turn_holder: asyncio.Task[Any] | None = None

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self._dialect

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        with unavailable_as_503():
            async with self._sessions() as session:
                yield session

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        async with self._write_turn():
            with unavailable_as_503():
                async with self._writers() as session:
                    try:
                        yield session
                        await session.commit()
                    except BaseException:
                        await session.rollback()
                        raise

    @asynccontextmanager
    async def _write_turn(self) -> AsyncIterator[None]:
        """This process's writers one at a time, in arrival order (SQLite only).

        A writer nested in one of the same task would wait for itself forever: it
        skips the queue and meets the outer block's write lock instead, busy after
        the timeout like a writer of another process."""
        task = asyncio.current_task()
        if self._dialect != "sqlite" or (
            task is not None and task is self._turn_holder
        ):
            yield
            return
        loop = asyncio.get_running_loop()
        if self._queue is None or self._queue[0] is not loop:
            self._queue = (loop, asyncio.Lock())
        async with self._queue[1]:
            self._turn_holder = task
            try:
                yield
            finally:
                self._turn_holder = None

    async def aclose(self) -> None:
        await self.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


_SQLITE_BEGIN = "naap_sqlite_begin"

# SQLite's SQLITE_BUSY / SQLITE_LOCKED messages: another connection holds the lock
# the statement needs, past the busy timeout.
_SQLITE_LOCKED = ("database is locked", "database is busy", "database table is locked")
# asyncpg's "the connection is gone or the server will not serve it now" errors:
# closed mid-operation, used after close, terminated by an administrator
# (pg_terminate_backend), server shutting down or starting up, too many clients.
_PG_UNAVAILABLE: tuple[type[BaseException], ...] = (
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.InterfaceError,
    asyncpg.exceptions.AdminShutdownError,
    asyncpg.exceptions.CrashShutdownError,
    asyncpg.exceptions.CannotConnectNowError,
    asyncpg.exceptions.TooManyConnectionsError,
)
LOCKED_MESSAGE = "The database is busy; retry shortly"
CONNECTION_MESSAGE = "The database is unavailable; retry shortly"


def unavailable_kind(exc: BaseException) -> str | None:
    """`"locked"` or `"connection"` when `exc` means the database cannot serve the
    work right now (a retry may succeed); None for everything else."""
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated:
            return "connection"
        if isinstance(exc, OperationalError):
            message = str(exc.orig).lower()
            if any(text in message for text in _SQLITE_LOCKED):
                return "locked"
        # SQLAlchemy wraps asyncpg's exception in its DBAPI adapter: look down the
        # chain (orig, then its cause) for the driver's own class.
        cause: BaseException | None = exc.orig
        while cause is not None:
            if isinstance(cause, _PG_UNAVAILABLE):
                return "connection"
            cause = cause.__cause__
        return None
    if isinstance(exc, OSError):  # connect(): refused, unreachable, timed out
        return "connection"
    return None


@contextmanager
def unavailable_as_503() -> Iterator[None]:
    """The one seam where database faults become `DatabaseUnavailable`: a SQLite
    write lock still held by another writer when the busy timeout runs out, or a
    lost connection (server restarted, backend terminated, network gone). Each is
    logged once with the driver's message and counted in `naap_db_errors_total`.
    Integrity errors and every other exception pass through unchanged."""
    try:
        yield
    except (DBAPIError, OSError) as exc:
        kind = unavailable_kind(exc)
        if kind is None:
            raise
        DB_ERRORS.labels(kind=kind).inc()
        # The driver's message only: SQLAlchemy's own text carries the statement's
        # parameters (key hashes, encrypted tokens), which stay out of logs.
        cause: BaseException | None = exc.orig if isinstance(exc, DBAPIError) else exc
        if cause is not None and cause.__cause__ is not None:
            cause = cause.__cause__  # the driver's exception under SQLAlchemy's adapter
        log.warning(
            "database unavailable (kind=%s): %s: %s",
            kind,
            type(cause).__name__,
            cause,
        )
        message = LOCKED_MESSAGE if kind == "locked" else CONNECTION_MESSAGE
        raise DatabaseUnavailable(message, kind=kind) from exc


def _sqlite_setup(engine: AsyncEngine, *, busy_timeout_ms: int) -> None:
    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # SQLAlchemy, not the sqlite3 module, decides when transactions begin.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_timeout_ms:d}")
            # SQLite leaves foreign keys off unless told, and the delete rules of
            # app/developer/models.py depend on them.
            cursor.execute("PRAGMA foreign_keys=ON")
        finally:
            cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        mode = connection.get_execution_options().get(_SQLITE_BEGIN)
        connection.exec_driver_sql(
            "BEGIN IMMEDIATE" if mode == "IMMEDIATE" else "BEGIN"
        )


def alembic_config(url: str) -> Config:
    """The repository's Alembic config, pointed at `url` (any working directory)."""
    from alembic.config import Config

    parse_url(url)
    config = Config(str(ALEMBIC_INI))
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolation: a literal % (URL-escaped passwords) is %%.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    # Leave the host application's logging alone (no fileConfig from alembic.ini).
    config.attributes["configure_logger"] = False
    return config


def migrate(url: str) -> None:
    """`alembic upgrade head` on `url`. Synchronous: from async code, use
    `await asyncio.to_thread(migrate, url)` (env.py runs its own event loop)."""
    from alembic import command

    command.upgrade(alembic_config(url), "head")


async def check(db: Database) -> None:
    """Raise unless the database answers `SELECT 1` (readiness probe)."""
    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
