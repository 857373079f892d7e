"""The browser tier's harness shares its processes with the other tiers: an
asyncio test that runs after a browser module in the same process still runs."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.browser import ROOT

ASYNC_TEST = "tests/unit/test_auth.py::test_valid_hs256_token_gives_principal"


@pytest.mark.slow  # a pytest process with its own server and Chromium
def test_asyncio_tests_run_after_a_browser_module() -> None:
    pytest = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    done = subprocess.run(  # noqa: S603 -- this interpreter, our arguments
        [*pytest, "tests/browser/test_graphiql_page.py", ASYNC_TEST],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "2 passed" in done.stdout
