"""The interleaved rounds: every target warmed, then loaded in turn each round.

Each round loads every target, the baseline included, for duration/rounds
seconds; each target's row is the median of its rounds.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from scripts.benchmark.load import run_load, warm
from scripts.benchmark.report import fmt
from scripts.benchmark.servers import Server, peak_rss_mib
from scripts.benchmark.targets import Result, Target


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
            f"p50 {fmt(result.p50_ms, 2)} ms, p99 {fmt(result.p99_ms, 2)} ms, "
            f"peak RSS {fmt(result.rss_mib)} MiB ({result.requests:,} requests)",
            flush=True,
        )
        results.append(result)
    return results
