"""One deadline per request for all its upstream work, and the retry policy's parts.

The deadline is an absolute `time.monotonic()` value in a context variable, set by
the edge middleware when a request arrives, so both surfaces and every resolver
task created under the request inherit it (asyncio copies the context into each
task it creates). Work outside a request (the response cache's background refresh)
gets the transport's default budget from its own start. A failed call is retried
at most once, after `Retry-After` or 50-250 ms of jitter, and only when the wait
fits in the time left.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

# Retried once, like connection failures. Every upstream call is idempotent (the
# analytics API is GET only; the subgraph queries and `eth_blockNumber` are
# read-only POSTs), so a repeated call changes nothing upstream.
RETRY_STATUSES = frozenset({502, 503, 504})
# Seconds; random, so the callers of a flapping upstream do not come back in step.
JITTER = (0.05, 0.25)

_deadline: ContextVar[float | None] = ContextVar("upstream_deadline", default=None)


def current_deadline() -> float | None:
    """The absolute (monotonic) deadline of this request's upstream work, if any."""
    return _deadline.get()


@contextmanager
def request_deadline(seconds: float) -> Iterator[float]:
    """Upstream calls made inside share one deadline, `seconds` from now."""
    deadline = time.monotonic() + seconds
    token = _deadline.set(deadline)
    try:
        yield deadline
    finally:
        _deadline.reset(token)


def start_deadline(seconds: float) -> Token[float | None]:
    """Start the current request's deadline; `token.var.reset(token)` ends it.

    The HTTP edge middleware (app/edge/middleware.py) calls this once per request,
    so REST and GraphQL share it; `request_deadline` is the same as a context
    manager, for code outside a request.
    """
    return _deadline.set(time.monotonic() + seconds)


def retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or HTTP-date)."""
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None  # unreadable: fall back to jitter
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - (now or datetime.now(UTC))).total_seconds())


def jitter() -> float:
    # Not a secret: spreading retries needs no cryptographic randomness.
    return random.uniform(*JITTER)  # noqa: S311
