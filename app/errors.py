"""Errors with a wire code and an HTTP status, shared by GraphQL and REST.

AppError                      (code, status, message)
├── BadRequest                400 BAD_REQUEST
├── Unauthenticated           401 UNAUTHORIZED
├── Forbidden                 403 FORBIDDEN
├── NotFound                  404 NOT_FOUND
├── Conflict                  409 CONFLICT
├── RateLimited               429 RATE_LIMITED
├── DatabaseUnavailable       503 SERVICE_UNAVAILABLE (locked or disconnected)
├── ServiceUnavailable        503 SERVICE_UNAVAILABLE (at capacity, shutting down)
└── UpstreamUnavailable       503 SERVICE_UNAVAILABLE
    ├── UpstreamTimeout       the call passed its deadline or could not connect
    ├── UpstreamStatusError   the upstream answered a non-2xx status
    └── UpstreamBadPayload    the body was not JSON, or not of the expected shape
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, ClassVar

_log = logging.getLogger("naap.errors")


class AppError(Exception):
    """Clients see `code` and `message` (GraphQL: `errors[].extensions.code`). The
    upstream kind and name, and the database failure's kind and driver message, go
    to logs and metrics only: a client cannot act on them (it can only retry)."""

    code: ClassVar[str] = "INTERNAL_ERROR"
    status: ClassVar[int] = 500
    default_message: ClassVar[str] = "Internal error"

    def __init__(self, message: str | None = None) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)

    @property
    def extensions(self) -> dict[str, Any]:
        # graphql-core copies an original error's `extensions` into the response.
        return {"code": self.code}


class BadRequest(AppError):
    code = "BAD_REQUEST"
    status = 400
    default_message = "Bad request"


class Unauthenticated(AppError):
    code = "UNAUTHORIZED"
    status = 401
    default_message = "Unauthorized"


class Forbidden(AppError):
    code = "FORBIDDEN"
    status = 403
    default_message = "Forbidden"


class NotFound(AppError):
    code = "NOT_FOUND"
    status = 404
    default_message = "Not found"


class Conflict(AppError):
    code = "CONFLICT"
    status = 409
    default_message = "Conflict"


class RateLimited(AppError):
    code = "RATE_LIMITED"
    status = 429
    default_message = "Too many requests"

    def __init__(self, message: str | None = None, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after

    @property
    def extensions(self) -> dict[str, Any]:
        return {"code": self.code, "retryAfter": self.retry_after}


class DatabaseUnavailable(AppError):
    """The database could not do the work now; nothing was written. Raised by
    app/db.py's sessions, the one place database faults are recognised."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "The database is unavailable; retry shortly"

    def __init__(self, message: str | None = None, *, kind: str = "connection") -> None:
        super().__init__(message)
        self.kind = kind  # "locked" | "connection": logs and metrics only


class ServiceUnavailable(AppError):
    """This server cannot take the work now (its stream cap, a shutdown); another
    replica, or this one shortly, can."""

    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "The server is busy; retry shortly"


class UpstreamUnavailable(AppError):
    code = "SERVICE_UNAVAILABLE"
    status = 503
    default_message = "Upstream service is unavailable"
    kind: ClassVar[str] = "unavailable"

    def __init__(self, message: str | None = None, *, upstream: str = "") -> None:
        super().__init__(message)
        self.upstream = upstream

    def with_message(self, message: str) -> UpstreamUnavailable:
        """The same failure, re-worded for clients ("KPI data is unavailable")."""
        clone = type(self)(message, upstream=self.upstream)
        clone.__cause__ = self
        return clone


class UpstreamTimeout(UpstreamUnavailable):
    kind = "timeout"


class UpstreamStatusError(UpstreamUnavailable):
    kind = "status"


class UpstreamBadPayload(UpstreamUnavailable):
    kind = "bad_payload"


@contextmanager
def unavailable_as(message: str) -> Iterator[None]:
    """Re-word an upstream failure for clients, keeping the cause for the log.

    Each field knows what its users lost ("KPI data is unavailable"); the upstream
    detail (which call, which kind of failure) is logged, not shown.
    """
    try:
        yield
    except UpstreamUnavailable as exc:
        _log.warning(
            "upstream failure: %s (upstream=%s kind=%s)", exc, exc.upstream, exc.kind
        )
        raise exc.with_message(message) from exc
