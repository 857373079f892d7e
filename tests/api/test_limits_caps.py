"""Request size caps: 413 (body), 414 (query string), 431 (headers), before parsing,
in the route's envelope, on REST, /graphql and unknown paths."""

from __future__ import annotations

from collections.abc import AsyncIterator, MutableMapping
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from tests.support.app import Clock, auth, serve

MAX_BODY = 2048
KPI = "/api/v1/dashboard/kpi"
KEYS = "/api/v1/developer/keys"


@pytest.fixture
def capped(settings: Settings, simulator: Starlette, clock: Clock) -> Starlette:
    """The production caps for query string and headers (the suite's defaults
    raise the first), and a small body cap."""
    defaults = Settings.model_fields
    limited = settings.model_copy(
        update={
            "max_body_bytes": MAX_BODY,
            "max_query_string_bytes": defaults["max_query_string_bytes"].default,
            "max_header_bytes": defaults["max_header_bytes"].default,
        }
    )
    return create_app(limited, simulator=simulator, clock=clock)


@pytest.fixture
async def client(capped: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(capped) as http:
        yield http


def error_code(response: httpx.Response) -> str:
    body: dict[str, Any] = response.json()
    if "errors" in body:
        code: str = body["errors"][0]["extensions"]["code"]
        return code
    return str(body["error"]["code"])


@pytest.mark.parametrize("path", [KPI, "/graphql", KEYS, "/nowhere"])
async def test_a_declared_body_over_the_cap_is_413_before_the_app_reads_it(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.post(
        path,
        content=b"x" * (MAX_BODY + 1),
        headers={"content-type": "application/json", **auth()},
    )
    assert response.status_code == 413
    assert error_code(response) == "PAYLOAD_TOO_LARGE"
    assert f"limit is {MAX_BODY} bytes" in response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-request-id"]  # still a normal response of ours


async def test_a_declared_length_over_the_cap_is_refused_without_receiving(
    capped: Starlette,
) -> None:
    """Straight through ASGI: the app must not call `receive` at all."""
    received: list[object] = []
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> dict[str, Any]:
        received.append(1)
        return {"type": "http.request", "body": b"x", "more_body": True}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/graphql",
        "raw_path": b"/graphql",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", str(10 * MAX_BODY).encode())],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    await capped(scope, receive, send)
    assert sent[0]["status"] == 413
    assert (b"connection", b"close") in sent[0]["headers"]
    assert received == []


async def test_a_chunked_body_is_refused_at_the_chunk_that_passes_the_cap(
    client: httpx.AsyncClient,
) -> None:
    sent: list[int] = []

    async def chunks() -> AsyncIterator[bytes]:
        for index in range(100):
            sent.append(index)
            yield b'{"query": "' if index == 0 else b"a" * 512

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert error_code(response) == "PAYLOAD_TOO_LARGE"
    assert "content-length" not in response.request.headers
    # 11 bytes + 4 x 512 = 2059 > 2048: the fifth chunk is the last one read.
    assert len(sent) == 5


async def test_a_chunked_body_under_the_cap_reaches_the_app(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield b'{"query": "{ protocol '
        yield b'{ currentRound } }"}'

    response = await client.post(
        "/graphql", content=chunks(), headers={"content-type": "application/json"}
    )
    assert response.status_code == 200, response.text
    assert "currentRound" in response.json()["data"]["protocol"]


async def test_a_chunked_body_on_a_rest_write_is_refused_in_its_envelope(
    client: httpx.AsyncClient,
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(10):
            yield b" " * 1000

    response = await client.post(
        KEYS, content=chunks(), headers={"content-type": "application/json", **auth()}
    )
    assert response.status_code == 413
    body = response.json()
    assert body["success"] is False  # the developer API's standard envelope
    assert body["error"]["code"] == "PAYLOAD_TOO_LARGE"


@pytest.mark.parametrize("path", [KPI, "/graphql", "/nowhere"])
async def test_a_query_string_over_4_kb_is_414(
    client: httpx.AsyncClient, path: str
) -> None:
    response = await client.get(f"{path}?timeframe={'9' * 4096}")
    assert response.status_code == 414
    assert error_code(response) == "URI_TOO_LONG"
    assert "limit is 4096 bytes" in response.text


async def test_a_query_string_at_the_cap_is_served(client: httpx.AsyncClient) -> None:
    query = "timeframe=24&pipeline=" + "a" * (4096 - len("timeframe=24&pipeline="))
    response = await client.get(f"{KPI}?{query}")
    assert response.status_code != 414


@pytest.mark.parametrize("path", [KPI, "/graphql", "/nowhere"])
async def test_headers_over_16_kb_are_431(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path, headers={"x-padding": "p" * 16_384})
    assert response.status_code == 431
    assert error_code(response) == "HEADERS_TOO_LARGE"


async def test_rest_refusals_use_the_route_envelope(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{KPI}?timeframe={'9' * 5000}")
    assert response.json() == {
        "error": {
            "code": "URI_TOO_LONG",
            "message": "Query string too long: the limit is 4096 bytes",
        }
    }


async def test_refusals_are_counted_by_reason(client: httpx.AsyncClient) -> None:
    before = await client.get("/metrics")
    await client.get(f"{KPI}?timeframe={'9' * 5000}")
    after = await client.get("/metrics")
    metric = 'naap_http_refused_total{reason="uri_too_long"}'
    assert _value(after.text, metric) == _value(before.text, metric) + 1


def _value(text: str, sample: str) -> float:
    for line in text.splitlines():
        if line.startswith(sample + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0
