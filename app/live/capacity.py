"""The per-worker cap on long-lived connections (`MAX_STREAMS_PER_WORKER`).

The job-feed SSE stream, GraphQL WebSockets and GraphQL streams over SSE each
hold a slot while open; past the cap a new one is answered 503 with a
`Retry-After` spread over a few seconds, so refused clients do not return in
step.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from app.metrics import LIVE_REFUSED, LIVE_STREAMS

TRANSPORTS: Final = ("sse", "graphql-ws", "graphql-sse")
RETRY_AFTER: Final = (2, 10)  # seconds, drawn per refusal
CAPACITY_MESSAGE: Final = "Too many open streams on this server; retry shortly"


class StreamSlots:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.open = dict.fromkeys(TRANSPORTS, 0)

    @property
    def used(self) -> int:
        return sum(self.open.values())

    def acquire(self, transport: str) -> bool:
        if self.used >= self.limit:
            LIVE_REFUSED.inc()
            return False
        self.open[transport] += 1
        LIVE_STREAMS.labels(transport).set(self.open[transport])
        return True

    def release(self, transport: str) -> None:
        self.open[transport] -= 1
        LIVE_STREAMS.labels(transport).set(self.open[transport])

    @contextmanager
    def held(self, transport: str) -> Iterator[None]:
        """A slot already acquired, released when the block ends."""
        try:
            yield
        finally:
            self.release(transport)


def retry_after() -> int:
    return random.randint(*RETRY_AFTER)  # noqa: S311  (spreading, not secrecy)
