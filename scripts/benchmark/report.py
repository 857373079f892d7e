"""The report: the results table, the target checks and BENCHMARKS.md.

The checks compare each route with the same-run baseline and are printed, never
asserted. Writing BENCHMARKS.md replaces the sections it writes and keeps, after
them, every other `## ` section (written by hand: comparisons, history).
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import re
import shlex
import shutil
import subprocess
from importlib import metadata
from pathlib import Path

from scripts.benchmark.load import WARMUP_REQUESTS
from scripts.benchmark.page import PageResult, page_lines
from scripts.benchmark.servers import BENCH_RATE_LIMITS, ColdStart, server_launch
from scripts.benchmark.targets import KPI_PATH, ROOT, Result

# Targets (ratios to the same-run baseline, memory, cold start). Printed, never
# asserted.
KPI_MIN_RPS_RATIO = 0.60
KPI_MAX_P99_RATIO = 2.0
OVERVIEW_MIN_RPS_RATIO = 0.35
MAX_PEAK_RSS_MIB = 150.0
MAX_COLD_START_S = 0.5


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


def fmt(value: float | None, digits: int = 1) -> str:
    if value is None or math.isnan(value):
        return "n/a"
    return f"{value:,.{digits}f}"


def _ratio(value: float, base: float) -> float:
    if base <= 0 or math.isnan(value) or math.isnan(base):
        return math.nan
    return value / base


def table(results: list[Result]) -> str:
    """One row per target; a target's ratios are to the baseline serving its bytes."""
    by_key = {r.target.key: r for r in results}
    rows = [
        "| target | requests/s | p50 ms | p99 ms | peak RSS MiB | body bytes "
        "| rps / its baseline | p99 / its baseline |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        base = by_key.get(r.target.baseline or "", r)
        rows.append(
            f"| {r.target.label} | {fmt(r.rps)} | {fmt(r.p50_ms, 2)} "
            f"| {fmt(r.p99_ms, 2)} | {fmt(r.rss_mib)} | {r.body_bytes:,} "
            f"| {fmt(_ratio(r.rps, base.rps), 2)} "
            f"| {fmt(_ratio(r.p99_ms, base.p99_ms), 2)} |"
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
    kpi: Result,
    overview: Result,
    baseline: Result,
    overview_baseline: Result,
    cold: ColdStart,
) -> list[str]:
    kpi_rps = _ratio(kpi.rps, baseline.rps)
    kpi_p99 = _ratio(kpi.p99_ms, baseline.p99_ms)
    ov_rps = _ratio(overview.rps, overview_baseline.rps)
    ov_kpi = _ratio(overview.rps, baseline.rps)
    rss = kpi.rss_mib if kpi.rss_mib is not None else math.nan
    return [
        f"- Route 1 (KPI): rps ratio {fmt(kpi_rps, 2)} "
        f"(target >= {KPI_MIN_RPS_RATIO:.2f}) and p99 ratio {fmt(kpi_p99, 2)} "
        f"(target <= {KPI_MAX_P99_RATIO:.1f}): "
        f"{_met(kpi_rps >= KPI_MIN_RPS_RATIO and kpi_p99 <= KPI_MAX_P99_RATIO)}",
        f"- Route 3 (GraphQL overview): rps ratio {fmt(ov_rps, 2)} to the "
        f"baseline serving its bytes (target >= {OVERVIEW_MIN_RPS_RATIO:.2f}): "
        f"{_met(ov_rps >= OVERVIEW_MIN_RPS_RATIO)}; {fmt(ov_kpi, 2)} of the KPI "
        "baseline (the measure of earlier reports)",
        f"- Peak RSS of the API server: {fmt(rss)} MiB "
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
        "Page",
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
    overview_baseline: Result,
    kpi: Result,
    overview: Result,
    rss_note: str,
    cold: ColdStart,
    page: PageResult,
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
        "- Baselines: a bare Starlette app with one route per target returning "
        "that target's stored bytes (the API server's identity body, fetched "
        "before the run) as `application/json`, on the same method and path (the "
        "POST reads its body), started by the same command, environment and "
        "uvicorn options (`scripts/serve.py --app bench_baseline:create_app`), in "
        "the same run; each target's ratios are to its own baseline",
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
        table(results),
        "",
        "## Cold start",
        "",
        f"Median {cold.median:.3f} s; launches: "
        + ", ".join(f"{x:.3f}" for x in cold.seconds)
        + " s",
        "",
        "## Page",
        "",
        "The Network Overview at `/` in Chromium (Playwright driving "
        "/usr/bin/chromium), on the server above after the load rounds "
        "(reported, not asserted).",
        "",
        *page_lines(page),
        "",
        "## Target checks",
        "",
        *checks(kpi, overview, baseline, overview_baseline, cold),
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


def replace_section(path: Path, title: str, text: str) -> None:
    """`## <title>` in the report at `path` replaced by `text` (a whole section,
    heading included), or added before "How to read this" (or at the end)."""
    try:
        current = path.read_text()
    except OSError:
        current = "# naap-api benchmarks\n"
    parts = re.split(r"^(?=## )", current, flags=re.MULTILINE)
    titles = [
        part.splitlines()[0][3:].strip() if part.startswith("## ") else ""
        for part in parts
    ]
    block = text.rstrip("\n") + "\n\n"
    if title in titles:
        parts[titles.index(title)] = block
    elif "How to read this" in titles:
        parts.insert(titles.index("How to read this"), block)
    else:
        parts.append("\n" + block)
    path.write_text("".join(parts).rstrip("\n") + "\n")
