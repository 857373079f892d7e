"""Prometheus metrics: one registry per process, every metric named here.

`GET /metrics` renders `REGISTRY`. Labels are bounded by construction — route
templates (never raw paths), GraphQL root-field names from the schema (never a
client's operation name as sent), upstream and endpoint names from our own code —
so a client cannot grow the registry.

Each uvicorn worker has its own registry; scrape each worker (or run one worker
per container), as with any in-process Prometheus client.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from itertools import accumulate

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric

REGISTRY = CollectorRegistry(auto_describe=True)

# Buckets for a server whose hits answer in about a millisecond and whose misses
# wait on upstreams for up to the request deadline.
LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
)


# --- HTTP surface ----------------------------------------------------------------
class HttpStats:
    """Requests per (route, method, status) and latency per route, counted in plain
    dicts on the hot path and exported at scrape time by this custom collector.

    Why not a prometheus_client Counter and Histogram: their children take a lock
    per increment and walk the buckets in Python, about 2 µs a request, when the
    whole cache hit costs tens. Here a request is two dict lookups, one `bisect`
    (C) and two additions; the event loop is single-threaded, so no lock. The
    exported families are the same: `naap_http_requests_total` and
    `naap_http_request_duration_seconds` (buckets `LATENCY_BUCKETS`). Measured:
    BENCHMARKS.md, "Library bypasses".
    """

    def __init__(self, buckets: tuple[float, ...]) -> None:
        self.bounds = buckets
        self.requests: dict[tuple[str, str, int], int] = {}
        # route -> [count per bucket (le each bound, then +Inf)..., sum of seconds]
        self.latency: dict[str, list[float]] = {}

    def record(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, status)
        self.requests[key] = self.requests.get(key, 0) + 1
        histogram = self.latency.get(route)
        if histogram is None:
            histogram = self.latency[route] = [0.0] * (len(self.bounds) + 2)
        histogram[bisect_left(self.bounds, seconds)] += 1
        histogram[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "naap_http_requests_total",
            "HTTP requests by route template (or GraphQL operation), method and "
            "status.",
            labels=["route", "method", "status"],
        )
        for (route, method, status), count in list(self.requests.items()):
            requests.add_metric([route, method, str(status)], count)
        yield requests
        latency = HistogramMetricFamily(
            "naap_http_request_duration_seconds",
            "Time from request start to the last body byte, by route (or operation).",
            labels=["route"],
        )
        edges = [*(str(b) for b in self.bounds), "+Inf"]
        for route, histogram in list(self.latency.items()):
            cumulative = list(accumulate(histogram[:-1]))
            latency.add_metric(
                [route], list(zip(edges, cumulative, strict=True)), histogram[-1]
            )
        yield latency


HTTP_STATS = HttpStats(LATENCY_BUCKETS)
REGISTRY.register(HTTP_STATS)
REQUESTS_REFUSED = Counter(
    "naap_http_refused_total",
    "Requests refused before routing (size caps, rate limits), by reason.",
    ["reason"],
    registry=REGISTRY,
)

# --- Response cache ----------------------------------------------------------------
CACHE_RESULTS = Counter(
    "naap_cache_requests_total",
    "Response-cache lookups by surface (rest|graphql) and result "
    "(hit|stale|miss|coalesced|bypass|error).",
    ["surface", "result"],
    registry=REGISTRY,
)

# --- Upstreams -----------------------------------------------------------------------
UPSTREAM_LATENCY = Histogram(
    "naap_upstream_request_duration_seconds",
    "Upstream call duration by upstream and endpoint (successes and failures).",
    ["upstream", "endpoint"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
UPSTREAM_ERRORS = Counter(
    "naap_upstream_errors_total",
    "Failed upstream calls by upstream, endpoint and kind "
    "(timeout|connect|status|bad_payload|too_large|breaker_open|deadline).",
    ["upstream", "endpoint", "kind"],
    registry=REGISTRY,
)
UPSTREAM_RETRIES = Counter(
    "naap_upstream_retries_total",
    "Upstream calls retried once, by upstream.",
    ["upstream"],
    registry=REGISTRY,
)
UPSTREAM_DROPPED_ROWS = Counter(
    "naap_upstream_dropped_rows_total",
    "Malformed rows dropped from otherwise valid upstream answers, by endpoint.",
    ["endpoint"],
    registry=REGISTRY,
)
BREAKER_STATE = Gauge(
    "naap_upstream_breaker_state",
    "Circuit breaker per upstream: 0 closed, 1 half-open, 2 open.",
    ["upstream"],
    registry=REGISTRY,
)

# --- Database ----------------------------------------------------------------------
DB_ERRORS = Counter(
    "naap_db_errors_total",
    "Database operations that failed as unavailable (locked, connection lost).",
    ["kind"],
    registry=REGISTRY,
)


READINESS = Gauge(
    "naap_readiness",
    "Readiness checks as last seen by /readyz (1 ok, 0 failing): started, "
    "database, cache.",
    ["check"],
    registry=REGISTRY,
)

# --- Persisted operations ------------------------------------------------------------
PERSISTED_RESULTS = Counter(
    "naap_graphql_persisted_total",
    "GraphQL requests as the persisted-operation policy saw them: operation (a "
    "registered operation by hash), apq_hit, apq_miss, apq_registered, "
    "hash_mismatch, not_supported, unregistered (no token and a document that is "
    "not registered: what PERSISTED_OPERATIONS=enforce-anonymous refuses), refused.",
    ["result"],
    registry=REGISTRY,
)
# --- Push (app/live) -----------------------------------------------------------------
LIVE_POLLS = Counter(
    "naap_live_polls_total",
    "Job feed polls of the push hub: ok, failed (the upstream failed: stale), "
    "error (the read itself raised).",
    ["result"],
    registry=REGISTRY,
)
LIVE_EVENTS = Counter(
    "naap_live_events_total",
    "Events the push hub published (each sent once to every listener): delta, status.",
    ["kind"],
    registry=REGISTRY,
)
LIVE_STREAMS = Gauge(
    "naap_live_streams",
    "Long-lived connections open in this worker (MAX_STREAMS_PER_WORKER bounds "
    "them): sse (the job-feed stream), graphql-ws, graphql-sse.",
    ["transport"],
    registry=REGISTRY,
)
LIVE_REFUSED = Counter(
    "naap_live_streams_refused_total",
    "Long-lived connections refused with 503 because the worker was at "
    "MAX_STREAMS_PER_WORKER.",
    registry=REGISTRY,
)
