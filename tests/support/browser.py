"""The browser tier's harness: the real server as a process, and a Chromium page
that records what it did.

`ServerProcess` runs `scripts/serve.py` (make run's launcher) on a free loopback
port with its own SQLite file and the simulator at a fixed seed; its faults are
set over HTTP (`/_sim/faults`). `PageLog` collects console errors, page errors
and every request of a page, and blocks any request that leaves loopback.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from tests.support.loopback import free_port

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ("--disable-gpu", "--disable-quic")
STARTUP_TIMEOUT = 30.0
LOOPBACK = {"127.0.0.1", "localhost", "[::1]", "::1"}
# The server's environment: make run's defaults, a fixed simulator, no rate limit
# a browser test could reach, quiet logs; and snapshots that stay fresh for the
# session, so what a page shows and what its test fetches come from the same
# snapshot (the simulator runs on the wall clock).
SERVER_ENV = {
    "APP_ENV": "development",
    "SIMULATOR_SEED": "1",
    "LOG_LEVEL": "warning",
    "RATE_LIMIT_PUBLIC": "100000/minute",
    "RATE_LIMIT_UPSTREAM": "100000/minute",
    "WORKERS": "1",
    "DASHBOARD_FRESH": "3600",
    "JOB_FEED_FRESH": "3600",
    # The pushed job feed reads that snapshot once and then keeps it, like the
    # rest (push tests start a server of their own that polls every 2 s).
    "JOB_FEED_PUSH_INTERVAL": "3600",
}


def chromium_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    if not CHROMIUM.exists():
        return (
            f"{CHROMIUM} is absent: apt-get install -y --no-install-recommends "
            "chromium (.ci/run does)"
        )
    return None


class ServerProcess:
    """The server as `make run` starts it, on a free port, until `stop()`."""

    def __init__(self, workdir: Path, **env: str) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log_path = workdir / "server.log"
        keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG")}
        self.env = {
            **keep,
            **SERVER_ENV,
            "HOST": "127.0.0.1",
            "PORT": str(self.port),
            "DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'naap.db'}",
            **env,
        }
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> ServerProcess:
        subprocess.run(
            [sys.executable, "scripts/migrate.py"],
            cwd=ROOT,
            env=self.env,
            check=True,
            capture_output=True,
        )
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "scripts/serve.py"],
                cwd=ROOT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the server exited: {self.log()}")
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"the server did not get ready: {self.log()}")

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def set_faults(self, faults: Mapping[str, Mapping[str, Any]]) -> None:
        """Replace the simulator's faults (endpoint key -> fault fields)."""
        answer = httpx.put(self.base_url + "/_sim/faults", json=dict(faults))
        answer.raise_for_status()

    def clear_faults(self) -> None:
        httpx.delete(self.base_url + "/_sim/faults").raise_for_status()

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return httpx.get(self.base_url + path, timeout=30, **kwargs)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


@dataclass
class PageLog:
    """What one page did: console errors, page errors, requests, blocked hosts."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[Any] = field(default_factory=list)  # playwright Request objects
    blocked: list[str] = field(default_factory=list)  # URLs that left loopback

    def watch(self, context: Any, page: Any) -> None:
        context.route("**/*", self._guard)
        page.on("console", self._console)
        page.on("pageerror", lambda error: self.page_errors.append(str(error)))
        page.on("request", lambda request: self.requests.append(request))

    def _guard(self, route: Any) -> None:
        url = route.request.url
        host = urlsplit(url).hostname or ""
        if url.startswith(("data:", "blob:")) or host in LOOPBACK:
            route.continue_()
        else:
            self.blocked.append(url)
            route.abort()

    def _console(self, message: Any) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def paths(self, prefix: str = "") -> list[str]:
        """Request paths (with query) in order, those starting with `prefix`."""
        out = []
        for request in self.requests:
            parts = urlsplit(request.url)
            path = parts.path + (f"?{parts.query}" if parts.query else "")
            if path.startswith(prefix):
                out.append(path)
        return out

    def assert_clean(self) -> None:
        assert self.console_errors == [], self.console_errors
        assert self.page_errors == [], self.page_errors
        assert self.blocked == [], self.blocked
