"""Benchmark the dashboard routes against a bare Starlette baseline: `make bench`.

Starts `make run`'s server and a bare Starlette app returning the stored KPI
bytes, drives both with the same load in interleaved rounds (wrk, or asyncio +
httpx) and writes requests/s, p50, p99, peak RSS and the cold start to
BENCHMARKS.md; `--cold-start-only` (`make cold-start`) prints the cold start
alone. The harness is the package scripts/benchmark/; `--help` lists the options.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from scripts.benchmark.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
