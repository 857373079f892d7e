"""Reading the app's Prometheus metrics in tests.

The registry is per process and never reset, so tests compare a sample before and
after the behaviour they check rather than asserting absolute values.
"""

from __future__ import annotations

from app.metrics import REGISTRY


def sample(name: str, **labels: str) -> float:
    """The current value of one sample (0 when it was never touched)."""
    return REGISTRY.get_sample_value(name, labels) or 0.0


def dropped_rows(endpoint: str) -> float:
    return sample("naap_upstream_dropped_rows_total", endpoint=endpoint)


def retries(upstream: str) -> float:
    return sample("naap_upstream_retries_total", upstream=upstream)


def errors(upstream: str, endpoint: str, kind: str) -> float:
    return sample(
        "naap_upstream_errors_total", upstream=upstream, endpoint=endpoint, kind=kind
    )


def db_errors(kind: str) -> float:
    return sample("naap_db_errors_total", kind=kind)
