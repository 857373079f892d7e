"""HttpStats: the hot path's request counts and latency histograms, exported in
Prometheus' own families (le buckets cumulative, +Inf = count, sum in seconds)."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry, generate_latest

from app.metrics import HttpStats


def test_counts_and_buckets_read_like_a_prometheus_histogram() -> None:
    stats = HttpStats((0.01, 0.1, 1.0))
    registry = CollectorRegistry()
    registry.register(stats)
    for seconds in (0.005, 0.01, 0.05, 0.5, 7.0):  # 0.01 sits in its own bucket
        stats.record("/a", "GET", 200, seconds)
    stats.record("/a", "POST", 429, 0.001)

    def value(name: str, **labels: str) -> float | None:
        return registry.get_sample_value(name, labels)

    assert (
        value("naap_http_requests_total", route="/a", method="GET", status="200") == 5
    )
    assert (
        value("naap_http_requests_total", route="/a", method="POST", status="429") == 1
    )
    buckets = {
        le: value("naap_http_request_duration_seconds_bucket", route="/a", le=le)
        for le in ("0.01", "0.1", "1.0", "+Inf")
    }
    assert buckets == {"0.01": 3, "0.1": 4, "1.0": 5, "+Inf": 6}
    assert value("naap_http_request_duration_seconds_count", route="/a") == 6
    total = value("naap_http_request_duration_seconds_sum", route="/a")
    assert total == pytest.approx(7.566)
    assert b"# TYPE naap_http_request_duration_seconds histogram" in generate_latest(
        registry
    )
