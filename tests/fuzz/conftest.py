"""The fuzz tier runs outside coverage measurement.

Its ~1,400 schemathesis cases are mostly hypothesis and schemathesis at work, and
coverage's greenlet tracing (pyproject.toml) makes every Python event of that pay:
the REST fuzz test takes ~45 s instead of ~17 s. The fuzz cases add 7 statements
of 7,193 to what the other tiers cover; the fuzz tests still run, and fail, under
`make test`.
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
