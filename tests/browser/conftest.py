"""Browser tier: Playwright driving Debian's chromium (never `playwright install`).

One server process per session, one browser per test module; each test gets a
fresh context and page whose console errors, page errors and requests are
recorded, with every request that leaves loopback blocked and counted. Without
/usr/bin/chromium the tier skips with the reason, or fails under CI=true.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.axe import axe_script
from tests.support.browser import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PageLog,
    ServerProcess,
    chromium_missing,
)

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
# Contexts open at 1440 x 1000 in the dark scheme (the page's own default;
# Chromium's would be light) unless a test says otherwise.
CONTEXT = {"viewport": {"width": 1440, "height": 1000}, "color_scheme": "dark"}


def _require_chromium() -> None:
    reason = chromium_missing()
    if reason is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"browser tests must run in CI: {reason}")
        pytest.skip(reason)


# Per module, not per session: Playwright's sync API keeps its event loop set as
# the thread's running loop while it is open, and every asyncio test that the
# same (xdist) process runs after a browser module would fail ("Cannot run the
# event loop while another loop is running").
@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=list(CHROMIUM_ARGS)
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    """The server, started once (after the browser check, so a machine without
    Chromium starts nothing)."""
    _require_chromium()
    process = ServerProcess(tmp_path_factory.mktemp("browser-server")).start()
    yield process
    process.stop()


@pytest.fixture
def page_log() -> PageLog:
    return PageLog()


@pytest.fixture
def open_page(
    chromium: Any, server: ServerProcess, page_log: PageLog
) -> Iterator[Callable[..., Any]]:
    """`open_page(**context_options)`: a fresh context (CONTEXT unless told) and
    its page, watched by `page_log`; closed, and faults cleared, after."""
    contexts: list[Any] = []

    def make(**options: Any) -> Any:
        context = chromium.new_context(**{**CONTEXT, **options})
        contexts.append(context)
        page = context.new_page()
        page_log.watch(context, page)
        return page

    yield make
    for context in contexts:
        context.close()
    server.clear_faults()


@pytest.fixture
def page(open_page: Callable[..., Any]) -> Any:
    """A fresh context and page (CONTEXT), watched; faults cleared after."""
    return open_page()


@pytest.fixture(scope="session")
def axe() -> Path:
    """axe-core's script, fetched from npm once (pinned, integrity-checked)."""
    return axe_script()


@pytest.fixture
def artifacts() -> Path:
    """Where screenshots go (git-ignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
