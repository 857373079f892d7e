"""Shared fixtures: a settings object, the app on the simulator, a client, helpers.

Everything runs through the real ASGI interface (httpx.ASGITransport) and the real
upstream clients; the simulator answers in process with a fixed, movable clock.
"""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette
from starlette.types import ASGIApp

from app.auth import mint_token
from app.db import Database, migrate
from app.developer.seed import seed
from app.main import create_app
from app.settings import Settings
from simulator import Fault, create_simulator

ROOT = Path(__file__).resolve().parents[1]
REFERENCE = ROOT.parent / "shared" / "reference"
T0 = datetime(2026, 11, 25, 14, 30, 15, tzinfo=UTC)


@dataclass
class Clock:
    """A settable clock shared by the app and the simulator."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


TEST_JWT_SECRET = "test-jwt-secret-for-the-suite-only"


def make_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "app_env": "development",
        "naap_api_server_url": None,
        "subgraph_url": None,
        "l1_rpc_url": None,
        "simulator_seed": 1,
        "log_level": "warning",
        "jwt_secret": TEST_JWT_SECRET,
        "public_base_url": "http://test",
        # Never the developer's own var/naap.db: tests that need a database get
        # a migrated copy through the `settings` fixture.
        "database_url": "sqlite+aiosqlite:///:memory:",
        # Rate limits stay on (every test runs through them), but with budgets a
        # test's hundreds of requests from one address cannot spend; the limits
        # themselves are tested with small budgets in tests/test_rate_limits.py.
        "rate_limit_public": "100000/minute",
        "rate_limit_upstream": "100000/minute",
        "rate_limit_write": "100000/minute",
        # The parameter parsers' vectors send 10 KB values, past the production
        # cap (4 KB, a 414); tests/test_limits_caps.py tests the cap itself.
        "max_query_string_bytes": 65_536,
    }
    values.update(overrides)
    return Settings(**values)


async def _migrate_and_seed(url: str) -> None:
    await asyncio.to_thread(migrate, url)
    db = Database(url)
    try:
        await seed(db)
    finally:
        await db.aclose()


@pytest.fixture(scope="session")
def template_db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated, seeded SQLite file; each test gets its own copy (fast)."""
    path = tmp_path_factory.mktemp("template") / "naap.db"
    asyncio.run(_migrate_and_seed(f"sqlite+aiosqlite:///{path}"))
    return path


@pytest.fixture
def database_url(template_db: Path, tmp_path: Path) -> str:
    target = tmp_path / "naap.db"
    shutil.copyfile(template_db, target)
    return f"sqlite+aiosqlite:///{target}"


def token_for(
    sub: str = "user-a", *, roles: tuple[str, ...] = (), **claims: Any
) -> str:
    """A valid bearer token for the test settings."""
    return mint_token(make_settings(), sub, roles=roles, **claims)


def auth(sub: str = "user-a", **claims: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(sub, **claims)}"}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url=database_url)


@pytest.fixture
def simulator(clock: Clock) -> Starlette:
    return create_simulator(seed=1, clock=clock)


@pytest.fixture
def app(settings: Settings, simulator: Starlette, clock: Clock) -> Starlette:
    return create_app(settings, simulator=simulator, clock=clock)


@pytest.fixture
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as http:
        yield http


@asynccontextmanager
async def serve(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An app started (lifespan) and a client on its ASGI interface."""
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
        ) as http,
    ):
        yield http


@asynccontextmanager
async def serve_on_loopback(asgi_app: ASGIApp) -> AsyncIterator[str]:
    """`asgi_app` under uvicorn on a free loopback port, in this event loop; yields
    its base URL. For what ASGITransport cannot show: timeouts, drips, refusals."""
    config = uvicorn.Config(
        asgi_app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="off",
        ws="none",
        # A request the app gave up on (a 30 s fault) must not hold up teardown.
        timeout_graceful_shutdown=1,
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        async with asyncio.timeout(5):
            while not server.started:
                if task.done():
                    task.result()  # surface a startup failure
                    pytest.fail("the loopback server stopped during startup")
                await asyncio.sleep(0.01)
        port = server.servers[0].sockets[0].getsockname()[1]
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def open_client(app: Starlette) -> tuple[LifespanManager, httpx.AsyncClient]:
    """Like `serve`, for tests that hold several apps open at once."""
    manager = LifespanManager(app)
    await manager.__aenter__()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
    )
    return manager, http


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


async def gql(
    client: httpx.AsyncClient, query: str, **variables: Any
) -> dict[str, Any]:
    """POST a document; assert it succeeded; return `data`."""
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables}
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body["errors"]
    data: dict[str, Any] = body["data"]
    return data
