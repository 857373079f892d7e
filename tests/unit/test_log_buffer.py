"""BufferedStreamHandler: access lines are written in batches, never lost or held
back when it matters (any other line, a full buffer, a second passing, exit)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import httpx
import orjson
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from app.edge.logs import BufferedStreamHandler, JsonFormatter, access_log
from app.edge.middleware import ObservabilityMiddleware
from app.ratelimit import RateLimiter
from tests.support.app import make_settings


@pytest.fixture
def logger() -> Iterator[tuple[logging.Logger, io.StringIO, BufferedStreamHandler]]:
    stream = io.StringIO()
    handler = BufferedStreamHandler(max_bytes=1024, interval=0.2)
    handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    log = logging.getLogger("naap.test-buffer")
    log.propagate = False
    log.setLevel(logging.INFO)
    log.addHandler(handler)
    try:
        yield log, stream, handler
    finally:
        log.removeHandler(handler)
        log.propagate = True


def _access(log: logging.Logger, route: str) -> None:
    log.info("%s", route, extra={"access": {"route": route}})


def test_access_lines_wait_for_the_batch(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, handler = logger
    _access(log, "one")
    _access(log, "two")
    assert stream.getvalue() == ""  # buffered: no write per line
    handler.flush()
    lines = [orjson.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["route"] for line in lines] == ["one", "two"]


@pytest.mark.parametrize("level", [logging.INFO, logging.WARNING])
def test_any_other_line_writes_everything_before_it_at_once(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler], level: int
) -> None:
    """Startup, shutdown and error lines are not held back: uvicorn re-raises
    SIGTERM right after its last line, which a buffer would lose."""
    log, stream, _ = logger
    _access(log, "context")
    log.log(level, "Finished server process")
    text = stream.getvalue()
    assert text.index("context") < text.index("Finished server process")


def test_a_full_buffer_is_written(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, _ = logger
    for i in range(40):  # ~70 bytes a line: past the 1 KiB buffer
        _access(log, f"line {i}")
    assert stream.getvalue().count("\n") >= 10


def test_an_idle_buffer_is_written_within_the_interval(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, _ = logger
    _access(log, "last request before a quiet spell")
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "quiet spell" in stream.getvalue()


async def test_the_access_fast_path_writes_what_the_logging_chain_would(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """In production the access line skips the logging chain (one JSON handler is
    its only destination); the line must be the same either way."""
    stream = io.StringIO()
    handler = BufferedStreamHandler()
    handler.setStream(stream)
    handler.setFormatter(JsonFormatter())
    monkeypatch.setattr(logging.root, "handlers", [handler])  # pytest's go aside
    monkeypatch.setattr(access_log, "level", logging.INFO)

    async def ok(_request: Request) -> PlainTextResponse:
        return PlainTextResponse("ok", headers={"x-cache": "HIT"})

    settings = make_settings()
    app = ObservabilityMiddleware(
        Starlette(routes=[Route("/things/{id}", ok)]),
        settings=settings,
        limiter=RateLimiter(settings),
        error_body=lambda _path, _error: b"{}",
        graphql_label=lambda scope, parts: "",
        deadline=1.0,
    )
    transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 1234))
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
        await http.get("/things/1", headers={"x-request-id": "fast"})
        handler.flush()
        fast = stream.getvalue()
        stream.truncate(0)
        stream.seek(0)
        access_log.addFilter(_keep)  # a filter: the record must take the chain
        try:
            await http.get("/things/2", headers={"x-request-id": "slow"})
        finally:
            access_log.removeFilter(_keep)
        handler.flush()
        slow = stream.getvalue()

    def comparable(text: str) -> dict[str, object]:
        line: dict[str, object] = orjson.loads(text)
        assert str(line.pop("ts")).endswith("Z")
        assert isinstance(line.pop("duration_ms"), float)
        assert line.pop("request_id") in ("fast", "slow")
        return line

    assert fast.count("\n") == slow.count("\n") == 1
    assert (
        comparable(fast)
        == comparable(slow)
        == {
            "level": "info",
            "logger": "naap.access",
            "method": "GET",
            "route": "/things/{id}",
            "status": 200,
            "cache": "HIT",
            "user": None,
            "client": "203.0.113.9",
        }
    )


def _keep(_record: logging.LogRecord) -> bool:
    return True
