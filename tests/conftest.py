"""Shared fixtures: a settings object, the app on the simulator, a client, the
databases and Redis; and each test's tier, from its directory.

Tiers: tests/unit (no app), tests/api (the app in process, through
httpx.ASGITransport), tests/integration (sockets, processes, PostgreSQL, Redis),
tests/fuzz (schemathesis), tests/browser (Chromium against the server process).
Each test is marked with its tier (`-m unit`, ...).
Everything runs through the real ASGI interface and the real upstream clients; the
simulator answers in process with a fixed, movable clock. Helpers (settings,
tokens, serving an app, databases, Redis) are in tests/support.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from simulator import DEFAULT_OAUTH_CLIENTS, Fault, create_simulator
from tests.support.app import T0, Build, Clock, base_settings, serve
from tests.support.db import (
    create_database,
    given_postgres_url,
    migrate_and_seed,
    worker_database,
)
from tests.support.production import SETTINGS_VARS
from tests.support.redis_db import flushed_redis_url

TESTS = Path(__file__).resolve().parent
TIERS = ("unit", "api", "integration", "fuzz", "browser")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        item.add_marker(getattr(pytest.mark, tier_of(item.path)))
    # The browser tier runs last in each process: Playwright's sync API leaves its
    # event loop marked as running in the thread, so an asyncio test after it in
    # the same process could not start its own (pytest-xdist hands out tests in
    # this order, so a worker that got a browser test gets only browser tests).
    items.sort(key=lambda item: tier_of(item.path) == "browser")


# What the independent consumers did (schemathesis: seed, cases, checks, failures;
# the generated client: its calls), printed at the end of the session: the tests
# record a `summary` property, which pytest-xdist hands back with their reports.
FUZZ_SUMMARIES: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    if report.when == "call":
        FUZZ_SUMMARIES.extend(
            str(value) for name, value in report.user_properties if name == "summary"
        )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    for line in FUZZ_SUMMARIES:
        terminalreporter.write_line(line)


def tier_of(path: Path) -> str:
    parts = path.relative_to(TESTS).parts
    if len(parts) < 2 or parts[0] not in TIERS:
        raise pytest.UsageError(
            f"{path}: test modules live in a tier, tests/{{{','.join(TIERS)}}}/"
        )
    return parts[0]


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded SQLite file; each test gets its own copy (fast)."""
    path = tmp_path_factory.mktemp("template") / "naap.db"
    asyncio.run(migrate_and_seed(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def database_url(template_db: Path, tmp_path: Path) -> str:
    target = tmp_path / "naap.db"
    shutil.copyfile(template_db, target)
    return f"sqlite+aiosqlite:///{target}"


@pytest.fixture(scope="session")
def session_clock() -> Clock:
    return Clock()


@pytest.fixture(scope="session")
def session_simulator(session_clock: Clock) -> Starlette:
    """One simulator for the session: its world (seeded, memoised by hour) is built
    once instead of once per test; `simulator` resets what a test may change."""
    return create_simulator(seed=1, clock=session_clock)


@pytest.fixture
def clock(session_clock: Clock) -> Clock:
    """The clock of the app and the simulator, at T0 for every test."""
    session_clock.now = T0
    return session_clock


@pytest.fixture
def settings(database_url: str) -> Settings:
    return base_settings().model_copy(update={"database_url": database_url})


@pytest.fixture
def simulator(session_simulator: Starlette, clock: Clock) -> Starlette:
    """The session's simulator, as new: no calls counted, no faults, the default
    OAuth clients, no codes issued, nobody refusing consent."""
    state = session_simulator.state
    state.calls.clear()
    state.faults.clear()
    state.oauth_clients.clear()
    state.oauth_clients.update(DEFAULT_OAUTH_CLIENTS)
    state.oauth_codes.clear()
    state.oauth_deny.clear()
    return session_simulator


@pytest.fixture
def app(settings: Settings, simulator: Starlette, clock: Clock) -> Starlette:
    return create_app(settings, simulator=simulator, clock=clock)


@pytest.fixture
def build(settings: Settings, simulator: Starlette, clock: Clock) -> Build:
    """A factory of apps like `app`, with settings overridden: build(cors_origins=…)."""

    def make(**overrides: Any) -> Starlette:
        return create_app(
            settings.model_copy(update=overrides), simulator=simulator, clock=clock
        )

    return make


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as http:
        yield http


@pytest.fixture
def faulty_app(
    settings: Settings, clock: Clock
) -> Callable[..., tuple[Starlette, Starlette]]:
    """Build (app, simulator) with the given simulator faults and settings."""

    def build(
        faults: dict[str, Fault], **overrides: Any
    ) -> tuple[Starlette, Starlette]:
        sim = create_simulator(seed=1, clock=clock, faults=faults)
        merged = settings.model_copy(update=overrides)
        return create_app(merged, simulator=sim, clock=clock), sim

    return build


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """This process's PostgreSQL database (tests/support/db.py), created when
    missing; skips locally, fails under CI=true, when TEST_POSTGRES_URL is unset."""
    given = given_postgres_url()
    url = worker_database(given)
    if url != given:
        asyncio.run(create_database(url, via=given))
    return url


@pytest.fixture
async def redis_test_url() -> str:
    """TEST_REDIS_URL with its database flushed (skips or fails when unset)."""
    return await flushed_redis_url()


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable the settings tests depend on starts unset."""
    for name in SETTINGS_VARS:
        monkeypatch.delenv(name, raising=False)
