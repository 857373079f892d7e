"""BufferedStreamHandler: access lines are written in batches, never lost or held
back when it matters (a warning, a full buffer, a second passing, exit)."""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Iterator

import pytest

from app.observability import BufferedStreamHandler, JsonFormatter


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


def test_info_lines_wait_for_the_batch(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, handler = logger
    log.info("one")
    log.info("two")
    assert stream.getvalue() == ""  # buffered: no write per line
    handler.flush()
    lines = stream.getvalue().splitlines()
    assert [line.split('"msg":"')[1][:3] for line in lines] == ["one", "two"]


def test_a_warning_writes_everything_before_it_at_once(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, _ = logger
    log.info("context")
    log.warning("incident")
    text = stream.getvalue()
    assert text.index("context") < text.index("incident")


def test_a_full_buffer_is_written(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, _ = logger
    for i in range(40):  # ~70 bytes a line: past the 1 KiB buffer
        log.info("line %d", i)
    assert stream.getvalue().count("\n") >= 10


def test_an_idle_buffer_is_written_within_the_interval(
    logger: tuple[logging.Logger, io.StringIO, BufferedStreamHandler],
) -> None:
    log, stream, _ = logger
    log.info("last request before a quiet spell")
    deadline = time.monotonic() + 5
    while not stream.getvalue() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert "quiet spell" in stream.getvalue()
