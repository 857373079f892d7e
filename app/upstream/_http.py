"""The HTTP layer the three upstream clients share (not a client itself).

Each client owns one `JsonTransport`: a long-lived `httpx.AsyncClient` with its own
timeouts and circuit breaker. Every call fails fast while the breaker is open, is
bounded by min(its upstream's timeout, the request's time left), is retried at
most once (connection failures, 502/503/504), never follows redirects, reads at
most 16 MiB, shares identical calls in flight, is measured, and fails only as
`UpstreamTimeout`, `UpstreamStatusError`, `UpstreamBadPayload` or `BreakerOpen`:
resolvers never see httpx.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
import orjson

from app.caching.flight import SingleFlight
from app.errors import (
    UpstreamBadPayload,
    UpstreamStatusError,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from app.metrics import UPSTREAM_ERRORS, UPSTREAM_LATENCY, UPSTREAM_RETRIES
from app.provenance import mark_source
from app.upstream.breaker import BreakerOpen, CircuitBreaker, State
from app.upstream.resilience import (
    RETRY_STATUSES,
    current_deadline,
    jitter,
    retry_after,
)

log = logging.getLogger("naap.upstream")
T = TypeVar("T")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024
# Used where no request deadline is set (tests, background refreshes); the server
# passes REQUEST_DEADLINE.
DEFAULT_DEADLINE = 25.0


class UpstreamClient:
    """What the three clients share: their transport and lifecycle."""

    def __init__(self, http: JsonTransport) -> None:
        self._http = http

    @property
    def simulated(self) -> bool:
        return self._http.simulated

    @property
    def name(self) -> str:
        return self._http.name

    @property
    def state(self) -> State:
        """The circuit breaker's state: "closed", "half-open" or "open"."""
        return self._http.breaker.state

    async def aclose(self) -> None:
        await self._http.aclose()


@dataclass(slots=True)
class _Failure:
    """One failed attempt: the error to raise and what it means for policy."""

    error: UpstreamUnavailable
    kind: str  # the UPSTREAM_ERRORS label
    unhealthy: bool  # counts against the breaker
    retryable: bool = False
    wait: float | None = None  # Retry-After, seconds


class JsonTransport:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        timeout: float,
        connect_timeout: float,
        transport: httpx.AsyncBaseTransport | None = None,
        simulated: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        deadline: float = DEFAULT_DEADLINE,
        retries: int = 1,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.simulated = simulated
        self.breaker = breaker or CircuitBreaker(name, failures=5, reset=30.0)
        self._in_flight: SingleFlight[Any] = SingleFlight()
        self._max_body_bytes = max_body_bytes
        self._deadline = deadline
        self._retries = retries
        # Absolute URLs rather than httpx's base_url, which always appends a "/":
        # the subgraph and RPC endpoints are the base URL itself, without one.
        self._base_url = base_url.rstrip("/")
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            follow_redirects=False,
            headers={"accept": "application/json", "user-agent": "naap-api"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def get(
        self,
        path: str,
        params: Mapping[str, str] | None,
        *,
        parse: Callable[[Any], T],
        endpoint: str | None = None,
    ) -> T:
        """GET `path`; `parse` turns the JSON body into the typed result, so a 200
        of the wrong shape (a subgraph `errors` list, a JSON-RPC error object)
        fails like any other upstream error. `endpoint` labels the metrics
        (default: the path, never its query values)."""
        query = sorted((params or {}).items())
        key = f"{self.name} GET {path}?" + "&".join(f"{k}={v}" for k, v in query)

        async def load() -> T:
            raw = await self._call("GET", path, endpoint or path, params=dict(query))
            return self._parse(raw, parse, endpoint or path)

        return await self._shared(key, load)

    async def post(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        parse: Callable[[Any], T],
        endpoint: str | None = None,
    ) -> T:
        """POST a read-only query (subgraph GraphQL, JSON-RPC reads): idempotent."""
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        key = f"{self.name} POST {path} {body.decode()}"
        label = endpoint or path or self.name

        async def load() -> T:
            raw = await self._call("POST", path, label, content=body)
            return self._parse(raw, parse, label)

        return await self._shared(key, load)

    async def _shared(self, key: str, load: Callable[[], Awaitable[T]]) -> T:
        """Identical calls in flight at once share one request (the fields of one
        query, a refresh and a miss)."""
        result: T = await self._in_flight.run(key, load)
        if self.simulated:
            mark_source("simulator")
        return result

    def _parse(self, raw: bytearray, parse: Callable[[Any], T], endpoint: str) -> T:
        what = f"{self.name} {endpoint}"
        try:
            body = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            self._count(endpoint, "bad_payload")
            raise UpstreamBadPayload(
                f"{what} returned a body that is not JSON", upstream=self.name
            ) from exc
        try:
            return parse(body)
        except UpstreamBadPayload:
            self._count(endpoint, "bad_payload")
            raise

    def _count(self, endpoint: str, kind: str) -> None:
        UPSTREAM_ERRORS.labels(self.name, endpoint, kind).inc()

    async def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> bytearray:
        """The body of a 2xx answer, within the deadline, retried at most once."""
        deadline = current_deadline()
        if deadline is None:  # outside a request: a budget of its own
            deadline = time.monotonic() + self._deadline
        what = f"{self.name} {method} {endpoint}"
        try:
            probe = self.breaker.acquire()
        except BreakerOpen:
            self._count(endpoint, "breaker_open")
            raise
        healthy: bool | None = None  # no verdict unless an attempt was made
        try:
            for attempt in range(1 + self._retries):
                left = deadline - time.monotonic()
                if left <= 0:
                    self._count(endpoint, "deadline")
                    raise UpstreamTimeout(
                        f"{what}: the request deadline has passed", upstream=self.name
                    )
                outcome = await self._attempt(
                    method, path, endpoint, min(self.timeout, left), params, content
                )
                if not isinstance(outcome, _Failure):
                    healthy = True
                    return outcome
                self._count(endpoint, outcome.kind)
                healthy = not outcome.unhealthy
                if not outcome.retryable or attempt == self._retries:
                    raise outcome.error
                wait = jitter() if outcome.wait is None else outcome.wait
                if wait >= deadline - time.monotonic():
                    log.info("%s: no time left to retry after %.2fs", what, wait)
                    raise outcome.error
                UPSTREAM_RETRIES.labels(self.name).inc()
                log.info("%s failed (%s); retrying in %.2fs", what, outcome.kind, wait)
                await asyncio.sleep(wait)
            raise AssertionError("unreachable: the last attempt returns or raises")
        finally:
            self.breaker.record(healthy, probe=probe)

    async def _attempt(
        self,
        method: str,
        path: str,
        endpoint: str,
        budget: float,
        params: Mapping[str, str] | None,
        content: bytes | None,
    ) -> bytearray | _Failure:
        """One HTTP exchange within `budget` seconds: the body, or why it failed."""
        what = f"{self.name} {method} {endpoint}"
        # Cut short by the request's deadline rather than the upstream's timeout.
        kind = "timeout" if budget >= self.timeout else "deadline"
        headers = {"content-type": "application/json"} if content is not None else None
        url = f"{self._base_url}/{path}" if path else self._base_url
        started = time.monotonic()
        try:
            async with asyncio.timeout(budget):
                request = self._client.build_request(
                    method, url, params=params, content=content, headers=headers
                )
                response = await self._client.send(request, stream=True)
                try:
                    if not response.is_success:
                        return self._status_failure(response, what)
                    return await self._read_capped(response, what)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            error = UpstreamTimeout(
                f"{what} exceeded {budget:.3g}s", upstream=self.name
            )
            error.__cause__ = exc
            return _Failure(error, kind, unhealthy=True)
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            # Nothing reached the upstream: always safe to try once more.
            error = UpstreamTimeout(
                f"{what} could not connect: {type(exc).__name__}", upstream=self.name
            )
            error.__cause__ = exc
            return _Failure(error, "connect", unhealthy=True, retryable=True)
        except httpx.TimeoutException as exc:
            error = UpstreamTimeout(f"{what} timed out", upstream=self.name)
            error.__cause__ = exc
            return _Failure(error, "timeout", unhealthy=True)
        except httpx.TransportError as exc:
            # The connection broke mid-exchange (reset, protocol error).
            error = UpstreamTimeout(
                f"{what} failed: {type(exc).__name__}", upstream=self.name
            )
            error.__cause__ = exc
            return _Failure(error, "connect", unhealthy=True)
        except UpstreamBadPayload as exc:  # over the size cap
            return _Failure(exc, "too_large", unhealthy=False)
        finally:
            UPSTREAM_LATENCY.labels(self.name, endpoint).observe(
                time.monotonic() - started
            )

    def _status_failure(self, response: httpx.Response, what: str) -> _Failure:
        status = response.status_code
        error = UpstreamStatusError(
            f"{what} returned HTTP {status}", upstream=self.name
        )
        retryable = status in RETRY_STATUSES
        return _Failure(
            error,
            "status",
            # 5xx: the upstream is failing. 429: it asks us to back off, which is
            # what an open breaker does. Other 4xx and 3xx are answers to us.
            unhealthy=status >= 500 or status == 429,
            retryable=retryable,
            wait=retry_after(response.headers.get("retry-after"))
            if retryable
            else None,
        )

    async def _read_capped(self, response: httpx.Response, what: str) -> bytearray:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self._max_body_bytes:
            raise UpstreamBadPayload(
                f"{what} declares {declared} bytes, over {self._max_body_bytes}",
                upstream=self.name,
            )
        # One growing buffer, handed to orjson as is (no list of chunks joined at
        # the end, no bytes() copy): the peak stays about the cap, not twice it.
        body = bytearray()
        async for chunk in response.aiter_bytes():
            if len(body) + len(chunk) > self._max_body_bytes:
                raise UpstreamBadPayload(
                    f"{what} body exceeds {self._max_body_bytes} bytes",
                    upstream=self.name,
                )
            body += chunk
        return body
