"""The server command, in one place: `make run` and `make bench` both start it.

`python scripts/serve.py` reads the settings (HOST, PORT, WORKERS, SHUTDOWN_TIMEOUT,
LOG_LEVEL, LOG_FORMAT, ...), configures logging in this process, then runs uvicorn
through its Python API: so a bad setting fails once, here, and uvicorn's lines,
the supervisor's with WORKERS > 1 included, are formatted like ours. uvicorn's own
access line is off (the edge writes one JSON line per request). PUBLIC_BASE_URL
defaults to http://HOST:PORT. `--app module:factory` serves another factory (the
benchmark's bare baseline) under exactly the same options.
"""

from __future__ import annotations

import argparse
import gc
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import uvicorn

from app.edge.logs import configure_logging
from app.settings import Settings, SettingsError, load_settings

APP = "app.main:create_app"
WS_MAX_SIZE = 64 * 1024  # bytes: a larger WebSocket message closes the socket (1009)


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Everything uvicorn is told besides which app to serve."""
    grace = settings.shutdown_timeout
    if not grace.is_integer():
        raise SettingsError(
            f"SHUTDOWN_TIMEOUT must be whole seconds (uvicorn's graceful shutdown "
            f"timeout is an integer), not {grace:g}"
        )
    return {
        "factory": True,
        "host": settings.host,
        "port": settings.port,
        "workers": settings.workers,
        "server_header": False,
        # The edge resolves the client address (TRUSTED_PROXIES); uvicorn's own
        # proxy-header middleware would trust X-Forwarded-For from 127.0.0.1 first.
        "proxy_headers": False,
        # One access line per request, the edge's (app/edge/middleware.py).
        "access_log": False,
        # uvicorn leaves logging alone: configure_logging formats its lines.
        "log_config": None,
        # In-flight requests get SHUTDOWN_TIMEOUT after SIGTERM; the app's lifespan
        # drains its background refreshes within the same time.
        "timeout_graceful_shutdown": int(grace),
        # GraphQL WebSockets: messages are small (subscriptions, their events),
        # and per-message deflate would cost ~40 KB of zlib state per socket.
        "ws_max_size": WS_MAX_SIZE,
        "ws_per_message_deflate": False,
    }


def build_app(import_string: str) -> Callable[[], Any]:
    """The factory uvicorn calls in a single process: the app imported and built
    with the garbage collector off, then `gc.freeze()`.

    Importing and building the app allocates ~150k objects that live as long as
    the process, and little garbage (~3k objects, under 1 MB: graphql-core's and
    Strawberry's temporaries). The collector's passes over that growing heap were
    ~250 ms of a cold start; a full collection before freezing, ~80 ms more. So
    the garbage is frozen with the rest, once, and later passes skip all of it.
    """

    def factory() -> Any:
        module, _, name = import_string.partition(":")
        gc.disable()
        try:
            app = getattr(importlib.import_module(module), name)()
            gc.freeze()
        except SettingsError as exc:
            # A setting only the app can judge (a persisted-operation manifest):
            # one line and exit 2, as for the others, not uvicorn's traceback.
            sys.stderr.write(f"serve: {exc}\n")
            raise SystemExit(2) from exc
        finally:
            gc.enable()
        return app

    return factory


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--app", default=APP, help=f"module:factory (default {APP})")
    parser.add_argument("--app-dir", help="a directory to import --app from")
    args = parser.parse_args(argv)
    try:
        settings = load_settings()
        options = uvicorn_options(settings)
    except SettingsError as exc:
        sys.stderr.write(f"serve: {exc}\n")
        return 2
    if not os.environ.get("PUBLIC_BASE_URL", "").strip():
        # Read by the app (OAuth redirect URIs) in every worker.
        os.environ["PUBLIC_BASE_URL"] = f"http://{settings.host}:{settings.port}"
    configure_logging(settings.log_level, settings.log_format, ())
    # Several workers import the app in their own processes, from the string.
    app = args.app if settings.workers > 1 else build_app(args.app)
    uvicorn.run(app, app_dir=args.app_dir, **options)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
