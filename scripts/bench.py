"""Benchmark the dashboard routes against a bare Starlette baseline: `make bench`.

Starts `make run`'s server and a bare Starlette app returning the stored KPI
bytes, drives both with the same load in interleaved rounds (wrk, or asyncio +
httpx) and writes requests/s, p50, p99, peak RSS, the cold start and the page
row (`/` in Chromium to all widgets ready) to BENCHMARKS.md; then the push rows
(the job feed to 1,000 SSE and 200 GraphQL WebSocket subscribers, idle
connections, shutdown: scripts/benchmark/live.py). `--cold-start-only`
(`make cold-start`), `--page-only` and `--live-only` run one of them alone. The
harness is the package scripts/benchmark/; `--help` lists the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmark.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
