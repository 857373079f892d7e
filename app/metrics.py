"""Prometheus metrics: one registry per process, every metric named here.

`GET /metrics` renders `REGISTRY`. Labels are bounded by construction — route
templates (never raw paths), GraphQL root-field names from the schema (never a
client's operation name as sent), upstream and endpoint names from our own code —
so a client cannot grow the registry.

Each uvicorn worker has its own registry; scrape each worker (or run one worker
per container), as with any in-process Prometheus client.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

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
HTTP_REQUESTS = Counter(
    "naap_http_requests_total",
    "HTTP requests by route template (or GraphQL operation), method and status.",
    ["route", "method", "status"],
    registry=REGISTRY,
)
HTTP_LATENCY = Histogram(
    "naap_http_request_duration_seconds",
    "Time from request start to the last body byte, by route (or operation).",
    ["route"],
    buckets=LATENCY_BUCKETS,
    registry=REGISTRY,
)
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
