"""The database: one async engine, its sessions, migrations, a readiness probe.

`DATABASE_URL` picks SQLite (`sqlite+aiosqlite:///./var/naap.db`; development and
tests) or PostgreSQL (`postgresql+asyncpg://user:password@host:5432/dbname`;
production). Every write goes through `Database.writer()`; on SQLite this process's
writers queue there before `BEGIN IMMEDIATE` (SQLite's busy handler is not fair).
Lock and connection faults become `DatabaseUnavailable` (503) in
`unavailable_as_503`. Alembic owns the schema (`migrate`), never `create_all`.
The database stack (SQLAlchemy, the drivers, Alembic) is imported on first use,
never at startup: a server answering only dashboard routes never loads it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from app.errors import DatabaseUnavailable
from app.metrics import DB_ERRORS

if TYPE_CHECKING:
    # Imported where they are used (~300 ms of a start, Alembic ~100 modules more):
    # the functions below import them on first call.
    from alembic.config import Config
    from sqlalchemy.engine import URL, Connection
    from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

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


def dialect_of(url: str) -> str:
    """`"sqlite"` or `"postgresql"`, read from the URL's scheme alone (no SQLAlchemy):
    a clear error for any other driver, at startup. `parse_url` reads the rest."""
    scheme, sep, _ = url.partition("://")
    if not sep or scheme not in _DRIVERS:
        shown = f"{scheme}://…" if sep else "…"  # never the password
        raise ValueError(
            f"unsupported DATABASE_URL {shown!r}: use " + " or ".join(SUPPORTED_URLS)
        )
    return _DRIVERS[scheme]


def parse_url(url: str) -> URL:
    """The URL, if it names one of the two supported drivers; else a clear error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    dialect_of(url)
    try:
        return make_url(url)
    except ArgumentError:
        raise ValueError(
            "DATABASE_URL is not a URL SQLAlchemy can read: use "
            + " or ".join(SUPPORTED_URLS)
        ) from None


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

    Only the driver is checked when a Database is made; the rest of the URL is
    read when the engine is made, on first use, which imports SQLAlchemy
    (scripts/migrate.py, which `make run` runs first, reads all of it).
    """

    def __init__(self, url: str, *, busy_timeout_ms: int = 5000) -> None:
        self._url = url
        self._dialect = dialect_of(url)  # a wrong driver fails here, at startup
        self._busy_timeout_ms = int(busy_timeout_ms)
        self._engines: _Engines | None = None
        # Made in the loop that uses it (`_write_turn`), not here: create_app
        # builds the Database before any loop runs.
        self._queue: tuple[asyncio.AbstractEventLoop, asyncio.Lock] | None = None
        self._turn_holder: asyncio.Task[Any] | None = None

    def _built(self) -> _Engines:
        """The engine and session makers, made (SQLAlchemy imported) on first use."""
        if self._engines is None:
            self._engines = _build_engines(self.url, self._busy_timeout_ms)
        return self._engines

    @property
    def url(self) -> URL:
        return parse_url(self._url)

    @property
    def engine(self) -> AsyncEngine:
        return self._built().engine

    @property
    def dialect(self) -> str:
        """`"sqlite"` or `"postgresql"`."""
        return self._dialect

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        with unavailable_as_503():
            async with self._built().sessions() as session:
                yield session

    @asynccontextmanager
    async def writer(self) -> AsyncIterator[AsyncSession]:
        async with self._write_turn():
            with unavailable_as_503():
                async with self._built().writers() as session:
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

    def ensure_engine(self) -> None:
        """Make the engine now (importing SQLAlchemy) if no use has made it yet."""
        self._built()

    async def ping(self) -> None:
        """`SELECT 1` in a read session (readiness); raises as `session()` does."""
        from sqlalchemy import text

        async with self.session() as session:
            await session.execute(text("SELECT 1"))

    async def aclose(self) -> None:
        if self._engines is not None:
            await self._engines.engine.dispose()

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"


@dataclass(frozen=True, slots=True)
class _Engines:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]  # reads
    writers: async_sessionmaker[AsyncSession]  # writes (BEGIN IMMEDIATE on SQLite)


def _build_engines(url: URL, busy_timeout_ms: int) -> _Engines:
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

    if _DRIVERS[url.drivername] == "sqlite":
        ensure_sqlite_folder(url)
        engine = create_async_engine(url)
        _sqlite_setup(engine, busy_timeout_ms=busy_timeout_ms)
        write_engine = engine.execution_options(**{_SQLITE_BEGIN: "IMMEDIATE"})
    else:
        # Pooled connections are pinged before use: a restarted server costs
        # no request. asyncpg waits 60 s by default for a host that drops
        # packets; a request would hang that long before its 503. Five
        # seconds is plenty for a database on the same network.
        engine = create_async_engine(
            url,
            pool_pre_ping=True,
            connect_args={"timeout": PG_CONNECT_TIMEOUT},
        )
        write_engine = engine
    return _Engines(
        engine,
        async_sessionmaker(engine, expire_on_commit=False),
        async_sessionmaker(write_engine, expire_on_commit=False),
    )


_SQLITE_BEGIN = "naap_sqlite_begin"

# SQLite's SQLITE_BUSY / SQLITE_LOCKED messages: another connection holds the lock
# the statement needs, past the busy timeout.
_SQLITE_LOCKED = ("database is locked", "database is busy", "database table is locked")
LOCKED_MESSAGE = "The database is busy; retry shortly"
CONNECTION_MESSAGE = "The database is unavailable; retry shortly"


@cache
def _pg_unavailable() -> tuple[type[BaseException], ...]:
    """asyncpg's "the connection is gone or the server will not serve it now"
    errors: closed mid-operation, used after close, terminated by an administrator
    (pg_terminate_backend), server shutting down or starting up, too many clients."""
    import asyncpg  # type: ignore[import-untyped]

    return (
        asyncpg.exceptions.ConnectionDoesNotExistError,
        asyncpg.exceptions.InterfaceError,
        asyncpg.exceptions.AdminShutdownError,
        asyncpg.exceptions.CrashShutdownError,
        asyncpg.exceptions.CannotConnectNowError,
        asyncpg.exceptions.TooManyConnectionsError,
    )


def unavailable_kind(exc: BaseException) -> str | None:
    """`"locked"` or `"connection"` when `exc` means the database cannot serve the
    work right now (a retry may succeed); None for everything else."""
    from sqlalchemy.exc import DBAPIError, OperationalError

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
            if isinstance(cause, _pg_unavailable()):
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
    from sqlalchemy.exc import DBAPIError

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
    from sqlalchemy import event

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
    from sqlalchemy import text

    async with db.engine.connect() as connection:
        await connection.execute(text("SELECT 1"))
