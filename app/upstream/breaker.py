"""A circuit breaker per upstream: stop calling an upstream that keeps failing.

    closed ──(N consecutive failures)──▶ open ──(reset seconds)──▶ half-open
      ▲                                   ▲                            │
      └───────────(probe succeeds)────────┼──────(probe fails)─────────┘

What counts as a failure is the transport's decision (`_http.py`): timeouts,
connection errors, 5xx and 429 do; an answer of the wrong shape does not (the
upstream is up and answering; one bad endpoint must not cut off the others).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from app.errors import UpstreamUnavailable
from app.metrics import BREAKER_STATE

State = Literal["closed", "half-open", "open"]
_GAUGE: dict[State, int] = {"closed": 0, "half-open": 1, "open": 2}


class BreakerOpen(UpstreamUnavailable):
    kind = "breaker_open"


class CircuitBreaker:
    """Open: every call fails at once with `BreakerOpen` (no socket, no wait), so a
    dead upstream costs callers nothing and gets no traffic while it recovers.
    Half-open: exactly one caller (the probe) goes through; the others keep failing
    fast until the probe's verdict. A probe that ends without a verdict (its caller
    was cancelled) frees the slot for the next caller."""

    def __init__(
        self,
        name: str,
        *,
        failures: int,
        reset: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self._threshold = failures
        self._reset = reset
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._open = False
        self._probing = False
        BREAKER_STATE.labels(name).set(0)

    @property
    def state(self) -> State:
        if not self._open:
            return "closed"
        if self._probing or self._clock() - self._opened_at >= self._reset:
            return "half-open"
        return "open"

    def acquire(self) -> bool:
        """Let one call through (True: it is the half-open probe) or raise
        `BreakerOpen`. Pair every successful acquire with one `record`."""
        state = self.state
        if state == "closed":
            return False
        if state == "open" or self._probing:
            raise BreakerOpen(
                f"{self.name} circuit is {state}; failing fast", upstream=self.name
            )
        self._probing = True
        self._publish()
        return True

    def record(self, success: bool | None, *, probe: bool) -> None:
        """A call's verdict; None: no verdict (cancelled), which only frees the probe.

        While open, only the probe's verdict counts: a call that started before the
        breaker opened says nothing about the upstream now.
        """
        if probe:
            self._probing = False
        elif self._open:
            return
        if success is None:
            pass
        elif success:
            self._failures = 0
            self._open = False
        else:
            self._failures += 1
            # A failed probe re-opens for a full period; so do N failures in a row.
            if probe or self._failures >= self._threshold:
                self._open = True
                self._opened_at = self._clock()
        self._publish()

    def _publish(self) -> None:
        BREAKER_STATE.labels(self.name).set(_GAUGE[self.state])
