"""Faults: how an endpoint misbehaves when a test asks it to.

Faults are keyed by endpoint key (the analytics path after `/v1/`, `healthz`,
`subgraph`, `rpc`, `oauth/<slug>/authorize`, `oauth/<slug>/token`, or `*` for all;
a specific key wins over `*`). An error status comes with the body that upstream
sends with it: a problem document, GraphQL `errors`, a JSON-RPC error or an OAuth
error.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Final

from starlette.responses import Response, StreamingResponse

from simulator.encoding import PROBLEM_TYPE, json_response
from simulator.oauth import OAuthError
from simulator.rpc import rpc_error
from simulator.subgraph import graphql_errors


@dataclass(frozen=True, slots=True)
class Fault:
    """How one endpoint misbehaves. Precedence: redirect, status, body, real answer;
    `latency` delays any of them and `drip_bytes_per_s` slows the chosen body."""

    latency: float = 0.0  # seconds to sleep before answering (asyncio.sleep)
    status: int | None = None  # answer this status with the upstream's error body
    body: bytes | None = None  # answer 200 with exactly these bytes
    content_type: str = "application/json"
    drip_bytes_per_s: float | None = None  # stream the body this slowly
    redirect_to: str | None = None  # answer 302 with this Location


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


_OAUTH_FAULT_ERRORS: Final = {401: "invalid_client", 503: "temporarily_unavailable"}


def _error_response(key: str, status: int) -> Response:
    """The body each upstream sends with an error status."""
    reason = _reason(status)
    if key.startswith("oauth/"):
        error = _OAUTH_FAULT_ERRORS.get(status)
        if error is None:
            error = "server_error" if status >= 500 else "invalid_request"
        return OAuthError(error, f"{status} {reason}", status).response()
    if key == "subgraph":
        return graphql_errors(f"{status} {reason}", status)
    if key == "rpc":
        return json_response(rpc_error(None, -32603, reason), status)
    problem = {"type": "about:blank", "title": reason, "status": status}
    return json_response(problem, status, PROBLEM_TYPE)


def _drip(response: Response, bytes_per_second: float) -> StreamingResponse:
    body = bytes(response.body)
    chunk = max(1, int(bytes_per_second / 10))  # about ten writes a second

    async def pieces() -> AsyncIterator[bytes]:
        for start in range(0, len(body), chunk):
            piece = body[start : start + chunk]
            await asyncio.sleep(len(piece) / bytes_per_second)
            yield piece

    return StreamingResponse(
        pieces(), status_code=response.status_code, media_type=response.media_type
    )


async def apply_fault(
    fault: Fault, key: str, answer: Callable[[], Awaitable[Response]]
) -> Response:
    """The response `fault` calls for; `answer` gives the real one when needed."""
    if fault.latency > 0:
        await asyncio.sleep(fault.latency)
    if fault.redirect_to is not None:
        return Response(status_code=302, headers={"location": fault.redirect_to})
    if fault.status is not None:
        response = _error_response(key, fault.status)
    elif fault.body is not None:
        response = Response(fault.body, media_type=fault.content_type)
    else:
        response = await answer()
    if fault.drip_bytes_per_s:
        return _drip(response, fault.drip_bytes_per_s)
    return response
