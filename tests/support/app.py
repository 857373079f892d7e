"""The app under test: its settings, a movable clock, tokens, and serving it in
process (lifespan + a client on its ASGI interface)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.auth import mint_token
from app.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT.parent / "shared" / "reference"
T0 = datetime(2026, 11, 25, 14, 30, 15, tzinfo=UTC)
# The `build` fixture's type: (**settings overrides) -> a new app (tests/conftest.py).
Build = Callable[..., Starlette]
TEST_JWT_SECRET = "test-jwt-secret-for-the-suite-only"


@dataclass
class Clock:
    """A settable clock shared by the app and the simulator."""

    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


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
        # themselves are tested with small budgets in tests/api/test_rate_limits.py.
        "rate_limit_public": "100000/minute",
        "rate_limit_upstream": "100000/minute",
        "rate_limit_write": "100000/minute",
        # The parameter parsers' vectors send 10 KB values, past the production
        # cap (4 KB, a 414); tests/api/test_limits_caps.py tests the cap itself.
        "max_query_string_bytes": 65_536,
    }
    values.update(overrides)
    return Settings(**values)


@cache
def base_settings() -> Settings:
    """`make_settings()`, built once: building Settings reads the environment
    (~2-4 ms), and tokens are minted by the thousand. Copy it with
    `model_copy(update=...)` for fields that need no validation."""
    return make_settings()


def token_for(
    sub: str = "user-a", *, roles: tuple[str, ...] = (), **claims: Any
) -> str:
    """A valid bearer token for the test settings."""
    return mint_token(base_settings(), sub, roles=roles, **claims)


def auth(sub: str = "user-a", **claims: Any) -> dict[str, str]:
    return {"authorization": f"Bearer {token_for(sub, **claims)}"}


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


async def open_client(app: Starlette) -> tuple[LifespanManager, httpx.AsyncClient]:
    """Like `serve`, for tests that hold several apps open at once."""
    manager = LifespanManager(app)
    await manager.__aenter__()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=manager.app), base_url="http://test"
    )
    return manager, http


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
