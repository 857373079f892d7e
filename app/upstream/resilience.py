"""One deadline per request for all its upstream work, and the retry policy.

The deadline is an absolute `time.monotonic()` value in a context variable.
`DeadlineMiddleware` sets it when an HTTP request arrives, so both surfaces (REST
runs the same schema as /graphql) and every resolver task created under the
request inherit it; asyncio copies the context into each task it creates, while
a value set inside a resolver would not flow back out. Work that starts outside a
request (the response cache's background refresh runs in an empty context) gets
the transport's default budget, the same number of seconds, from its own start.

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
from contextvars import ContextVar
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

from starlette.types import ASGIApp, Receive, Scope, Send

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


class DeadlineMiddleware:
    """Starts each HTTP request's upstream deadline (`REQUEST_DEADLINE`)."""

    def __init__(self, app: ASGIApp, *, seconds: float) -> None:
        self.app = app
        self.seconds = seconds

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        # The context manager's body, inlined: this runs on every request, and
        # contextlib's generator machinery costs more than the rest of it.
        token = _deadline.set(time.monotonic() + self.seconds)
        try:
            await self.app(scope, receive, send)
        finally:
            _deadline.reset(token)


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
