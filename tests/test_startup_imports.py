"""What a start costs: a server answering only dashboard routes never imports the
database stack, which loads on first use (a developer request). Each check runs in
a fresh process, as `make run` starts one: the development settings, the simulator.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DATABASE_STACK = ("sqlalchemy", "sqlmodel", "asyncpg", "aiosqlite")

# Builds the app as `uvicorn --factory app.main:create_app` would, runs its lifespan,
# answers one KPI request, then a developer request (the billing providers, read
# from the database), and prints the packages of interest loaded after each step.
SERVE_TWO_REQUESTS = """\
import asyncio, json, sys

import httpx
from asgi_lifespan import LifespanManager

from app.main import create_app

WATCHED = set(json.loads(sys.argv[1]))


def loaded():
    return sorted(WATCHED & {name.split(".")[0] for name in sys.modules})


async def main():
    steps = {}
    async with LifespanManager(create_app()) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            for step, path in (
                ("dashboard", "/api/v1/dashboard/kpi"),
                ("developer", "/api/v1/billing-providers"),
            ):
                response = await c.get(path)
                assert response.status_code == 200, (path, response.text)
                steps[step] = loaded()
    print(json.dumps(steps))


asyncio.run(main())
"""


def loaded_after_each_step(
    database_url: str, watched: tuple[str, ...]
) -> dict[str, list[str]]:
    # Only what a Python process needs: the server reads its settings from the
    # environment, and the caller's must not leak in.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    done = subprocess.run(  # noqa: S603 -- this interpreter, our arguments
        [sys.executable, "-W", "error", "-c", SERVE_TWO_REQUESTS, json.dumps(watched)],
        cwd=ROOT,
        env={**base, "APP_ENV": "development", "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        pytest.fail(done.stderr)
    steps: dict[str, list[str]] = json.loads(done.stdout)
    return steps


def test_database_stack_loads_on_first_use_not_at_startup(database_url: str) -> None:
    steps = loaded_after_each_step(database_url, DATABASE_STACK)

    assert steps["dashboard"] == []
    assert {"sqlalchemy", "sqlmodel", "aiosqlite"} <= set(steps["developer"])
