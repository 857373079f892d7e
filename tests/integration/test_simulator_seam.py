"""The simulator's edges, each in a fresh process: `python -m simulator` as `make sim`
runs it, and the server importing the simulator only when something is simulated."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_URLS = {
    "NAAP_API_SERVER_URL": "http://analytics.invalid/v1",
    "SUBGRAPH_URL": "http://subgraph.invalid/subgraph",
    "L1_RPC_URL": "http://l1-rpc.invalid/rpc",
}
# Builds the app as `uvicorn --factory app.main:create_app` would, then lists the
# simulator modules loaded.
LOADED_SIMULATOR_MODULES = """\
import json, sys
from app.main import create_app
create_app()
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] == "simulator")))
"""


def run_python(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # Only the variables a Python process needs: the server reads its settings from
    # the environment, and the caller's must not leak in.
    base = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR")}
    return subprocess.run(  # noqa: S603 -- this interpreter, our arguments
        [sys.executable, "-W", "error", *args],
        cwd=ROOT,
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def simulator_modules_loaded(env: dict[str, str]) -> list[str]:
    done = run_python("-c", LOADED_SIMULATOR_MODULES, env=env)
    if done.returncode != 0:
        pytest.fail(done.stderr)
    modules: list[str] = json.loads(done.stdout)
    return modules


def test_python_m_simulator_help_describes_the_cli() -> None:
    done = run_python("-m", "simulator", "--help", env={})

    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: python -m simulator")
    for option in ("--host", "--port", "--seed"):
        assert option in done.stdout
    assert "NAAP_API_SERVER_URL" not in done.stdout  # nothing served, nothing printed


def test_production_app_never_imports_the_simulator(tmp_path: Path) -> None:
    env = {
        "APP_ENV": "production",
        "JWT_SECRET": secrets.token_urlsafe(48),
        "APP_SECRET": secrets.token_urlsafe(48),
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'naap.db'}",
        **UPSTREAM_URLS,
    }

    assert simulator_modules_loaded(env) == []


def test_development_app_without_upstream_urls_imports_the_simulator(
    tmp_path: Path,
) -> None:
    env = {
        "APP_ENV": "development",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'naap.db'}",
    }

    assert "simulator" in simulator_modules_loaded(env)
