"""The command line of `make bench` and `make cold-start`: options, `run`, `main`.

    python scripts/bench.py [--duration 30] [--rounds 3] [--connections 50]
        [--threads 2] [--warmup 2] [--port 8091] [--baseline-port 8092]
        [--out BENCHMARKS.md] [--tool auto|wrk|python] [--timeout 30]
        [--cold-starts 5] [--cold-start-only] [--live-only | --no-live]
        [--page-loads 5] [--page-only [--page-url URL]]

A benchmark, not a test: exit status 0 whatever the numbers; 1 when a server
fails to start or a warm-up request fails; 2 on bad arguments (a busy port,
--tool wrk without wrk).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType

import httpx

from scripts.benchmark import live
from scripts.benchmark.load import choose_tool
from scripts.benchmark.page import PageResult, measure_page, page_lines
from scripts.benchmark.report import (
    checks,
    cold_start_check,
    machine_info,
    notes,
    replace_section,
    table,
    write_report,
)
from scripts.benchmark.rounds import measure_all
from scripts.benchmark.servers import (
    BASELINE_APP,
    Server,
    make_run_server,
    measure_cold_start,
    migrate,
    port_free,
    reset_peak_rss,
    server_launch,
    servers_stopped,
)
from scripts.benchmark.targets import (
    GRAPHQL_PATH,
    HOST,
    KPI_PATH,
    ORCHESTRATORS_PATH,
    OVERVIEW_QUERY,
    ROOT,
    BenchError,
    Target,
)


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
    parser.add_argument(
        "--page-loads",
        type=int,
        default=5,
        help="cold loads and warm reloads of the page at / in Chromium (0: none)",
    )
    parser.add_argument(
        "--page-only",
        action="store_true",
        help="measure and print the page row only (BENCHMARKS.md untouched)",
    )
    parser.add_argument(
        "--page-url",
        help="with --page-only: the page of this running server (e.g. "
        "http://127.0.0.1:8000) instead of a server started as make run starts it",
    )
    live = parser.add_mutually_exclusive_group()
    live.add_argument(
        "--live-only",
        action="store_true",
        help="run only the push rows and replace their section of BENCHMARKS.md",
    )
    live.add_argument("--no-live", action="store_true", help="skip the push rows")
    args = parser.parse_args(argv)
    if args.page_loads < 0:
        parser.error("--page-loads must be >= 0")
    if args.page_url and not args.page_only:
        parser.error("--page-url goes with --page-only")
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


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # run the finally blocks: stop both servers


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


def _page(api: str, args: argparse.Namespace) -> PageResult:
    if not args.page_loads:
        return PageResult(unavailable="not measured (--page-loads 0)")
    print("bench: page", flush=True)
    return measure_page(api, args.page_loads, args.timeout)


def run_page_only(args: argparse.Namespace) -> int:
    if args.page_url:
        page = _page(args.page_url.rstrip("/"), args)
    else:
        if not port_free(args.port):
            print(f"bench: port {args.port} on {HOST} is in use", file=sys.stderr)
            return 2
        api = f"http://{HOST}:{args.port}"
        with (
            tempfile.TemporaryDirectory(prefix="naap-bench-") as tmp_name,
            contextlib.ExitStack() as running,
        ):
            try:
                log = Path(tmp_name) / "server.log"
                running.enter_context(make_run_server(args.port, log))
            except BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1
            page = _page(api, args)
    print("\n".join(page_lines(page)))
    return 0


def _plan(
    api: str, base: str, server: Server, baseline: Server
) -> list[tuple[Target, Server]]:
    """The three targets, then for each a bare Starlette route serving its bytes."""
    overview = json.dumps({"query": OVERVIEW_QUERY}).encode()
    return [
        (
            Target(
                "kpi",
                f"1. GET {KPI_PATH} (hit)",
                "GET",
                api + KPI_PATH,
                baseline="baseline",
            ),
            server,
        ),
        (
            Target(
                "orchestrators",
                f"2. GET {ORCHESTRATORS_PATH} (hit, largest body)",
                "GET",
                api + ORCHESTRATORS_PATH,
                baseline="baseline_orchestrators",
            ),
            server,
        ),
        (
            Target(
                "overview",
                "3. POST /graphql, whole overview (hit)",
                "POST",
                api + GRAPHQL_PATH,
                baseline="baseline_overview",
                body=overview,
                content_type="application/json",
            ),
            server,
        ),
        (
            Target(
                "baseline",
                "4. baseline for 1: bare Starlette, the stored KPI bytes",
                "GET",
                base + KPI_PATH,
            ),
            baseline,
        ),
        (
            Target(
                "baseline_orchestrators",
                "5. baseline for 2: bare Starlette, the stored orchestrators bytes",
                "GET",
                base + ORCHESTRATORS_PATH,
            ),
            baseline,
        ),
        (
            Target(
                "baseline_overview",
                "6. baseline for 3: bare Starlette, the stored overview bytes "
                "(POST, body read)",
                "POST",
                base + GRAPHQL_PATH,
                body=overview,
                content_type="application/json",
            ),
            baseline,
        ),
    ]


def _store_bodies(api: str, tmp: Path) -> list[tuple[str, str, str]]:
    """Each target's identity body as the API server answers it, stored for the
    baseline app: (path, method, file)."""
    overview = json.dumps({"query": OVERVIEW_QUERY})
    stored = []
    for name, method, path in (
        ("kpi", "GET", KPI_PATH),
        ("orchestrators", "GET", ORCHESTRATORS_PATH),
        ("overview", "POST", GRAPHQL_PATH),
    ):
        response = httpx.request(
            method,
            api + path,
            timeout=60.0,
            headers={"accept-encoding": "identity", "content-type": "application/json"},
            content=overview if method == "POST" else None,
        )
        if response.status_code != 200:
            raise BenchError(f"{method} {path}: HTTP {response.status_code}")
        file = tmp / f"{name}.json"
        file.write_bytes(response.content)
        stored.append((path, method, str(file)))
    return stored


def run_live(args: argparse.Namespace) -> int:
    """The push rows, then their section of BENCHMARKS.md."""
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="naap-bench-live-") as tmp_name:
        try:
            migrate()
            results = live.run(Path(tmp_name))
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
    date = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S")
    text = live.section(results, date, (load_start, os.getloadavg()[0]))
    print()
    print(text)
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    replace_section(out, live.TITLE, text)
    print(f"bench: wrote the push rows to {out}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.cold_start_only:
        return run_cold_start_only(args)
    if args.page_only:
        return run_page_only(args)
    if args.live_only:
        return run_live(args)
    tool = choose_tool(args.tool)
    if tool is None:
        print("bench: --tool wrk but wrk is not on PATH", file=sys.stderr)
        return 2
    for port in (args.port, args.baseline_port):
        if not port_free(port):
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
                stored = _store_bodies(api, tmp)
                (tmp / "bench_baseline.py").write_text(
                    BASELINE_APP.format(stored=stored)
                )
                baseline_server.start(ROOT)
                baseline_server.wait_ready(base + KPI_PATH)
                print(
                    f"bench: naap-api pid {server.pid} on {api}, baseline pid "
                    f"{baseline_server.pid} on {base}; bodies "
                    + ", ".join(f"{Path(f).stat().st_size:,}" for _, _, f in stored)
                    + " bytes",
                    flush=True,
                )
                rss_reset = reset_peak_rss(server.pid) and reset_peak_rss(
                    baseline_server.pid
                )
                plan = _plan(api, base, server, baseline_server)
                results = measure_all(plan, tool, args, tmp)
                page = _page(api, args)
            except BenchError as exc:
                print(f"bench: {exc}", file=sys.stderr)
                return 1

    kpi, _orchestrators, overview_result, baseline, _, overview_baseline = results
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
    print(table(results))
    print()
    print("Target checks (reported, not asserted):")
    for line in checks(kpi, overview_result, baseline, overview_baseline, cold):
        print(line.replace("**", ""))
    for line in notes(results):
        print("WARNING " + line[2:])
    print("\nPage (reported, not asserted):")
    print("\n".join(page_lines(page)))
    out = args.out if args.out.is_absolute() else Path.cwd() / args.out
    write_report(
        out,
        args=args,
        tool=tool,
        machine=machine,
        date=date,
        results=results,
        baseline=baseline,
        overview_baseline=overview_baseline,
        kpi=kpi,
        overview=overview_result,
        rss_note=rss_note,
        cold=cold,
        page=page,
    )
    print(f"\nbench: wrote {out} (tool: {tool})")
    return 0 if args.no_live else run_live(args)


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
