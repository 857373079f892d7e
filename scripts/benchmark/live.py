"""`make bench`'s push rows: the job feed pushed to many listeners by one worker.

Servers started as `make run` starts them (scripts/serve.py, the bench's rate
limits) with JOB_FEED_PUSH_INTERVAL=2 and the job feed's upstream replaced by
`FakeFeed` in this process (NAAP_API_SERVER_URL): every poll is then a 2-row
delta, and the moment the upstream answered it is known. One server: 1,000 SSE
subscribers, the same 1,000 idle, then SIGTERM with the 1,000 open; a second, so
its memory is measured from a fresh heap: 200 GraphQL WebSocket subscribers.
Latency is from the upstream's answer to the poll (so it includes the server's
own poll: parse, render, compare) to the last client's receipt; memory is the
server's VmRSS before and after the listeners joined; CPU is the server's
user+system time from /proc, less the same polls with one listener.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import statistics
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

from scripts.benchmark.live_clients import (
    FakeFeed,
    Fanout,
    SSEClient,
    latencies,
    open_sse,
    ws_client,
)
from scripts.benchmark.servers import Server, server_launch
from scripts.benchmark.targets import HOST, ROOT, BenchError

TITLE = "Push (live job feed)"
STREAM = "/api/v1/dashboard/job-feed/stream"
INTERVAL = 2.0  # JOB_FEED_PUSH_INTERVAL for these rows: its floor
SSE_CLIENTS = 1000
WS_CLIENTS = 200
EVENTS = 15  # measured per row
IDLE_SECONDS = 30.0
SHUTDOWN_TIMEOUT = 20  # make run's default
# Targets, reported and never asserted.
SSE_P99_MS = 150.0
SSE_KIB_EACH = 40.0
WS_P99_MS = 100.0
WS_KIB_EACH = 64.0
IDLE_CPU_PERCENT = 3.0


@dataclass
class Row:
    name: str
    clients: int
    events: int = 0
    p50_ms: float = float("nan")
    p99_ms: float = float("nan")
    kib_each: float = float("nan")
    cpu_us_each: float = float("nan")  # per subscriber per delta
    notes: list[str] = field(default_factory=list)


@dataclass
class LiveResults:
    ws: Row
    sse: Row
    idle_cpu_percent: float
    idle_seconds: float
    shutdown_seconds: float
    shutdown_clean: int


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


class Bench:
    def __init__(self, server: Server, feed: FakeFeed, port: int) -> None:
        self.server = server
        self.feed = feed
        self.port = port
        self.fanout = Fanout()
        self.mapper: SSEClient | None = None
        self.per_event = 0.0  # server CPU seconds per poll with one listener

    async def listen(self) -> None:
        """One listener (which maps event ids to feed versions), and the CPU a
        poll costs with it alone."""
        loop = asyncio.get_running_loop()
        _, self.mapper = await loop.create_connection(
            lambda: SSEClient(HOST, STREAM, self.fanout, mapper=True),
            HOST,
            self.port,
        )
        await asyncio.wait_for(self.mapper.ready, 30)
        print("bench: push, one listener", flush=True)
        cpu, _ = await self.polls(EVENTS)
        self.per_event = cpu / EVENTS

    def close(self) -> None:
        if self.mapper is not None:
            self.mapper.close()

    @property
    def pid(self) -> int:
        return self.server.pid

    async def polls(self, count: int) -> tuple[float, list[int]]:
        """Wait for `count` polls with a new event; (server CPU seconds they
        took, their event ids)."""
        assert self.mapper is not None  # noqa: S101
        start_seq = self.mapper.last_seq
        cpu = _cpu_seconds(self.pid)
        async with asyncio.timeout(count * INTERVAL * 3 + 30):
            while len([s for s in self.fanout.count if s > start_seq]) < count:  # noqa: ASYNC110
                await asyncio.sleep(0.05)
        await asyncio.sleep(0.5)  # the last event reaches every client
        seqs = sorted(s for s in self.fanout.count if s > start_seq)[:count]
        return _cpu_seconds(self.pid) - cpu, seqs

    def row(self, row: Row, seqs: list[int], clients: int) -> None:
        found = latencies(self.fanout, self.feed, seqs, clients)
        row.events = len(found)
        if len(found) < len(seqs):
            row.notes.append(
                f"{len(seqs) - len(found)} events not seen by every client"
            )
        if found:
            ms = sorted(x * 1000 for x in found)
            row.p50_ms = statistics.median(ms)
            row.p99_ms = ms[min(len(ms) - 1, round(0.99 * (len(ms) - 1)))]


async def measure(tmp: Path) -> LiveResults:
    """Two servers, one after the other, each measured from a fresh heap (memory
    a row frees would be reused by the next and hide its cost): SSE, then
    GraphQL over WebSockets."""
    feed = FakeFeed()
    upstream = await feed.start(HOST)
    try:
        async with _server(feed, upstream, tmp, "sse") as bench:
            sse, idle, took, clean = await _sse_rows(bench)
        async with _server(feed, upstream, tmp, "ws") as bench:
            ws = await _ws_row(bench)
    finally:
        await feed.stop()
    return LiveResults(ws, sse, idle, IDLE_SECONDS, took, clean)


@contextlib.asynccontextmanager
async def _server(
    feed: FakeFeed, upstream: str, tmp: Path, name: str
) -> AsyncIterator[Bench]:
    port = _free_port()
    argv, env = server_launch(port)
    env.update(
        NAAP_API_SERVER_URL=f"{upstream}/v1", JOB_FEED_PUSH_INTERVAL=str(INTERVAL)
    )
    server = Server(f"naap-api (push, {name})", argv, env, tmp / f"live-{name}.log")
    server.start(ROOT)
    try:
        await asyncio.to_thread(server.wait_ready, f"http://{HOST}:{port}/healthz")
        bench = Bench(server, feed, port)
        await bench.listen()
        yield bench
    finally:
        server.stop()


async def _sse_rows(bench: Bench) -> tuple[Row, float, float, int]:
    print(f"bench: push, {SSE_CLIENTS} SSE subscribers", flush=True)
    sse = Row("SSE", SSE_CLIENTS)
    rss = _rss_kib(bench.pid)
    clients = await open_sse(HOST, bench.port, STREAM, bench.fanout, SSE_CLIENTS)
    await asyncio.sleep(1)
    sse.kib_each = (_rss_kib(bench.pid) - rss) / SSE_CLIENTS
    cpu, seqs = await bench.polls(EVENTS)
    bench.row(sse, seqs, SSE_CLIENTS + 1)
    sse.cpu_us_each = (cpu / EVENTS - bench.per_event) / SSE_CLIENTS * 1e6

    print(f"bench: push, {SSE_CLIENTS} idle SSE subscribers", flush=True)
    bench.feed.changing = False
    await asyncio.sleep(2 * INTERVAL)
    cpu = _cpu_seconds(bench.pid)
    await asyncio.sleep(IDLE_SECONDS)
    idle = (_cpu_seconds(bench.pid) - cpu) / IDLE_SECONDS * 100
    bench.feed.changing = True

    print(f"bench: push, SIGTERM with {SSE_CLIENTS} streams open", flush=True)
    process = bench.server.proc
    assert process is not None  # noqa: S101
    began = time.monotonic()
    process.send_signal(signal.SIGTERM)
    await asyncio.to_thread(process.wait, SHUTDOWN_TIMEOUT + 30)
    took = time.monotonic() - began
    await asyncio.sleep(0.5)
    clean = sum(c.ended and c.retries >= 2 for c in clients)
    for client in clients:
        client.close()
    bench.close()
    return sse, idle, took, clean


async def _ws_row(bench: Bench) -> Row:
    print(f"bench: push, {WS_CLIENTS} GraphQL WebSocket subscribers", flush=True)
    ws = Row("graphql-transport-ws", WS_CLIENTS)
    rss = _rss_kib(bench.pid)
    stop = asyncio.Event()
    url = f"ws://{HOST}:{bench.port}/graphql"
    readies = [asyncio.Event() for _ in range(WS_CLIENTS)]
    tasks = [
        asyncio.create_task(ws_client(url, bench.fanout, ready, stop, mapper=i == 0))
        for i, ready in enumerate(readies)
    ]
    await asyncio.wait_for(asyncio.gather(*(r.wait() for r in readies)), 60)
    await asyncio.sleep(1)
    ws.kib_each = (_rss_kib(bench.pid) - rss) / WS_CLIENTS
    cpu, seqs = await bench.polls(EVENTS)
    bench.row(ws, seqs, WS_CLIENTS + 1)
    ws.cpu_us_each = (cpu / EVENTS - bench.per_event) / WS_CLIENTS * 1e6
    stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    bench.close()
    return ws


def _free_port() -> int:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
    return port


def run(tmp: Path) -> LiveResults:
    try:
        return asyncio.run(measure(tmp))
    except TimeoutError as exc:
        raise BenchError(f"push rows: timed out ({exc!r})") from exc


def _f(value: float, digits: int = 1) -> str:
    return "n/a" if value != value else f"{value:,.{digits}f}"  # NaN


def _met(ok: bool) -> str:
    return f"**{'met' if ok else 'not met'}**"


def section(results: LiveResults, date: str, load: tuple[float, float]) -> str:
    """The push rows' section of BENCHMARKS.md."""
    ws, sse = results.ws, results.sse
    ratio = ws.cpu_us_each / sse.cpu_us_each if sse.cpu_us_each > 0 else float("nan")
    lines = [
        f"## {TITLE}",
        "",
        __doc__.split("\n\n", 1)[1].replace("\n", " ").strip(),
        "",
        f"Measured {date} (UTC), `scripts/bench.py --live-only` or the end of "
        f"`make bench`; load average (1 min) {load[0]:.2f} at the start, "
        f"{load[1]:.2f} at the end.",
        "",
        "| row | listeners | events | publish to last client p50 ms | p99 ms "
        "| RSS per idle listener KiB | CPU per listener per 2-row delta µs |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in (sse, ws):
        lines.append(
            f"| {row.name} | {row.clients:,} | {row.events} | {_f(row.p50_ms)} "
            f"| {_f(row.p99_ms)} | {_f(row.kib_each)} | {_f(row.cpu_us_each, 2)} |"
        )
    lines += [
        "",
        f"- {SSE_CLIENTS:,} SSE subscribers: p99 {_f(sse.p99_ms)} ms (target "
        f"<= {SSE_P99_MS:.0f}), {_f(sse.kib_each)} KiB each (target <= "
        f"{SSE_KIB_EACH:.0f}): "
        f"{_met(sse.p99_ms <= SSE_P99_MS and sse.kib_each <= SSE_KIB_EACH)}",
        f"- {WS_CLIENTS} GraphQL WebSocket subscribers: p99 {_f(ws.p99_ms)} ms "
        f"(target <= {WS_P99_MS:.0f}), {_f(ws.kib_each)} KiB each (target <= "
        f"{WS_KIB_EACH:.0f}): "
        f"{_met(ws.p99_ms <= WS_P99_MS and ws.kib_each <= WS_KIB_EACH)}; CPU per "
        f"subscriber per delta {_f(ratio, 1)}x the SSE route's",
        f"- {SSE_CLIENTS:,} idle connections: {_f(results.idle_cpu_percent, 2)} % of a "
        f"core over {results.idle_seconds:.0f} s, polls every {INTERVAL:g} s and pings "
        f"included (target <= {IDLE_CPU_PERCENT:.0f} %): "
        f"{_met(results.idle_cpu_percent <= IDLE_CPU_PERCENT)}",
        f"- Shutdown with {SSE_CLIENTS:,} streams open: SIGTERM to exit "
        f"{results.shutdown_seconds:.2f} s (target <= SHUTDOWN_TIMEOUT + 1 = "
        f"{SHUTDOWN_TIMEOUT + 1} s), {results.shutdown_clean:,} of {SSE_CLIENTS:,} "
        "streams ended with a last `retry:` and a clean end of body: "
        f"{_met(results.shutdown_seconds <= SHUTDOWN_TIMEOUT + 1)}",
    ]
    for row in (sse, ws):
        lines += [f"- Note ({row.name}): {note}" for note in row.notes]
    return "\n".join(lines) + "\n"
