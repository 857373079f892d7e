"""The repository's scripts and entry points as separate processes, the way `make`
and a deployment run them: scripts/make_token.py, scripts/migrate.py, and importing
the app (which must read no environment)."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Awaitable
from pathlib import Path

import pytest

from app.auth import Principal, TokenVerifier
from app.developer.seed import AI_MODELS
from app.settings import Settings
from scripts import migrate as migrate_script
from tests.support.app import ROOT, make_settings
from tests.support.loopback import free_port

SECRET = "test-secret-0123456789abcdef0123456789abcdef"
URL_VARS = ("NAAP_API_SERVER_URL", "SUBGRAPH_URL", "L1_RPC_URL")


def script_settings() -> Settings:
    """HS256 with SECRET, every other JWT field explicit (the environment cannot
    leak in)."""
    return make_settings(
        jwt_algorithm="HS256",
        jwt_secret=SECRET,
        jwt_public_key=None,
        jwt_jwks_url=None,
        jwt_audience=None,
        jwt_issuer=None,
    )


# --- scripts/make_token.py ------------------------------------------------------------


def run_make_token(
    *args: str, **env: str
) -> Awaitable[subprocess.CompletedProcess[str]]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("JWT_", "APP_"))}
    clean.update(JWT_SECRET=SECRET, **env)
    return asyncio.to_thread(
        subprocess.run,
        [sys.executable, str(ROOT / "scripts" / "make_token.py"), *args],
        cwd=ROOT,
        env=clean,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


async def test_make_token_script_prints_a_token_that_verifies() -> None:
    done = await run_make_token("--sub", "user-1", "--roles", "usage:write,admin")

    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert done.stdout == token + "\n"  # the token alone, for TOKEN=$(make -s token)
    principal = await TokenVerifier(script_settings()).verify(token)
    assert principal == Principal("user-1", frozenset({"usage:write", "admin"}))
    assert 'curl -H "Authorization: Bearer $TOKEN"' in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


async def test_make_token_script_refuses_in_production() -> None:
    done = await run_make_token("--sub", "user-1", APP_ENV="production")

    assert done.returncode == 2
    assert done.stdout == ""
    assert "APP_ENV=production" in done.stderr


# --- scripts/migrate.py ---------------------------------------------------------------


def test_migrate_script_end_to_end(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'new' / 'naap.db'}"
    # As `make migrate` runs it: a new process, DATABASE_URL in the environment.
    done = subprocess.run(
        [sys.executable, "-W", "error", "scripts/migrate.py"],
        cwd=ROOT,
        env=dict(os.environ, DATABASE_URL=url),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    n = len(AI_MODELS)
    assert "schema migrated empty -> 0001" in done.stdout
    assert f"seeded 2 billing providers and {n} AI models" in done.stdout

    # Again (in process, to keep the suite fast): nothing left to do.
    monkeypatch.setenv("DATABASE_URL", url)
    assert migrate_script.main() == 0
    again = capsys.readouterr().out
    assert "schema at 0001 (already up to date)" in again
    assert f"seeded 0 billing providers and 0 AI models (now 2 and {n})" in again


# --- scripts/serve.py --------------------------------------------------------------


def test_serve_refuses_a_bad_persisted_operation_manifest(tmp_path: Path) -> None:
    manifest = tmp_path / "ops.json"
    manifest.write_text("{not json", encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "scripts/serve.py"],
        cwd=ROOT,
        env=dict(
            os.environ,
            PERSISTED_OPERATIONS_FILES=str(manifest),
            PORT=str(free_port()),
            LOG_LEVEL="warning",
        ),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 2, done.stderr
    assert f"serve: {manifest}: not valid JSON" in done.stderr
    assert "Traceback" not in done.stderr


# --- importing the app -------------------------------------------------------------


def test_importing_the_app_reads_no_environment() -> None:
    # Variables that would fail settings validation: importing must not notice.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (*URL_VARS, "APP_ENV", "ETH_USD_PRICE")
    }
    env.update({"APP_ENV": "production", "ETH_USD_PRICE": "nan", "PORT": "0"})
    script = (
        "import app.main, app.schema, app.settings\n"
        "try:\n"
        "    app.settings.load_settings()\n"
        "except app.settings.SettingsError:\n"
        "    print('rejected-on-demand')\n"
    )

    result = subprocess.run(  # noqa: S603 - fixed interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rejected-on-demand"
