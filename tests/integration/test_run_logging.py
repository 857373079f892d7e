"""The server as `make run` starts it writes one format: uvicorn's lines included.

The command is read from `make -n run` itself and started on a free loopback port,
so these tests follow the Makefile. Also: `make bench` starts that same command,
`configure_logging` hands uvicorn's loggers to our handler, and the launcher's
uvicorn options.
"""

from __future__ import annotations

import gc
import logging
import os
import shlex
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from app.edge.logs import UVICORN_LOGGERS, BufferedStreamHandler, configure_logging
from app.settings import Settings, SettingsError
from scripts.benchmark.report import kept_sections, replace_section
from scripts.benchmark.servers import BENCH_RATE_LIMITS, SERVER_ENV_KEEP, server_launch
from scripts.serve import build_app, uvicorn_options

ROOT = Path(__file__).resolve().parents[2]
STARTUP_TIMEOUT = 30.0

# A factory around the real app with one route that fails: the error uvicorn logs.
FAILING_APP = """\
from starlette.routing import Route

from app.main import create_app as create_api


async def boom(request):
    raise RuntimeError("boom")


def create_app():
    app = create_api()
    app.router.routes.append(Route("/boom", boom))
    return app
"""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def make_run_command(port: int, **variables: str) -> tuple[dict[str, str], list[str]]:
    """The server line of `make -n run PORT=port ...`: its variables and argv."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    # -n: print the recipe, run nothing (not even install or migrate).
    done = subprocess.run(  # noqa: S603  (our own make, our own Makefile)
        [
            make,
            "-s",
            "-n",
            "run",
            f"PORT={port}",
            *(f"{k}={v}" for k, v in variables.items()),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    [line] = [line for line in done.stdout.splitlines() if "scripts/serve.py" in line]
    words = shlex.split(line)
    env: dict[str, str] = {}
    while "=" in words[0]:
        name, _, value = words.pop(0).partition("=")
        env[name] = value
    return env, words


@dataclass
class Output:
    stdout: list[str]
    stderr: list[str]

    @property
    def lines(self) -> list[str]:
        return self.stdout + self.stderr

    def json(self) -> list[dict[str, Any]]:
        """Every line, each a JSON object (the test fails on any other line)."""
        objects = []
        for line in self.lines:
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                pytest.fail(f"not a JSON line: {line!r}\n" + "\n".join(self.lines))
            assert isinstance(parsed, dict), line
            objects.append(parsed)
        return objects


@contextmanager
def make_run(
    tmp_path: Path, *args: str, **variables: str
) -> Iterator[tuple[str, Output]]:
    """The server of `make run` on a free port (its own SQLite file, the caller's
    LOG_* variables dropped); yields its URL, then its output once it stopped."""
    port = _free_port()
    make_env, argv = make_run_command(port, **variables)
    env = {k: v for k, v in os.environ.items() if not k.startswith("LOG_")}
    env.update(make_env)
    env.update(variables)
    env["DATABASE_URL"] = f"sqlite+aiosqlite:///{tmp_path / 'naap.db'}"
    out, err = tmp_path / "stdout.log", tmp_path / "stderr.log"
    output = Output([], [])
    with out.open("wb") as stdout, err.open("wb") as stderr:
        process = subprocess.Popen(  # noqa: S603  (the Makefile's own command)
            [*argv, *args], cwd=ROOT, env=env, stdout=stdout, stderr=stderr
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, base_url, err)
        yield base_url, output
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        output.stdout[:] = out.read_text().splitlines()
        output.stderr[:] = err.read_text().splitlines()


def _wait_until_up(process: subprocess.Popen[bytes], base_url: str, log: Path) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the server exited ({process.returncode}): {log.read_text()}")
        try:
            if httpx.get(base_url + "/readyz", timeout=1.0).status_code < 600:
                return
        except httpx.TransportError:
            time.sleep(0.05)
    pytest.fail(f"the server did not answer within {STARTUP_TIMEOUT} s")


def _messages(lines: list[dict[str, Any]], logger: str) -> list[str]:
    return [line["msg"] for line in lines if line["logger"] == logger]


@pytest.mark.slow
def test_make_run_writes_json_lines_only_and_one_access_line_per_request(
    tmp_path: Path,
) -> None:
    with make_run(tmp_path) as (base_url, output):
        for _ in range(2):
            assert httpx.get(base_url + "/healthz").status_code == 200

    lines = output.json()
    access = [line for line in lines if line["logger"] == "naap.access"]
    # One line per request: the readiness probe that found the server up, then ours.
    assert [a["route"] for a in access] == ["/readyz", "/healthz", "/healthz"]
    assert [a["status"] for a in access[1:]] == [200, 200]
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    uvicorn = _messages(lines, "uvicorn.error")
    started = [m for m in uvicorn if m.startswith("Started server process [")]
    assert len(started) == 1
    assert "Application startup complete." in uvicorn
    # Written although uvicorn re-raises SIGTERM right after it (no atexit flush).
    assert uvicorn[-1].startswith("Finished server process [")
    assert {line["level"] for line in lines} == {"info"}


@pytest.mark.slow
def test_make_runs_server_leaves_forwarded_addresses_to_the_edge(
    tmp_path: Path,
) -> None:
    # uvicorn's own proxy-header handling trusts X-Forwarded-For from 127.0.0.1;
    # only TRUSTED_PROXIES may (the edge's rule), and none is set here.
    with make_run(tmp_path) as (base_url, output):
        headers = {"x-forwarded-for": "203.0.113.9", "x-forwarded-proto": "https"}
        assert httpx.get(base_url + "/healthz", headers=headers).status_code == 200
    access = [line for line in output.json() if line["logger"] == "naap.access"]
    assert access[-1]["route"] == "/healthz"
    assert access[-1]["client"] == "127.0.0.1"


@pytest.mark.slow
def test_an_error_uvicorn_logs_is_one_json_line_with_its_traceback(
    tmp_path: Path,
) -> None:
    (tmp_path / "failing_app.py").write_text(FAILING_APP)
    with make_run(
        tmp_path, "--app", "failing_app:create_app", "--app-dir", str(tmp_path)
    ) as (base_url, output):
        assert httpx.get(base_url + "/boom").status_code == 500

    lines = output.json()
    [error] = [line for line in lines if line["level"] == "error"]
    assert error["logger"] == "uvicorn.error"
    assert error["msg"].strip() == "Exception in ASGI application"
    assert error["exc"].startswith("Traceback (most recent call last):")
    assert error["exc"].endswith("RuntimeError: boom")
    [access] = [line for line in lines if line.get("route") == "/boom"]
    assert access["status"] == 500


@pytest.mark.slow
def test_the_supervisors_lines_are_json_too_with_several_workers(
    tmp_path: Path,
) -> None:
    with make_run(tmp_path, WORKERS="2") as (base_url, output):
        assert httpx.get(base_url + "/healthz").status_code == 200

    uvicorn = _messages(output.json(), "uvicorn.error")
    assert any(m.startswith("Started parent process [") for m in uvicorn)
    assert len([m for m in uvicorn if m.startswith("Started server process")]) == 2
    assert any(m.startswith("Stopping parent process [") for m in uvicorn)


@pytest.mark.slow
def test_log_format_console_formats_uvicorns_lines_too(tmp_path: Path) -> None:
    with make_run(tmp_path, LOG_FORMAT="console") as (base_url, output):
        assert httpx.get(base_url + "/healthz").status_code == 200

    assert output.lines
    assert not [line for line in output.lines if line.startswith("{")]
    assert any(
        " INFO uvicorn.error Started server process [" in line for line in output.lines
    )
    assert any(" INFO access GET /healthz 200 " in line for line in output.lines)


@pytest.mark.slow
def test_log_level_warning_quiets_uvicorns_info_lines(tmp_path: Path) -> None:
    with make_run(tmp_path, LOG_LEVEL="warning") as (base_url, output):
        assert httpx.get(base_url + "/healthz").status_code == 200

    assert output.lines == []


# --- in process -----------------------------------------------------------------------


@contextmanager
def bare_logging() -> Iterator[None]:
    """No handler on the root logger (pytest's set aside) and uvicorn's loggers as
    its default configuration leaves them with `--no-access-log`; all restored."""
    root = logging.getLogger()
    theirs, root_level = root.handlers[:], root.level
    for handler in theirs:
        root.removeHandler(handler)
    saved = {}
    for name in (*UVICORN_LOGGERS, "naap"):
        logger = logging.getLogger(name)
        saved[name] = (logger.handlers[:], logger.propagate, logger.level)
    uvicorn = logging.getLogger("uvicorn")
    uvicorn.handlers = [logging.StreamHandler()]
    uvicorn.propagate = False
    uvicorn.setLevel(logging.INFO)
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)
    access = logging.getLogger("uvicorn.access")
    access.handlers = []
    access.propagate = False
    try:
        yield
    finally:
        for handler in root.handlers[:]:
            root.removeHandler(handler)
        for handler in theirs:
            root.addHandler(handler)
        root.setLevel(root_level)
        for name, (handlers, propagate, level) in saved.items():
            logger = logging.getLogger(name)
            logger.handlers = handlers
            logger.propagate = propagate
            logger.setLevel(level)


def test_configure_logging_hands_uvicorns_loggers_to_our_handler() -> None:
    with bare_logging():
        configure_logging("warning", "json", ("naap",))

        [handler] = logging.root.handlers
        assert type(handler) is BufferedStreamHandler
        assert logging.root.level == logging.WARNING
        uvicorn = logging.getLogger("uvicorn")
        assert (uvicorn.handlers, uvicorn.propagate) == ([], True)
        # LOG_LEVEL, through the root logger.
        assert logging.getLogger("uvicorn.error").getEffectiveLevel() == logging.WARNING
        # uvicorn's access line stays off: uvicorn writes it only when that logger
        # has a handler up its chain.
        assert not logging.getLogger("uvicorn.access").hasHandlers()
        assert logging.getLogger("naap").level == logging.WARNING


def test_configure_logging_leaves_a_setup_made_before_it_alone() -> None:
    with bare_logging():
        theirs = logging.StreamHandler()
        logging.root.addHandler(theirs)

        configure_logging("debug", "json", ("naap",))

        assert logging.root.handlers == [theirs]
        assert logging.getLogger("uvicorn").propagate is False
        assert logging.getLogger("naap").level == logging.DEBUG


def test_the_launcher_gives_uvicorn_and_the_app_the_same_shutdown_timeout() -> None:
    options = uvicorn_options(Settings(shutdown_timeout=7))
    assert options["timeout_graceful_shutdown"] == 7
    assert options["access_log"] is False
    assert options["log_config"] is None


def test_the_launcher_keeps_websockets_small() -> None:
    options = uvicorn_options(Settings())
    assert options["ws_max_size"] == 64 * 1024
    assert options["ws_per_message_deflate"] is False


def test_the_launcher_builds_the_app_with_the_collector_off_then_on_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "gc_probe.py").write_text(
        "import gc\n\n\ndef create_app():\n"
        "    return {'collector on': gc.isenabled()}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        assert build_app("gc_probe:create_app")() == {"collector on": False}
        assert gc.isenabled()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # the rest of the session collects as before


def test_the_launcher_refuses_a_shutdown_timeout_uvicorn_cannot_take() -> None:
    with pytest.raises(SettingsError, match="SHUTDOWN_TIMEOUT must be whole seconds"):
        uvicorn_options(Settings(shutdown_timeout=7.5))


def test_the_bench_starts_make_runs_command_with_only_the_rate_limits_changed() -> None:
    if not (ROOT / ".venv" / "bin" / "python").exists():
        pytest.skip("no ./.venv: make run's interpreter")
    port = _free_port()
    make_env, make_argv = make_run_command(port)
    argv, env = server_launch(port)
    assert argv == [str(ROOT / make_argv[0]), *make_argv[1:]]
    assert {name: env[name] for name in make_env} == make_env
    others = set(env) - set(make_env) - set(SERVER_ENV_KEEP)
    assert (
        others
        == set(BENCH_RATE_LIMITS)
        == {
            "RATE_LIMIT_PUBLIC",
            "RATE_LIMIT_UPSTREAM",
        }
    )


def test_the_bench_report_keeps_hand_written_sections(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(
        "# naap-api benchmarks\n\n## Results\n\nold table\n\n"
        "## Before and after a change\n\nby hand\n"
    )
    assert kept_sections(report) == "\n## Before and after a change\n\nby hand\n"
    assert kept_sections(tmp_path / "absent.md") == ""


def test_the_push_rows_replace_their_own_section_only(tmp_path: Path) -> None:
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(
        "# naap-api benchmarks\n\n## Results\n\ntable\n\n"
        "## How to read this\n\nratios\n\n## By hand\n\nkept\n"
    )
    replace_section(report, "Push", "## Push\n\nfirst\n")
    replace_section(report, "Push", "## Push\n\nsecond\n")
    assert report.read_text() == (
        "# naap-api benchmarks\n\n## Results\n\ntable\n\n## Push\n\nsecond\n\n"
        "## How to read this\n\nratios\n\n## By hand\n\nkept\n"
    )
    absent = tmp_path / "new.md"
    replace_section(absent, "Push", "## Push\n\nrows\n")
    assert "## Push\n\nrows\n" in absent.read_text()
