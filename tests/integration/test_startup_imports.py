"""What a start costs: a server answering only dashboard routes never imports the
database stack, redis-py, python-jose, cryptography or Strawberry's ASGI app; each
loads on first use (a developer request, a CACHE_URL, a token, a GraphQL request
for Strawberry). Checked in a fresh process, as `make run` starts one: the
development settings, the simulator, no CACHE_URL.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.app import TEST_JWT_SECRET, auth

ROOT = Path(__file__).resolve().parents[2]
DATABASE_STACK = ("sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite")
# jose.utils (and cryptography's package) load at startup for a check of the
# secret; the JWT code and cryptography's primitives must not.
JWT_STACK = ("jose.jwt", "cryptography.hazmat")
STRAWBERRY_ASGI = "strawberry.asgi"
WATCHED = (*DATABASE_STACK, "redis", *JWT_STACK, STRAWBERRY_ASGI)

# Builds the app as `uvicorn --factory app.main:create_app` would, runs its lifespan
# and answers one request per step, printing the watched modules loaded after each.
SERVE_STEPS = """\
import asyncio, json, sys

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app

WATCHED = set(json.loads(sys.argv[1]))
STEPS = json.loads(sys.argv[2])


def loaded():
    return sorted(WATCHED & set(sys.modules))


async def main():
    after = {}
    async with LifespanManager(create_app()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for step, (path, headers) in STEPS.items():
                response = await c.get(path, headers=headers)
                assert response.status_code == 200, (path, response.text)
                after[step] = loaded()
    print(json.dumps(after))


asyncio.run(main())
"""
STEPS = {
    "dashboard": ("/api/v1/dashboard/kpi", {}),
    "developer": ("/api/v1/billing-providers", {}),  # public, from the database
    "authenticated": ("/api/v1/developer/projects", auth()),
    # A developer field: not a public read, so Strawberry's app answers it.
    "graphql": ("/graphql?query=%7BapiKeys%7Bkeys%7Bid%7D%7D%7D", auth()),
}


@pytest.fixture(scope="module")
def loaded(
    template_db: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, set[str]]:
    """The watched modules loaded after each step of STEPS, in order."""
    database = tmp_path_factory.mktemp("startup") / "naap.db"
    shutil.copyfile(template_db, database)
    # Only what a Python process needs: the server reads its settings from the
    # environment, and the caller's must not leak in.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    done = subprocess.run(  # noqa: S603 -- this interpreter, our arguments
        [
            sys.executable,
            "-W",
            "error",
            "-c",
            SERVE_STEPS,
            json.dumps(WATCHED),
            json.dumps(STEPS),
        ],
        cwd=ROOT,
        env={
            **base,
            "APP_ENV": "development",
            "DATABASE_URL": f"sqlite+aiosqlite:///{database}",
            "JWT_SECRET": TEST_JWT_SECRET,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr)
    return {step: set(names) for step, names in json.loads(done.stdout).items()}


def test_a_dashboard_request_loads_none_of_them(
    loaded: dict[str, set[str]],
) -> None:
    assert loaded["dashboard"] == set()


def test_a_database_request_loads_the_database_stack(
    loaded: dict[str, set[str]],
) -> None:
    assert {"sqlalchemy", "sqlmodel", "aiosqlite"} <= loaded["developer"]
    assert "redis" not in loaded["developer"]  # no CACHE_URL
    assert not loaded["developer"] & set(JWT_STACK)  # no token yet


def test_an_authenticated_request_loads_the_jwt_stack(
    loaded: dict[str, set[str]],
) -> None:
    assert set(JWT_STACK) <= loaded["authenticated"]


def test_a_request_for_strawberry_loads_its_asgi_app(
    loaded: dict[str, set[str]],
) -> None:
    assert STRAWBERRY_ASGI not in loaded["authenticated"]
    assert STRAWBERRY_ASGI in loaded["graphql"]
