"""Ending streams when the server is told to stop, not when its grace runs out.

On SIGTERM uvicorn stops accepting and waits up to its graceful-shutdown timeout
for open responses to finish before it runs the app's lifespan shutdown; an event
stream never finishes by itself, so every stop would cost that whole timeout. So,
while the app runs, the handler uvicorn installed for SIGTERM and SIGINT is
chained with one that tells the hub at once: streams end with their `retry:`,
pollers stop and leases are released, and uvicorn's wait ends within moments.
Only a handler someone installed is chained (a server's); the interpreter's
defaults are left alone, so an app run in tests never touches signals.
"""

from __future__ import annotations

import asyncio
import signal
import threading
from collections.abc import Callable
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)
_DEFAULTS: tuple[Any, ...] = (
    signal.SIG_DFL,
    signal.SIG_IGN,
    None,
    signal.default_int_handler,
)


def chain_stop_signals(on_stop: Callable[[], None]) -> Callable[[], None]:
    """Call `on_stop` in this event loop after the installed handler of each stop
    signal; returns what undoes it."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None
    loop = asyncio.get_running_loop()
    chained: dict[int, tuple[Any, Any]] = {}
    for sig in SIGNALS:
        previous = signal.getsignal(sig)
        if previous in _DEFAULTS or not callable(previous):
            continue

        def handler(
            signum: int, frame: FrameType | None, previous: Any = previous
        ) -> None:
            previous(signum, frame)
            loop.call_soon_threadsafe(on_stop)

        signal.signal(sig, handler)
        chained[sig] = (previous, handler)

    def undo() -> None:
        for sig, (previous, handler) in chained.items():
            if signal.getsignal(sig) is handler:
                signal.signal(sig, previous)

    return undo
