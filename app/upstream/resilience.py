"""One deadline per request for all its upstream work, and the retry policy.

The deadline is an absolute `time.monotonic()` value in a context variable. The
HTTP edge middleware (app/edge/middleware.py) starts it when a request arrives, so
both surfaces (REST runs the same schema as /graphql) and every resolver task
created under the request inherit it; asyncio copies the context into each task it
creates, while a value set inside a resolver would not flow back out. Work that
starts outside a request (the response cache's background refresh runs in an
empty context) gets the transport's default budget, the same number of seconds,
from its own start.

Retry policy: at most one retry, for connection failures and 502/503/504, after
`Retry-After` when the upstream sent one, else after 50-250 ms of jitter (so the
callers of a flapping upstream do not come back in step), and only when the wait
fits in the time left. Every current upstream call is idempotent: the analytics
API is GET only, and the subgraph queries and `eth_blockNumber` are read-only
POSTs, so a repeated call cannot change anything upstream.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({502, 503, 504})
JITTER = (0.05, 0.25)  # seconds

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
