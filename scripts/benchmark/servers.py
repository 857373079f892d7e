"""The servers the benchmark starts: `make run`'s command and the bare baseline.

Each runs as a subprocess on a loopback port with `make run`'s environment (only
the rate-limit budgets lifted); here too their peak RSS, read from /proc, and the
cold start: `make run`'s command from launch to its first KPI 200.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from scripts.benchmark.targets import HOST, KPI_PATH, ROOT, BenchError

START_TIMEOUT = 60.0

BASELINE_APP = '''\
"""naap-api benchmark baseline: each route returns stored bytes (bench.py)."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

# (path, method, file of the stored body)
STORED = {stored!r}


def _endpoint(body):
    async def stored(request):
        await request.body()  # a POST's body is read, as the API server reads it
        return Response(body, media_type="application/json")

    return stored


app = Starlette(
    routes=[
        Route(path, _endpoint(Path(file).read_bytes()), methods=[method])
        for path, method, file in STORED
    ]
)


def create_app():
    return app
'''

# The servers get these variables of the caller's, make run's and the benchmark's
# own, nothing else, so no setting in the caller's shell (upstream URLs, CACHE_URL,
# TTLs, LOG_LEVEL) changes them: `make run` in a clean shell.
SERVER_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


# --- processes ------------------------------------------------------------------


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


# Rate-limit budgets for the bench: the default 600/minute per client would
# refuse wrk within a second; the limiter still does its work on every request.
BENCH_RATE_LIMITS = {
    "RATE_LIMIT_PUBLIC": "100000000/minute",
    "RATE_LIMIT_UPSTREAM": "100000000/minute",
}


# `make run`'s server line: `HOST=$(HOST) PORT=$(PORT) WORKERS=$(WORKERS) $(SERVE)`
# with the Makefile's defaults (tests/test_run_logging.py checks they agree).
SERVE = ("scripts/serve.py",)
MAKE_RUN_ENV = {"HOST": HOST, "WORKERS": "1"}


def _python() -> str:
    venv_python = ROOT / ".venv" / "bin" / "python"
    return str(venv_python) if venv_python.exists() else sys.executable


def server_launch(port: int, *args: str) -> tuple[list[str], dict[str, str]]:
    """argv and environment of `make run` on `port`, with the bench's rate-limit
    budgets; `args` go to scripts/serve.py (the baseline's `--app`)."""
    env = _clean_env({**MAKE_RUN_ENV, "PORT": str(port), **BENCH_RATE_LIMITS})
    return [_python(), *SERVE, *args], env


def _clean_env(extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in SERVER_ENV_KEEP}
    env.update(extra)
    return env


class Server:
    """One uvicorn subprocess, its log in a file, stopped by `stop()`."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], log: Path):
        self.name = name
        self.argv = argv
        self.env = env
        self.log_path = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, cwd: Path) -> None:
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                self.argv,
                cwd=cwd,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # our Ctrl-C reaches us, we stop them
            )

    @property
    def pid(self) -> int:
        assert self.proc is not None  # noqa: S101 (started before use)
        return self.proc.pid

    def log_tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, url: str, timeout: float = START_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        last = "no answer"
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise BenchError(
                    f"{self.name} exited (status {code}) before answering {url}:\n"
                    f"{self.log_tail()}"
                )
            try:
                response = httpx.get(url, timeout=2.0)
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}"
            else:
                if response.status_code == 200:
                    return
                last = f"HTTP {response.status_code}"
            time.sleep(0.2)
        raise BenchError(
            f"{self.name} did not answer {url} within {timeout:.0f} s ({last}):\n"
            f"{self.log_tail()}"
        )

    def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            proc.wait(timeout=10)


@contextlib.contextmanager
def servers_stopped(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


@contextlib.contextmanager
def make_run_server(port: int, log: Path) -> Iterator[Server]:
    """make run's server on `port`, its database migrated first, once its /healthz
    answers; stopped on the way out. BenchError when it does not come up."""
    server = Server("naap-api", *server_launch(port), log)
    with servers_stopped([server]):
        migrate()
        server.start(ROOT)
        server.wait_ready(f"http://{HOST}:{port}/healthz")
        yield server


def migrate() -> None:
    """make run's prerequisite: its database migrated and seeded (idempotent)."""
    done = subprocess.run(
        [_python(), "scripts/migrate.py"],
        cwd=ROOT,
        env=_clean_env({}),
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise BenchError(f"migrate failed:\n{done.stderr}")


# --- memory ---------------------------------------------------------------------


def _descendants(pid: int) -> list[int]:
    """`pid` and every process below it, found through /proc/<n>/stat."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1:
            parents.setdefault(int(fields[1]), []).append(int(entry.name))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(parents.get(current, []))
    return found


def _status_kib(pid: int, field: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return 0
    match = re.search(rf"^{field}:\s+(\d+) kB", text, re.MULTILINE)
    return int(match.group(1)) if match else 0


def peak_rss_mib(pid: int) -> float:
    """The peak RSS (VmHWM) of the process and its children, summed, in MiB."""
    return sum(_status_kib(p, "VmHWM") for p in _descendants(pid)) / 1024


def reset_peak_rss(pid: int) -> bool:
    """Reset VmHWM to the current RSS (clear_refs 5); False where not allowed."""
    ok = True
    for p in _descendants(pid):
        try:
            Path(f"/proc/{p}/clear_refs").write_text("5")
        except OSError:
            ok = False
    return ok


# --- cold start -----------------------------------------------------------------


@dataclasses.dataclass
class ColdStart:
    seconds: list[float]  # one per measured launch, in order

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def _first_200(server: Server, client: httpx.Client, url: str, started: float) -> float:
    """Seconds from `started` to the first 200 on `url`, polling every 5 ms while
    the port refuses connections (uvicorn listens once the app's startup is done)."""
    while True:
        try:
            response = client.get(url)
        except httpx.TransportError:
            if server.proc is None or server.proc.poll() is not None:
                raise BenchError(
                    f"{server.name} exited before answering:\n{server.log_tail()}"
                ) from None
            if time.perf_counter() - started > START_TIMEOUT:
                raise BenchError(f"{server.name}: no answer on {url}") from None
            time.sleep(0.005)
            continue
        if response.status_code != 200:
            raise BenchError(f"{server.name}: {url} answered {response.status_code}")
        return time.perf_counter() - started


def measure_cold_start(count: int, tmp: Path) -> ColdStart:
    """`make run`'s command launched `count` + 1 times, each on a fresh port; each
    launch timed to its first 200 on the KPI route (a cache miss: the simulator's
    answer built in process). The first launch is not counted: it warms the page
    cache, as a restart on a running machine finds it."""
    seconds: list[float] = []
    headers = {"accept-encoding": "identity"}
    with httpx.Client(timeout=START_TIMEOUT, headers=headers) as client:
        for launch in range(count + 1):
            port = _free_port()
            argv, env = server_launch(port)
            server = Server("naap-api", argv, env, tmp / "cold-start.log")
            started = time.perf_counter()
            server.start(ROOT)
            try:
                took = _first_200(
                    server, client, f"http://{HOST}:{port}{KPI_PATH}", started
                )
            finally:
                server.stop()
            label = "unmeasured (warms the page cache)" if launch == 0 else "measured"
            print(f"  cold start {launch}: {took:.3f} s, {label}", flush=True)
            if launch:
                seconds.append(took)
    return ColdStart(seconds)
