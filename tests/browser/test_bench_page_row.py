"""`make bench`'s page row, run as `scripts/bench.py --page-only` against the
browser tier's server: a row when `/` is the page, its reason when it is not.
The times are reported, never asserted."""

from __future__ import annotations

import subprocess
import sys

from tests.support.browser import ROOT, ServerProcess


def test_bench_page_row_measures_the_page_or_says_why_not(
    server: ServerProcess,
) -> None:
    command = [sys.executable, "scripts/bench.py", "--page-only", "--page-loads", "1"]
    done = subprocess.run(  # noqa: S603 -- this interpreter, our arguments
        [*command, "--page-url", server.base_url, "--timeout", "20"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status = server.get("/").status_code
    if status == 404:
        assert "Unavailable: page absent (404). No page row." in done.stdout
    else:
        assert "| GET / (Chromium, 1440x1000) |" in done.stdout, done.stdout
        assert "Medians of 1 cold loads" in done.stdout
