"""Benchmark the dashboard routes against a bare Starlette baseline: `make bench`.

Starts, on loopback, the API server exactly as `make run` does (scripts/serve.py,
its environment; only the rate-limit budgets lifted) and, under the same command,
a bare Starlette app returning the stored bytes of the KPI body; drives both with
the same load in interleaved rounds (wrk when installed, otherwise an asyncio +
httpx generator) and prints requests/s, p50, p99 and peak RSS per target with its
ratio to the baseline, and the cold start (launch to the first KPI 200). Writes
them, the machine and the settings to BENCHMARKS.md (hand-written sections kept).

    python scripts/bench.py [--duration 30] [--rounds 3] [--connections 50]
        [--threads 2] [--warmup 2] [--port 8091] [--baseline-port 8092]
        [--out BENCHMARKS.md] [--tool auto|wrk|python] [--timeout 30]
        [--cold-starts 5] [--cold-start-only]

A benchmark, not a test: the target checks are printed, never asserted. Exit
status 0 whatever the numbers; 1 when a server fails to start or a warm-up
request fails; 2 on bad arguments (a busy port, --tool wrk without wrk).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import json
import math
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import FrameType

import httpx

ROOT = Path(__file__).resolve().parents[1]
HOST = "127.0.0.1"
KPI_PATH = "/api/v1/dashboard/kpi"
ORCHESTRATORS_PATH = "/api/v1/dashboard/orchestrators"
GRAPHQL_PATH = "/graphql"
WARMUP_REQUESTS = 3
START_TIMEOUT = 60.0

# Targets (ratios to the same-run baseline, memory, cold start). Printed, never
# asserted.
KPI_MIN_RPS_RATIO = 0.60
KPI_MAX_P99_RATIO = 2.0
OVERVIEW_MIN_RPS_RATIO = 0.35
MAX_PEAK_RSS_MIB = 150.0
MAX_COLD_START_S = 0.5

# Every dashboard root field with its full selection: built from the REST
# operations themselves (rest_facade/operations/Dashboard*.graphql and
# NetworkModels.graphql), so the benchmark follows them when they change.
OVERVIEW_OPERATIONS = (
    "DashboardKPI",
    "DashboardProtocol",
    "DashboardFees",
    "DashboardPipelines",
    "DashboardPipelineCatalog",
    "DashboardGPUCapacity",
    "DashboardPricing",
    "DashboardOrchestrators",
    "DashboardJobFeed",
    "NetworkModels",
)


def overview_query() -> str:
    """One query: the operations' variables, root selections and fragments merged
    (the variables are all optional and of one type per name)."""
    from graphql import OperationDefinitionNode, parse, print_ast

    variables: dict[str, str] = {}
    selections: list[str] = []
    fragments: dict[str, str] = {}
    for name in OVERVIEW_OPERATIONS:
        source = (ROOT / "rest_facade" / "operations" / f"{name}.graphql").read_text()
        for definition in parse(source).definitions:
            if isinstance(definition, OperationDefinitionNode):
                for var in definition.variable_definitions or ():
                    variables[var.variable.name.value] = print_ast(var.type)
                selections.extend(
                    print_ast(s) for s in definition.selection_set.selections
                )
            else:
                fragments[definition.name.value] = print_ast(definition)  # type: ignore[attr-defined]
    # The SDK's `pipelines` field has no REST operation of its own.
    selections.append(
        "pipelines(limit: $limit, timeframe: $timeframe) "
        "{ name mins sessions avgFps color modelMins { model mins sessions avgFps } }"
    )
    signature = ", ".join(f"${k}: {t}" for k, t in variables.items())
    body = "\n  ".join(selections)
    return f"query BenchOverview({signature}) {{\n  {body}\n}}\n" + "\n".join(
        fragments.values()
    )


OVERVIEW_QUERY = overview_query()

BASELINE_APP = '''\
"""naap-api benchmark baseline: one route returning stored bytes (bench.py)."""

from pathlib import Path

from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = Path({body_path!r}).read_bytes()


async def stored(request):
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route({path!r}, stored, methods=["GET"])])


def create_app():
    return app
'''

# The servers get these variables of the caller's, make run's and the benchmark's
# own, nothing else, so no setting in the caller's shell (upstream URLs, CACHE_URL,
# TTLs, LOG_LEVEL) changes them: `make run` in a clean shell.
SERVER_ENV_KEEP = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SYSTEMROOT")


class BenchError(Exception):
    """A server did not start or did not answer: no numbers to report."""


@dataclasses.dataclass(frozen=True)
class Target:
    key: str
    label: str
    method: str
    url: str
    body: bytes | None = None
    content_type: str | None = None


@dataclasses.dataclass
class Result:
    target: Target
    rps: float
    p50_ms: float
    p99_ms: float
    requests: int
    errors: int = 0
    non_2xx: int = 0
    rss_mib: float | None = None
    body_bytes: int = 0
    x_cache: str | None = None
    graphql_errors: int = 0


# --- processes ------------------------------------------------------------------


def _port_free(port: int) -> bool:
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


# --- load -----------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}


def _ms(value: str, unit: str) -> float:
    return float(value) * _UNITS[unit]


def parse_wrk(output: str) -> tuple[float, float, float, int, int, int]:
    """requests/s, p50 ms, p99 ms, requests, socket errors, non-2xx from wrk."""
    rps = re.search(r"^Requests/sec:\s+([\d.]+)", output, re.MULTILINE)
    if rps is None:
        raise BenchError(f"could not read wrk's output:\n{output}")
    latency = {
        pct: _ms(value, unit)
        for pct, value, unit in re.findall(
            r"^\s+(\d+)%\s+([\d.]+)(us|ms|s|m|h)\s*$", output, re.MULTILINE
        )
    }
    total = re.search(r"^\s+(\d+) requests in", output, re.MULTILINE)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    return (
        float(rps.group(1)),
        latency.get("50", math.nan),
        latency.get("99", math.nan),
        int(total.group(1)) if total else 0,
        sum(int(n) for n in socket_errors.groups()) if socket_errors else 0,
        int(non_2xx.group(1)) if non_2xx else 0,
    )


def _lua_long_string(text: str) -> str:
    level = 0
    while f"]{'=' * level}]" in text:
        level += 1
    eq = "=" * level
    return f"[{eq}[{text}]{eq}]"


def wrk_script(target: Target, tmp: Path) -> Path | None:
    if target.method == "GET" and target.body is None:
        return None
    path = tmp / f"{target.key}.lua"
    lines = [f'wrk.method = "{target.method}"']
    if target.body is not None:
        lines.append(f"wrk.body = {_lua_long_string(target.body.decode())}")
    if target.content_type:
        lines.append(f'wrk.headers["Content-Type"] = "{target.content_type}"')
    path.write_text("\n".join(lines) + "\n")
    return path


def run_wrk(
    target: Target, args: argparse.Namespace, duration: float, tmp: Path
) -> Result:
    argv = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{max(1, round(duration))}s",
        f"--timeout={args.timeout}s",
        "--latency",
    ]
    script = wrk_script(target, tmp)
    if script is not None:
        argv += ["-s", str(script)]
    argv.append(target.url)
    done = subprocess.run(
        argv, capture_output=True, text=True, check=False, timeout=duration + 120
    )
    if done.returncode != 0:
        raise BenchError(
            f"wrk failed ({done.returncode}): {done.stderr or done.stdout}"
        )
    rps, p50, p99, total, errors, non_2xx = parse_wrk(done.stdout)
    return Result(target, rps, p50, p99, total, errors, non_2xx)


def percentile(sorted_samples: Sequence[float], q: float) -> float:
    """Nearest-rank percentile of already sorted samples (q in 0..1)."""
    if not sorted_samples:
        return math.nan
    rank = max(1, math.ceil(q * len(sorted_samples)))
    return sorted_samples[rank - 1]


async def _python_load(
    target: Target, connections: int, duration: float, request_timeout: float
) -> Result:
    """`connections` workers, each looping on its own keep-alive connection.

    One client per worker (a pool of one), `connections` in all: a single
    client's pool of 50 (httpx.Limits(max_connections=50)) degrades to about a
    fifth of the throughput on this machine, measuring httpcore's pool instead
    of the server.
    """
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    # Like wrk: no compression, so both tools move the same bytes.
    headers = {"accept-encoding": "identity"}
    if target.content_type:
        headers["content-type"] = target.content_type
    latencies: list[float] = []
    counts = {"errors": 0, "non_2xx": 0}
    start = time.perf_counter()
    deadline = start + duration

    async def worker() -> None:
        async with httpx.AsyncClient(
            limits=limits, timeout=request_timeout, headers=headers
        ) as client:
            while time.perf_counter() < deadline:
                began = time.perf_counter()
                try:
                    response = await client.request(
                        target.method, target.url, content=target.body
                    )
                except httpx.HTTPError:
                    counts["errors"] += 1
                    await asyncio.sleep(0.01)
                    continue
                latencies.append(time.perf_counter() - began)
                if not 200 <= response.status_code < 400:
                    counts["non_2xx"] += 1

    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - start
    latencies.sort()
    return Result(
        target,
        rps=len(latencies) / elapsed if elapsed > 0 else 0.0,
        p50_ms=percentile(latencies, 0.50) * 1e3,
        p99_ms=percentile(latencies, 0.99) * 1e3,
        requests=len(latencies),
        errors=counts["errors"],
        non_2xx=counts["non_2xx"],
    )


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop when installed (uvicorn[standard] brings it): a faster client."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def run_load(
    tool: str, target: Target, args: argparse.Namespace, duration: float, tmp: Path
) -> Result:
    if tool == "wrk":
        return run_wrk(target, args, duration, tmp)
    with asyncio.Runner(loop_factory=_loop_factory()) as runner:
        return runner.run(
            _python_load(target, args.connections, duration, float(args.timeout))
        )


# --- warm-up --------------------------------------------------------------------


def warm(target: Target) -> tuple[bytes, str | None, int]:
    """A few requests so the measured ones hit the caches; the last one's body,
    X-Cache header and GraphQL error count. A failing request is fatal."""
    headers = {"accept-encoding": "identity"}
    if target.content_type:
        headers["content-type"] = target.content_type
    response: httpx.Response | None = None
    with httpx.Client(timeout=60.0, headers=headers) as client:
        for _ in range(WARMUP_REQUESTS):
            response = client.request(target.method, target.url, content=target.body)
            if response.status_code != 200:
                raise BenchError(
                    f"{target.label}: warm-up got HTTP {response.status_code}: "
                    f"{response.text[:500]}"
                )
    assert response is not None  # noqa: S101 (WARMUP_REQUESTS > 0)
    graphql_errors = 0
    if target.url.endswith(GRAPHQL_PATH):
        payload = response.json()
        graphql_errors = len(payload.get("errors") or [])
    return response.content, response.headers.get("x-cache"), graphql_errors


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


# --- report ---------------------------------------------------------------------


def _read_first(path: str, pattern: str) -> str | None:
    try:
        text = Path(path).read_text()
    except OSError:
        return None
    match = re.search(pattern, text, re.MULTILINE)
    return match.group(1).strip() if match else None


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _wrk_version() -> str | None:
    if shutil.which("wrk") is None:
        return None
    done = subprocess.run(["wrk", "-v"], capture_output=True, text=True, check=False)
    first = (done.stdout or done.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "wrk"


def machine_info() -> dict[str, str]:
    mem_kib = _read_first("/proc/meminfo", r"^MemTotal:\s+(\d+)")
    return {
        "CPUs (nproc)": str(len(os.sched_getaffinity(0))),
        "CPU model": _read_first("/proc/cpuinfo", r"^model name\s*:\s*(.+)$")
        or platform.processor()
        or "unknown",
        "memory": f"{int(mem_kib) / 1024**2:.1f} GiB" if mem_kib else "unknown",
        "kernel": f"{platform.system()} {platform.release()}",
        "Python": platform.python_version(),
        "uvicorn": _version("uvicorn"),
        "starlette": _version("starlette"),
        "strawberry-graphql": _version("strawberry-graphql"),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(value: float, base: float) -> float:
    if base <= 0 or math.isnan(value) or math.isnan(base):
        return math.nan
    return value / base


def table(results: list[Result], baseline: Result) -> str:
    rows = [
        "| target | requests/s | p50 ms | p99 ms | peak RSS MiB | body bytes "
        "| rps / baseline | p99 / baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rows.append(
            f"| {r.target.label} | {_fmt(r.rps)} | {_fmt(r.p50_ms, 2)} "
            f"| {_fmt(r.p99_ms, 2)} | {_fmt(r.rss_mib)} | {r.body_bytes:,} "
            f"| {_fmt(_ratio(r.rps, baseline.rps), 2)} "
            f"| {_fmt(_ratio(r.p99_ms, baseline.p99_ms), 2)} |"
        )
    return "\n".join(rows)


def _met(ok: bool) -> str:
    return f"**{'met' if ok else 'not met'}**"


def cold_start_check(cold: ColdStart) -> str:
    return (
        f"- Cold start (launch to the first KPI 200): median {cold.median:.3f} s of "
        f"{len(cold.seconds)} launches (target <= {MAX_COLD_START_S:.1f} s): "
        f"{_met(cold.median <= MAX_COLD_START_S)}"
    )


def checks(
    kpi: Result, overview: Result, baseline: Result, cold: ColdStart
) -> list[str]:
    kpi_rps = _ratio(kpi.rps, baseline.rps)
    kpi_p99 = _ratio(kpi.p99_ms, baseline.p99_ms)
    ov_rps = _ratio(overview.rps, baseline.rps)
    rss = kpi.rss_mib if kpi.rss_mib is not None else math.nan
    return [
        f"- Route 1 (KPI): rps ratio {_fmt(kpi_rps, 2)} "
        f"(target >= {KPI_MIN_RPS_RATIO:.2f}) and p99 ratio {_fmt(kpi_p99, 2)} "
        f"(target <= {KPI_MAX_P99_RATIO:.1f}): "
        f"{_met(kpi_rps >= KPI_MIN_RPS_RATIO and kpi_p99 <= KPI_MAX_P99_RATIO)}",
        f"- Route 3 (GraphQL overview): rps ratio {_fmt(ov_rps, 2)} "
        f"(target >= {OVERVIEW_MIN_RPS_RATIO:.2f}): "
        f"{_met(ov_rps >= OVERVIEW_MIN_RPS_RATIO)}",
        f"- Peak RSS of the API server: {_fmt(rss)} MiB "
        f"(target < {MAX_PEAK_RSS_MIB:.0f}): {_met(rss < MAX_PEAK_RSS_MIB)}",
        cold_start_check(cold),
    ]


def notes(results: list[Result]) -> list[str]:
    out = []
    for r in results:
        bits = []
        if r.errors:
            bits.append(f"{r.errors} socket errors/timeouts")
        if r.non_2xx:
            bits.append(f"{r.non_2xx} non-2xx responses")
        if r.graphql_errors:
            bits.append(f"{r.graphql_errors} GraphQL errors in the warm-up response")
        if bits:
            out.append(f"- {r.target.label}: " + ", ".join(bits))
    return out


# The sections write_report writes; any other `## ` section of the file it
# replaces was written by hand (comparisons, history) and is kept, after these.
REPORT_SECTIONS = frozenset(
    {
        "Machine",
        "Settings",
        "Results",
        "Cold start",
        "Target checks",
        "Warnings",
        "How to read this",
    }
)


def kept_sections(path: Path) -> str:
    """The hand-written `## ` sections of the report at `path`, verbatim."""
    try:
        text = path.read_text()
    except OSError:
        return ""
    kept = []
    for section in re.split(r"^(?=## )", text, flags=re.MULTILINE)[1:]:
        title = section.splitlines()[0][3:].strip()
        if title not in REPORT_SECTIONS:
            kept.append(section.rstrip("\n") + "\n")
    return "\n" + "\n".join(kept) if kept else ""


def _make_run_line(port: int) -> str:
    """The server's command as `make run` prints it, on `port`."""
    argv, env = server_launch(port)
    python = Path(argv[0])
    if python.is_relative_to(ROOT):
        python = python.relative_to(ROOT)
    variables = " ".join(f"{k}={env[k]}" for k in ("HOST", "PORT", "WORKERS"))
    return shlex.join([*variables.split(), str(python), *argv[1:]])


def write_report(
    out: Path,
    *,
    args: argparse.Namespace,
    tool: str,
    machine: dict[str, str],
    date: str,
    results: list[Result],
    baseline: Result,
    kpi: Result,
    overview: Result,
    rss_note: str,
    cold: ColdStart,
) -> None:
    tool_desc = (
        f"{_wrk_version() or 'wrk'} (`wrk -t{args.threads} -c{args.connections} "
        f"-d{max(1, round(args.duration / args.rounds))}s "
        f"--timeout={args.timeout}s --latency`; "
        "the GraphQL "
        "POST through a Lua script setting method, body and content type)"
        if tool == "wrk"
        else f"Python generator (asyncio + httpx, {args.connections} workers each "
        "looping on its own keep-alive connection, uvloop when installed, in the "
        "benchmark's own process; latency from `time.perf_counter`, nearest-rank "
        "percentiles). It is itself a "
        "bottleneck: it shares the machine's CPUs with the server and saturates "
        "before a fast server does, so the baseline is understated and the ratios "
        "flattered; prefer wrk (`apt-get install wrk`)"
    )
    warnings = notes(results)
    lines = [
        "# naap-api benchmarks",
        "",
        "Written by `scripts/bench.py`. Run it with `make bench` (or "
        "`.venv/bin/python scripts/bench.py --duration 30 --rounds 3`; "
        "`--help` lists the options; `make cold-start` measures the cold start "
        "alone). Nothing here is a test: the targets are reported, never asserted.",
        "",
        f"Date: {date} (UTC)",
        "",
        "## Machine",
        "",
        *(f"- {key}: {value}" for key, value in machine.items()),
        "",
        "## Settings",
        "",
        f"- Load tool: {tool_desc}",
        f"- Connections: {args.connections}; threads: {args.threads} (wrk only); "
        f"duration: {args.duration:g} s per target in {args.rounds} interleaved "
        f"rounds ({args.duration / args.rounds:g} s each; every round loads every "
        "target and the baseline in turn; each row is the median of its rounds); "
        f"warm-up: {WARMUP_REQUESTS} requests then {args.warmup:g} s of the same "
        f"load, discarded; per-request timeout: {args.timeout} s",
        "- Server: exactly `make run`'s command line and environment, "
        f"`{_make_run_line(args.port)}` (scripts/serve.py: uvicorn with its "
        "access log off, no server header, the graceful-shutdown timeout, its "
        "default `--http`/`--loop`: httptools and uvloop when installed), with "
        "no other variable from the caller's shell, so every setting is its "
        "default: `APP_ENV=development`, `LOG_LEVEL=info`, `LOG_FORMAT=json` "
        "(uvicorn's lines and one JSON access line per request, all written to "
        "the server's log file), make run's database (`var/naap.db`, migrated "
        "first). Only the rate-limit budgets differ (below)",
        "- Upstreams: the built-in simulator, in process (no upstream URL set)",
        "- Rate limits: on, every tier checked on every request, with budgets "
        "raised so one load generator is never refused: "
        + ", ".join(f"`{k}={v}`" for k, v in BENCH_RATE_LIMITS.items()),
        "- Cache: the server's defaults (no cache setting in the environment, so "
        "its in-process defaults); each target was warmed first so the measured "
        "requests are hits (see `X-Cache` below)",
        "- Baseline: a bare Starlette app with one route returning the stored bytes "
        "of the KPI body as `application/json`, started by the same command, "
        "environment and uvicorn options (`scripts/serve.py --app "
        "bench_baseline:create_app`), in the same run",
        "- Cold start: `make run`'s command (as above, on a fresh port each "
        "time) from process launch to the first 200 on "
        f"`GET {KPI_PATH}` (a cache miss answered by the in-process simulator), "
        "polled every 5 ms; one unmeasured launch first (page cache warm), then "
        f"the median of {len(cold.seconds)}",
        f"- Peak RSS: {rss_note}",
        "- `X-Cache` of the last warm-up response: "
        + "; ".join(
            f"{r.target.label.split('.')[0]}: {r.x_cache or 'absent'}" for r in results
        ),
        "",
        "## Results",
        "",
        table(results, baseline),
        "",
        "## Cold start",
        "",
        f"Median {cold.median:.3f} s; launches: "
        + ", ".join(f"{x:.3f}" for x in cold.seconds)
        + " s",
        "",
        "## Target checks",
        "",
        *checks(kpi, overview, baseline, cold),
        "",
    ]
    if warnings:
        lines += ["## Warnings", "", *warnings, ""]
    lines += [
        "## How to read this",
        "",
        "The ratios are what matter: each route is compared with a bare Starlette "
        "app serving the same number of bytes, measured in the same run on the "
        "same machine with the same load, so the ratio is the cost of the "
        "framework work (routing, GraphQL execution, serialisation, middleware) "
        "rather than of the machine. Absolute requests/s and latencies depend on "
        "the machine, the load tool and whatever else is running; compare them "
        "only between runs on the same machine. For scale, NaaP's own BFF served "
        "about 330-400 requests/s for the KPI route at 50 connections on a machine "
        "of this class, with p99 near 1 s. Latencies are measured by the load "
        "tool from send to last byte at a fixed number of connections (closed "
        "loop), so p99 grows with the queue when the server is saturated.",
        "",
    ]
    out.write_text("\n".join(lines) + kept_sections(out))


# --- main -----------------------------------------------------------------------


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark naap-api's dashboard routes against a bare "
        "Starlette baseline and write BENCHMARKS.md."
    )
    parser.add_argument(
        "--duration", type=float, default=30.0, help="seconds each target, in all"
    )
    parser.add_argument(
        "--rounds",
        type=int,
        default=3,
        help="interleaved rounds: each round loads every target (baseline "
        "included) for duration/rounds seconds; medians are reported. More "
        "rounds resist drift in the machine's speed, but short slices inflate "
        "p99 with each slice's connection setup",
    )
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument(
        "--warmup", type=float, default=2.0, help="seconds of discarded load each"
    )
    parser.add_argument("--port", type=int, default=8091)
    parser.add_argument("--baseline-port", type=int, default=8092)
    parser.add_argument("--out", type=Path, default=ROOT / "BENCHMARKS.md")
    parser.add_argument("--tool", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument(
        "--timeout", type=int, default=30, help="per-request timeout, seconds"
    )
    parser.add_argument(
        "--cold-starts",
        type=int,
        default=5,
        help="measured launches for the cold start (after one unmeasured)",
    )
    parser.add_argument(
        "--cold-start-only",
        action="store_true",
        help="measure and print the cold start only (BENCHMARKS.md untouched)",
    )
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.warmup < 0 or args.timeout <= 0:
        parser.error("--duration and --timeout must be > 0, --warmup >= 0")
    if args.rounds < 1 or args.cold_starts < 1:
        parser.error("--rounds and --cold-starts must be >= 1")
    if args.connections < 1 or args.threads < 1:
        parser.error("--connections and --threads must be >= 1")
    if args.threads > args.connections:
        parser.error("--threads must not exceed --connections (wrk)")
    if args.port == args.baseline_port:
        parser.error("--port and --baseline-port must differ")
    return args


def choose_tool(requested: str) -> str | None:
    """The load tool to use; None when wrk is asked for and not installed."""
    have_wrk = shutil.which("wrk") is not None
    if requested == "auto":
        return "wrk" if have_wrk else "python"
    if requested == "wrk" and not have_wrk:
        return None
    return requested


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop both servers


@contextlib.contextmanager
def servers_stopped(servers: list[Server]) -> Iterator[None]:
    try:
        yield
    finally:
        for server in servers:
            server.stop()


def prepare(
    target: Target, tool: str, args: argparse.Namespace, tmp: Path
) -> tuple[bytes, str | None, int]:
    """Warm one target (its response cached, the connection pool hot)."""
    body, x_cache, graphql_errors = warm(target)
    cache = f"X-Cache: {x_cache}" if x_cache is not None else "no X-Cache header"
    print(f"  warmed {target.label}: {len(body):,} bytes, {cache}", flush=True)
    if graphql_errors:
        print(f"  WARNING: {graphql_errors} GraphQL errors in the response", flush=True)
    if args.warmup > 0:
        run_load(tool, target, args, args.warmup, tmp)
    return body, x_cache, graphql_errors


def combine(
    rounds: list[Result],
    warmed: tuple[bytes, str | None, int],
    server: Server,
) -> Result:
    """One row from the interleaved rounds: medians of rate and latencies, sums
    of counts. This machine's speed drifts over minutes (other tenants, CPU
    frequency); interleaving puts the baseline next to each target every round,
    and the median drops a round that a burst of noise spoiled."""
    body, x_cache, graphql_errors = warmed
    result = Result(
        target=rounds[0].target,
        rps=statistics.median(r.rps for r in rounds),
        p50_ms=statistics.median(r.p50_ms for r in rounds),
        p99_ms=statistics.median(r.p99_ms for r in rounds),
        requests=sum(r.requests for r in rounds),
        errors=sum(r.errors for r in rounds),
        non_2xx=sum(r.non_2xx for r in rounds),
    )
    result.rss_mib = peak_rss_mib(server.pid)
    result.body_bytes = len(body)
    result.x_cache = x_cache
    result.graphql_errors = graphql_errors
    return result


def measure_all(
    plan: list[tuple[Target, Server]], tool: str, args: argparse.Namespace, tmp: Path
) -> list[Result]:
    warmed = []
    for target, _server in plan:
        print(f"bench: {target.label}", flush=True)
        warmed.append(prepare(target, tool, args, tmp))
    slice_seconds = args.duration / args.rounds
    rounds: list[list[Result]] = [[] for _ in plan]
    for number in range(1, args.rounds + 1):
        line = []
        for index, (target, _server) in enumerate(plan):
            result = run_load(tool, target, args, slice_seconds, tmp)
            rounds[index].append(result)
            line.append(f"{target.key} {result.rps:,.0f}")
        print(f"bench: round {number}/{args.rounds}: " + ", ".join(line), flush=True)
    results = []
    for (target, server), runs, warm_result in zip(plan, rounds, warmed, strict=True):
        result = combine(runs, warm_result, server)
        print(
            f"  {target.label}: {result.rps:,.1f} req/s (median of {len(runs)}), "
            f"p50 {_fmt(result.p50_ms, 2)} ms, p99 {_fmt(result.p99_ms, 2)} ms, "
            f"peak RSS {_fmt(result.rss_mib)} MiB ({result.requests:,} requests)",
            flush=True,
        )
        results.append(result)
    return results


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


def run_cold_start_only(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="naap-bench-") as tmp_name:
        try:
            migrate()
            print("bench: cold start", flush=True)
            cold = measure_cold_start(args.cold_starts, Path(tmp_name))
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
    print(cold_start_check(cold).replace("**", "")[2:])
    return 0


def _plan(
    api: str, base: str, server: Server, baseline: Server
) -> list[tuple[Target, Server]]:
    overview = json.dumps({"query": OVERVIEW_QUERY}).encode()
    return [
        (Target("kpi", f"1. GET {KPI_PATH} (hit)", "GET", api + KPI_PATH), server),
        (
            Target(
                "orchestrators",
                f"2. GET {ORCHESTRATORS_PATH} (hit, largest body)",
                "GET",
                api + ORCHESTRATORS_PATH,
            ),
            server,
        ),
        (
            Target(
                "overview",
                "3. POST /graphql, whole overview (hit)",
                "POST",
                api + GRAPHQL_PATH,
                body=overview,
                content_type="application/json",
            ),
            server,
        ),
        (
            Target(
                "baseline",
                "4. baseline: bare Starlette, stored KPI bytes",
                "GET",
                base + KPI_PATH,
            ),
            baseline,
        ),
    ]


def run(args: argparse.Namespace) -> int:
    if args.cold_start_only:
        return run_cold_start_only(args)
    tool = choose_tool(args.tool)
    if tool is None:
        print("bench: --tool wrk but wrk is not on PATH", file=sys.stderr)
        return 2
    for port in (args.port, args.baseline_port):
        if not _port_free(port):
            print(f"bench: port {port} on {HOST} is in use", file=sys.stderr)
            return 2
    machine = machine_info()
    load_start = os.getloadavg()[0]
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    api = f"http://{HOST}:{args.port}"
    base = f"http://{HOST}:{args.baseline_port}"
    print(f"bench: load tool {tool}", flush=True)
    if tool == "python":
        print(
            "bench: NOTE the Python load generator is itself a bottleneck (it "
            "shares the CPUs with the servers); install wrk for real numbers",
            flush=True,
        )

    with tempfile.TemporaryDirectory(prefix="naap-bench-") as tmp_name:
        tmp = Path(tmp_name)
        # Both servers: make run's command and environment; the baseline serves
        # another factory through it.
        server = Server("naap-api", *server_launch(args.port), tmp / "server.log")
        baseline_server = Server(
            "baseline",
            *server_launch(
                args.baseline_port,
                "--app",
                "bench_baseline:create_app",
                "--app-dir",
                str(tmp),
            ),
            tmp / "baseline.log",
        )
        with servers_stopped([server, baseline_server]):
            try:
                migrate()
                print("bench: cold start", flush=True)
                cold = measure_cold_start(args.cold_starts, tmp)
                server.start(ROOT)
                server.wait_ready(api + "/healthz")
                kpi_body = httpx.get(
                    api + KPI_PATH,
                    timeout=60.0,
                    headers={"accept-encoding": "identity"},
                )
                if kpi_body.status_code != 200:
                    raise BenchError(f"{KPI_PATH}: HTTP {kpi_body.status_code}")
                body_path = tmp / "kpi.json"
                body_path.write_bytes(kpi_body.content)
                (tmp / "bench_baseline.py").write_text(
                    BASELINE_APP.format(body_path=str(body_path), path=KPI_PATH)
                )
                baseline_server.start(ROOT)
                baseline_server.wait_ready(base + KPI_PATH)
                print(
                    f"bench: naap-api pid {server.pid} on {api}, baseline pid "
                    f"{baseline_server.pid} on {base}; KPI body "
                    f"{len(kpi_body.content):,} bytes",
                    flush=True,
                )
                rss_reset = reset_peak_rss(server.pid) and reset_peak_rss(
                    baseline_server.pid
                )
                plan = _plan(api, base, server, baseline_server)
                results = measure_all(plan, tool, args, tmp)
            except BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1

    kpi, _orchestrators, overview_result, baseline = results
    # Other processes share the CPUs: their load, with the figures it colours.
    machine["load average (1 min), start / end of the run"] = (
        f"{load_start:.2f} / {os.getloadavg()[0]:.2f}"
    )
    rss_note = (
        "VmHWM from /proc of each server process and its children, reset "
        "(clear_refs) once before the warm-ups: targets run interleaved, so each "
        "row is its server's peak over the whole run"
        if rss_reset
        else "VmHWM from /proc of each server process and its children: the "
        "high-water mark since the process started (clear_refs not permitted)"
    )
    print()
    print(table(results, baseline))
    print()
    print("Target checks (reported, not asserted):")
    for line in checks(kpi, overview_result, baseline, cold):
        print(line.replace("**", ""))
    for line in notes(results):
        print("WARNING " + line[2:])
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    write_report(
        out,
        args=args,
        tool=tool,
        machine=machine,
        date=date,
        results=results,
        baseline=baseline,
        kpi=kpi,
        overview=overview_result,
        rss_note=rss_note,
        cold=cold,
    )
    print(f"\nbench: wrote {out} (tool: {tool})")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return run(args)
    except KeyboardInterrupt:  # the servers are stopped by then
        print("bench: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
