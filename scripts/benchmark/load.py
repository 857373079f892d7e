"""The load: wrk when installed, otherwise an asyncio + httpx generator.

Either drives one target for a given time at a fixed number of connections and
gives requests/s, p50 and p99; the warm-up requests come first, so the measured
ones hit the caches.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import re
import shutil
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import httpx

from scripts.benchmark.targets import GRAPHQL_PATH, BenchError, Result, Target

WARMUP_REQUESTS = 3

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


def choose_tool(requested: str) -> str | None:
    """The load tool to use; None when wrk is asked for and not installed."""
    have_wrk = shutil.which("wrk") is not None
    if requested == "auto":
        return "wrk" if have_wrk else "python"
    if requested == "wrk" and not have_wrk:
        return None
    return requested
