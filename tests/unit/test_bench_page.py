"""The page row's text: a table of medians, or the reason there is none."""

from __future__ import annotations

from scripts.benchmark.page import PageResult, page_lines


def test_page_row_reports_medians_of_cold_loads_and_warm_reloads() -> None:
    page = PageResult(
        cold_ms=[900.0, 700.0, 800.0],
        cold_first_ms=[500.0, 300.0, 400.0],
        warm_ms=[300.0, 250.0, 350.0],
        widgets=6,
    )
    header, _, row, _, prose = page_lines(page)
    assert "cold: all widgets ready ms" in header
    assert row == "| GET / (Chromium, 1440x1000) | 6 | 400 | 800 | 300 |"
    assert "Medians of 3 cold loads" in prose
    assert "Cold: 900, 700, 800 ms; warm: 300, 250, 350 ms." in prose


def test_no_page_row_says_why() -> None:
    page = PageResult(unavailable="page absent (404)")
    assert page_lines(page) == ["Unavailable: page absent (404). No page row."]
