"""Real sockets and processes on loopback, for what ASGITransport cannot show
(timeouts, drips, refused connections, several worker processes, signals)."""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.types import ASGIApp

from simulator import Fault, create_simulator
from tests.support.app import ROOT

STARTUP_TIMEOUT = 20.0


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
        # A request the app gave up on (a 30 s fault) must not hold up teardown:
        # what still runs when the test is over is cancelled after 0.1 s. (Typed
        # int, used as asyncio.wait_for's timeout: a float works.)
        timeout_graceful_shutdown=0.1,  # type: ignore[arg-type]
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


def free_port() -> int:
    """A loopback port that nothing listens on (free when this returns)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def closed_port_url() -> str:
    """The base URL of a loopback port that nothing listens on."""
    return f"http://127.0.0.1:{free_port()}"


@asynccontextmanager
async def live_simulator(
    faults: Mapping[str, Fault],
) -> AsyncIterator[tuple[Starlette, str]]:
    """The simulator on a loopback port, in this event loop: (the app, its URL)."""
    sim = create_simulator(seed=1, faults=faults)
    async with serve_on_loopback(sim) as base_url:
        yield sim, base_url


def read_log(path: Path) -> str:
    return path.read_text(errors="replace")


async def run_checked(*args: str, env: dict[str, str]) -> None:
    """Run a command from the repository root; fail with its output unless it
    exits 0 within a minute."""
    process = await asyncio.create_subprocess_exec(
        *args,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, output.decode(errors="replace")


async def wait_until_serve(
    process: asyncio.subprocess.Process, base_url: str, log: Path
) -> None:
    """Poll /healthz until the server process answers (or fail with its log)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=1.0) as http:
        async with asyncio.timeout(STARTUP_TIMEOUT):
            while True:
                if process.returncode is not None:
                    pytest.fail(f"a server exited during startup: {read_log(log)}")
                try:
                    if (await http.get("/healthz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.05)


@asynccontextmanager
async def make_run_process(
    tmp_path: Path, upstream: str, **overrides: str
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str, Path]]:
    """The app as `make run` starts it (scripts/serve.py) in its own process on a
    free loopback port, against the simulator at `upstream`, with a database of its
    own in `tmp_path` migrated first and `overrides` in its environment: (process,
    URL, log file). Killed on the way out if it is still running."""
    env = {
        **os.environ,
        "APP_ENV": "development",
        "LOG_LEVEL": "info",
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'naap.db'}",
        "NAAP_API_SERVER_URL": f"{upstream}/v1",
        "SUBGRAPH_URL": f"{upstream}/subgraph",
        "L1_RPC_URL": f"{upstream}/rpc",
        **overrides,
    }
    await run_checked(sys.executable, "scripts/migrate.py", env=env)
    port = free_port()
    log = tmp_path / "server.log"
    with log.open("wb") as sink:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "scripts/serve.py",
            cwd=ROOT,
            env={**env, "HOST": "127.0.0.1", "PORT": str(port)},
            stdout=sink,
            stderr=sink,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        await wait_until_serve(process, base_url, log)
        yield process, base_url, log
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
