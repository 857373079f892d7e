"""`make audit`'s command line and its summary of a Lighthouse report (no
Lighthouse run: that takes a minute and is reported, never asserted)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from scripts import audit


def test_lighthouse_runs_headless_on_the_four_categories(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("os.geteuid", lambda: 0)
    command = audit.lighthouse_command("http://127.0.0.1:1/", "desktop", Path("o"))
    assert command[2] == "http://127.0.0.1:1/"
    assert "--only-categories=performance,accessibility,best-practices,seo" in command
    assert "--no-enable-error-reporting" in command
    assert "--preset=desktop" in command
    flags = next(c for c in command if c.startswith("--chrome-flags="))
    assert "--headless=new" in flags
    assert "--no-sandbox" in flags  # as root only
    monkeypatch.setattr("os.geteuid", lambda: 1000)
    mobile = audit.lighthouse_command("http://127.0.0.1:1/", "mobile", Path("o"))
    assert not any("--preset" in c or "--no-sandbox" in c for c in mobile)


def _report() -> dict[str, Any]:
    titles = {
        "performance": "Performance",
        "accessibility": "Accessibility",
        "best-practices": "Best Practices",
        "seo": "SEO",
    }
    scores = {"performance": 0.97, "accessibility": 1, "best-practices": 0.9}
    return {
        "lighthouseVersion": "12.8.2",
        "finalDisplayedUrl": "http://127.0.0.1:1/",
        "categories": {
            key: {
                "title": title,
                "score": scores.get(key),
                "auditRefs": [{"id": f"{key}-audit", "weight": 1}],
            }
            for key, title in titles.items()
        },
        "audits": {
            "performance-audit": {"score": 1, "title": "p"},
            "accessibility-audit": {"score": None, "title": "a"},
            "best-practices-audit": {
                "score": 0,
                "title": "Browser errors were logged to the console",
                "details": {"items": [{"description": "404", "url": "/x"}]},
            },
            "seo-audit": {"score": 1, "title": "s"},
            "largest-contentful-paint": {"displayValue": "0.8 s"},
        },
    }


def test_summary_gives_each_score_against_its_target_and_what_cost_points() -> None:
    lines = audit.summary(_report(), "mobile")
    assert lines[0] == "Lighthouse 12.8.2 on http://127.0.0.1:1/ (mobile):"
    assert "  Performance: 0.97 (target >= 0.95): met" in lines
    assert "  Accessibility: 1.00 (target >= 1.00): met" in lines
    assert "  Best Practices: 0.90 (target >= 1.00): not met" in lines
    assert "  SEO: n/a (target >= 0.90): not met" in lines
    assert "  LCP 0.8 s" in lines
    assert lines[-2:] == [
        "  - best-practices: best-practices-audit (0.00): Browser errors were "
        "logged to the console",
        "      404 /x",
    ]
