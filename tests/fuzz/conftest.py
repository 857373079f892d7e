"""The fuzz tier runs outside coverage measurement.

Its thousands of schemathesis cases are mostly hypothesis and schemathesis at work
(the REST run is a separate process; the server it calls runs here), and
coverage's greenlet tracing (pyproject.toml) makes every Python event of that pay:
an in-process fuzz test took ~45 s instead of ~17 s. The fuzz cases add a handful
of statements to what the other tiers cover; the fuzz tests still run, and fail,
under `make test`.
"""

from __future__ import annotations

from collections.abc import Iterator

import coverage
import pytest


@pytest.fixture(autouse=True)
def outside_coverage() -> Iterator[None]:
    """Pause every running measurement in this process for one test. They stack
    (stopping one resumes the one started before it, and a pytest-xdist worker has
    two), so all of them stop, and restart in their order."""
    paused: list[coverage.Coverage] = []
    while (measuring := coverage.Coverage.current()) is not None:
        if measuring in paused:  # stop() did not take it off the stack
            break
        measuring.stop()
        paused.append(measuring)
    try:
        yield
    finally:
        for measuring in reversed(paused):
            measuring.start()
