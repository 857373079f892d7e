"""HTTP plumbing shared by the three upstream clients (not a client itself).

Each client owns one `JsonTransport`: a long-lived `httpx.AsyncClient` with its own
base URL and timeouts, an optional injected `transport=` (the simulator through
`httpx.ASGITransport`, or an `httpx.MockTransport` in a unit test), and the shared
`UpstreamCache`. Every call:

- is bounded by a total deadline (`asyncio.timeout`): httpx's read timeout is per
  chunk, so without it a body dripping one byte a second would never time out;
- never follows redirects (an upstream redirect is a misconfiguration to surface);
- reads at most `max_body_bytes`;
- turns every failure into one of `UpstreamTimeout`, `UpstreamStatusError`,
  `UpstreamBadPayload`, so resolvers never see httpx.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, TypeVar

import httpx
import orjson

from app.cache import UpstreamCache
from app.errors import UpstreamBadPayload, UpstreamStatusError, UpstreamTimeout

log = logging.getLogger("naap.upstream")
T = TypeVar("T")

DEFAULT_MAX_BODY_BYTES = 16 * 1024 * 1024

# The data sources a request's responses were built from ("simulator" when a
# simulated upstream answered). The server's middleware opens a set per request and
# reads it when the response starts.
_data_sources: ContextVar[set[str] | None] = ContextVar("data_sources", default=None)


def track_data_sources() -> set[str]:
    sources: set[str] = set()
    _data_sources.set(sources)
    return sources


def _mark_source(source: str) -> None:
    sources = _data_sources.get()
    if sources is not None:
        sources.add(source)


class UpstreamClient:
    """What the three clients share: their transport, TTL and lifecycle."""

    def __init__(self, http: JsonTransport, *, ttl: float) -> None:
        self._http = http
        self._ttl = ttl

    @property
    def simulated(self) -> bool:
        return self._http.simulated

    @property
    def name(self) -> str:
        return self._http.name

    @property
    def state(self) -> str:
        """The circuit breaker's state: "closed", "half-open" or "open"."""
        return "closed"

    async def aclose(self) -> None:
        await self._http.aclose()


class JsonTransport:
    def __init__(
        self,
        *,
        name: str,
        base_url: str,
        timeout: float,
        connect_timeout: float,
        cache: UpstreamCache,
        transport: httpx.AsyncBaseTransport | None = None,
        simulated: bool = False,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    ) -> None:
        self.name = name
        self.timeout = timeout
        self.simulated = simulated
        self._cache = cache
        self._max_body_bytes = max_body_bytes
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
        ttl: float,
        bypass: bool = False,
    ) -> T:
        """GET `path`; `parse` turns the JSON body into the typed result.

        Parsing happens inside the cached loader, so only a body that parsed is
        ever stored: a 200 of the wrong shape (a subgraph `errors` list, a JSON-RPC
        error object) fails like any other upstream error and is retried next time.
        """
        query = sorted((params or {}).items())
        key = f"{self.name} GET {path}?" + "&".join(f"{k}={v}" for k, v in query)

        async def load() -> T:
            return parse(await self._call("GET", path, params=dict(query)))

        return await self._fetch(key, ttl, load, bypass)

    async def post(
        self,
        path: str,
        payload: Mapping[str, Any],
        *,
        parse: Callable[[Any], T],
        ttl: float,
        bypass: bool = False,
    ) -> T:
        body = orjson.dumps(payload, option=orjson.OPT_SORT_KEYS)
        key = f"{self.name} POST {path} {body.decode()}"

        async def load() -> T:
            return parse(await self._call("POST", path, content=body))

        return await self._fetch(key, ttl, load, bypass)

    async def _fetch(
        self, key: str, ttl: float, load: Callable[[], Awaitable[T]], bypass: bool
    ) -> T:
        result = await self._cache.fetch(key, ttl, load, bypass=bypass)
        if self.simulated:
            _mark_source("simulator")
        return result

    async def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Any:
        headers = {"content-type": "application/json"} if content is not None else None
        what = f"{self.name} {method} {path}"
        try:
            async with asyncio.timeout(self.timeout):
                url = f"{self._base_url}/{path}" if path else self._base_url
                request = self._client.build_request(
                    method, url, params=params, content=content, headers=headers
                )
                response = await self._client.send(request, stream=True)
                try:
                    if not response.is_success:
                        raise UpstreamStatusError(
                            f"{what} returned HTTP {response.status_code}",
                            upstream=self.name,
                        )
                    raw = await self._read_capped(response, what)
                finally:
                    await response.aclose()
        except TimeoutError as exc:
            raise UpstreamTimeout(
                f"{what} exceeded {self.timeout:g}s", upstream=self.name
            ) from exc
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout(f"{what} timed out", upstream=self.name) from exc
        except httpx.TransportError as exc:
            raise UpstreamTimeout(
                f"{what} failed: {type(exc).__name__}", upstream=self.name
            ) from exc
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadPayload(
                f"{what} returned a body that is not JSON", upstream=self.name
            ) from exc

    async def _read_capped(self, response: httpx.Response, what: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > self._max_body_bytes:
                raise UpstreamBadPayload(
                    f"{what} body exceeds {self._max_body_bytes} bytes",
                    upstream=self.name,
                )
            chunks.append(chunk)
        return b"".join(chunks)
