"""Error bodies for requests refused outside a route's handler (size caps, rate
limits): in the envelope the route would have answered with, so a client parses a
429 or a 413 like any other error of that route.

`/graphql` answers `{"errors": [{"message", "extensions": {"code"}}]}`; a route of
the table its row's envelope, and the job-feed stream the dashboard's (bare); other
`/api/v1/` paths (the OAuth pages, the CSRF cookie) the standard envelope;
anything else the bare `{"error": …}`.

A 404 or 405 (`family_envelope`) answers in its family's envelope, whether a route
matched or not: the Developer API's paths (`/api/v1/developer/`,
`/api/v1/billing-providers`, `/api/v1/auth/`) the standard one, bar a row that
says otherwise; everything else the bare one.
"""

from __future__ import annotations

import orjson
from starlette.routing import compile_path

from app.errors import AppError, RateLimited
from rest_facade.envelope import BARE, STANDARD, Envelope
from rest_facade.routes import JOB_FEED_STREAM, ROUTES

_PATTERNS = tuple((compile_path(row.path)[0], row.envelope) for row in ROUTES)


STANDARD_FAMILY = ("/api/v1/developer/", "/api/v1/billing-providers", "/api/v1/auth/")


def family_envelope(path: str) -> Envelope:
    for pattern, envelope in _PATTERNS:
        if pattern.match(path):
            return envelope
    return STANDARD if path.startswith(STANDARD_FAMILY) else BARE


def envelope_for(path: str) -> Envelope:
    if path == JOB_FEED_STREAM:
        return BARE
    for pattern, envelope in _PATTERNS:
        if pattern.match(path):
            return envelope
    return STANDARD if path.startswith("/api/v1/") else BARE


def error_body(path: str, error: AppError) -> bytes:
    if path == "/graphql" or path.startswith("/graphql/"):
        return orjson.dumps(
            {"errors": [{"message": error.message, "extensions": error.extensions}]}
        )
    details = (
        {"retryAfter": error.retry_after} if isinstance(error, RateLimited) else None
    )
    return orjson.dumps(envelope_for(path).error(error.code, error.message, details))
