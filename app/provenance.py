"""Where a response's data came from: "simulator" when a simulated upstream
answered. The edge opens one set per request and labels the response from it."""

from __future__ import annotations

from contextvars import ContextVar

_sources: ContextVar[set[str] | None] = ContextVar("data_sources", default=None)


def track_data_sources() -> set[str]:
    """A new, empty set of sources for the current context (a request, or a
    snapshot being loaded), filled by `mark_source` as data arrives."""
    sources: set[str] = set()
    _sources.set(sources)
    return sources


def mark_source(source: str) -> None:
    sources = _sources.get()
    if sources is not None:
        sources.add(source)
