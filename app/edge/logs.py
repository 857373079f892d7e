"""Log lines: JSON (or console) formatting, a buffered handler, the access record.

`configure_logging` installs one buffered handler on the root logger and hands it
uvicorn's loggers, so every line of the process has one format; the edge
middleware writes one access line per request through it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any

import orjson

access_log = logging.getLogger("naap.access")

# The current request's id, for every log line written while it runs.
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

LOGGER = access_log.name


def _direct_json_handler() -> BufferedStreamHandler | None:
    """Our buffered JSON handler, when it is the access line's only destination
    and nothing (a filter, another handler, pytest's caplog) would see the record
    on the way; None otherwise, and the record takes the logging chain."""
    if access_log.handlers or access_log.filters or not access_log.propagate:
        return None
    parent = access_log.parent
    while parent is not None and parent is not logging.root:
        if parent.handlers or parent.filters or not parent.propagate:
            return None
        parent = parent.parent
    handlers = logging.root.handlers
    if len(handlers) != 1 or logging.root.filters:
        return None
    handler = handlers[0]
    if (
        type(handler) is not BufferedStreamHandler
        or type(handler.formatter) is not JsonFormatter
        or handler.filters
        or handler.level > logging.INFO
    ):
        return None
    return handler


def write_access_line(fields: dict[str, Any]) -> None:
    """One access line. Usually straight into the buffered JSON handler, formatted
    as the logging chain would (a third of the chain's cost, per request);
    through the logger when anything else may want to see the record."""
    handler = _direct_json_handler()
    if handler is None:
        access_log.info(
            "%s %s %s",
            fields["method"],
            fields["route"],
            fields["status"],
            extra={"access": fields},
        )
        return
    # Bypasses logging's record machinery (BENCHMARKS.md, "Library bypasses").
    line = {"ts": _timestamp(time.time()), "level": "info", "logger": LOGGER}
    line.update(fields)
    handler.append(orjson.dumps(line, default=str).decode())


# --- Log formatting ------------------------------------------------------------------


_second: list[Any] = [-1, ""]  # the last second formatted, and its text


def _timestamp(created: float) -> str:
    whole = int(created)
    if whole != _second[0]:  # strftime once a second, not once a line
        _second[:] = [whole, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole))]
    return f"{_second[1]}.{int(created % 1 * 1000):03d}Z"


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Access lines carry their fields; other records
    their message, the request id when logged during a request, and a traceback."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _timestamp(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
        }
        access = getattr(record, "access", None)
        if access is not None:
            line.update(access)
        else:
            line["msg"] = record.getMessage()
            rid = request_id.get()
            if rid is not None:
                line["request_id"] = rid
            if record.exc_info:
                line["exc"] = self.formatException(record.exc_info)
        return orjson.dumps(line, default=str).decode()


class ConsoleFormatter(logging.Formatter):
    """LOG_FORMAT=console: one readable line per record, for humans."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        access = getattr(record, "access", None)
        if access is None:
            text = super().format(record)
            rid = request_id.get()
            return text if rid is None else f"{text} [{rid}]"
        parts = [
            self.formatTime(record),
            "INFO access",
            access["method"],
            access["route"],
        ]
        if "operation" in access:
            parts.append(access["operation"])
        parts += [str(access["status"]), f"{access['duration_ms']}ms"]
        parts += [f"{k}={access[k]}" for k in _CONSOLE_KEYS if access.get(k)]
        return " ".join(parts)


_CONSOLE_KEYS = ("cache", "user", "client", "request_id")


class BufferedStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A StreamHandler that writes access lines in batches, like nginx's buffered
    `access_log`: one write per 64 KiB, per second (a daemon thread), at exit
    (`logging.shutdown` flushes handlers), and before any other record, which is
    written at once (startup, shutdown, errors: rare, and an incident's context is
    never held back; uvicorn re-raises SIGTERM after its last line, so a line left
    in the buffer then would be lost).

    Why: one access line per request, flushed one by one, is one write(2) per
    request on the hot path — about a third of the access log's cost. The price
    is that a process killed with SIGKILL loses up to a second of access lines.
    """

    def __init__(self, *, max_bytes: int = 64 * 1024, interval: float = 1.0) -> None:
        super().__init__()
        self.max_bytes = max_bytes
        self._lines: list[str] = []
        self._size = 0
        flusher = threading.Thread(
            target=self._flush_every, args=(interval,), name="log-flush", daemon=True
        )
        flusher.start()

    def emit(self, record: logging.LogRecord) -> None:
        # Handler.handle() holds self.lock around emit().
        try:
            line = self.format(record)
        except Exception:  # logging's contract: never raise from a handler
            self.handleError(record)
            return
        self._add(line, batch=getattr(record, "access", None) is not None)

    def append(self, line: str) -> None:
        """An INFO line already formatted (the access log's fast path). No lock:
        `list.append` is atomic, and `_write` swaps the list before joining it, so
        a line appended meanwhile by another thread is written, never lost."""
        line += self.terminator
        self._lines.append(line)
        self._size += len(line)  # approximate under threads; it only paces writes
        if self._size >= self.max_bytes:
            self.flush()

    def _add(self, line: str, *, batch: bool) -> None:
        line += self.terminator
        self._lines.append(line)
        self._size += len(line)
        if self._size >= self.max_bytes or not batch:
            self._write()

    def flush(self) -> None:
        self.acquire()
        try:
            self._write()
        finally:
            self.release()

    def _write(self) -> None:
        if not self._lines:
            return
        lines, self._lines = self._lines, []
        self._size = 0
        text = "".join(lines)
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # stream closed or broken: nowhere to log
            pass

    def _flush_every(self, interval: float) -> None:
        while True:
            time.sleep(interval)
            self.flush()


# uvicorn's loggers: its startup, shutdown and error lines ("Exception in ASGI
# application", with the traceback) on uvicorn.error, its access line on
# uvicorn.access (off when that logger has no handler: `--no-access-log`).
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")


def configure_logging(level: str, log_format: str, loggers: Iterable[str]) -> None:
    """When nobody configured logging before us (the root logger has no handler),
    the process's lines are ours: one buffered handler on the root logger with our
    formatter, at `level`; uvicorn's loggers that write through a handler of their
    own write through ours instead, and leave their level to the root's. Then
    `level` on our loggers. A setup made before us (a uvicorn `--log-config` that
    configures the root logger, pytest) is left as it is."""
    root = logging.getLogger()
    if not root.handlers:
        handler = BufferedStreamHandler()
        handler.setFormatter(
            JsonFormatter() if log_format == "json" else ConsoleFormatter()
        )
        root.addHandler(handler)
        root.setLevel(level.upper())
        for name in UVICORN_LOGGERS:
            logger = logging.getLogger(name)
            logger.setLevel(logging.NOTSET)
            if logger.handlers:  # uvicorn's plain-text handler
                for own in list(logger.handlers):
                    logger.removeHandler(own)
                logger.propagate = True
    for name in loggers:
        logging.getLogger(name).setLevel(level.upper())
