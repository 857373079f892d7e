"""Input parsing and number rules, vector by vector: integers from query text,
rounding, percentages, week starts, job durations, price ratios, poll intervals."""

from __future__ import annotations

import pytest

from app import inputs
from app.errors import BadRequest
from app.jsmath import js_round, parse_int, pct
from resolvers.fees import week_start
from resolvers.jobs import running_for_text
from resolvers.pricing import output_per_dollar
from rest_facade.cache_rules import JobFeedCache, js_number, poll_seconds


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("12h", 12),
        (" 7", 7),
        ("1.9", 1),
        ("1e3", 1),
        ("abc", None),
        ("", None),
        ("-5", -5),
        ("+8", 8),
        (None, None),
        ("9" * 5000, 10**12),
        ("007", 7),
    ],
)
def test_parse_int_behaves_like_javascript(
    text: str | None, expected: int | None
) -> None:
    assert parse_int(text) == expected


@pytest.mark.parametrize(
    ("raw", "hours"),
    [
        (None, 24),
        ("72", 72),
        ("500", 168),
        ("0", 1),
        ("-3", 1),
        ("abc", 24),
        ("12h", 12),
        ("1.9", 1),
        ("", 24),
        ("1" * 10000, 168),
        ("168", 168),
    ],
)
def test_timeframe_is_clamped_to_1_168(raw: str | None, hours: int) -> None:
    assert inputs.timeframe_hours(raw) == hours


@pytest.mark.parametrize(
    ("raw", "hours"),
    [
        (None, 24),
        ("12", 12),
        ("12h", 12),
        ("2d", 48),
        ("7d", 168),
        ("0", 1),
        ("x", 24),
        ("48h", 48),
        ("8d", 168),
        (" 6H ", 6),
        ("-2d", 1),
        ("", 24),
    ],
)
def test_period_accepts_hours_and_days(raw: str | None, hours: int) -> None:
    assert inputs.period_hours(raw) == hours


def test_kpi_timeframe_wins_over_window() -> None:
    assert inputs.window_hours("2d", "6") == 6
    assert inputs.window_hours("2d", None) == 48


@pytest.mark.parametrize(
    ("hours", "window"), [(1, "1h"), (24, "24h"), (47, "47h"), (48, "2d"), (168, "7d")]
)
def test_format_window(hours: int, window: str) -> None:
    assert inputs.format_window(hours) == window


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, 5), ("200", 200), ("0", 1), ("-4", 1), ("x", 5), ("999", 200), (3, 3)],
)
def test_limit_is_clamped_to_1_200(raw: str | int | None, expected: int) -> None:
    assert inputs.limit(raw, 5) == expected


@pytest.mark.parametrize("raw", ["7", "365", " 30 ", "0180"])
def test_fees_days_accepts_integers_7_to_365(raw: str) -> None:
    assert inputs.fees_days_param(raw) == int(raw.strip())


@pytest.mark.parametrize(
    "raw",
    ["6", "366", "", "7.5", "-7", "abc", "1e2", "9" * 5000, "\uff13\uff10", "30d"],
)
def test_fees_days_rejects_anything_else(raw: str) -> None:
    with pytest.raises(BadRequest, match=r"days.*between 7 and 365"):
        inputs.fees_days_param(raw)


@pytest.mark.parametrize(
    "raw", ["a" * 129, "x y", "live<script>", "ü", "a\nb", "a;b", "a%20"]
)
def test_identifiers_reject_odd_characters(raw: str) -> None:
    with pytest.raises(BadRequest, match="pipeline"):
        inputs.identifier(raw, "pipeline")


def test_identifiers_accept_model_ids() -> None:
    model = "meta-llama/Meta-Llama-3.1-8B-Instruct"
    assert inputs.identifier(model, "model_id") == model
    assert inputs.identifier("", "model_id") is None


@pytest.mark.parametrize(
    ("raw", "seconds"),
    [
        (None, 30),
        ("999", 30),
        ("1499", 1),
        ("5000", 5),
        ("15000", 15),
        ("90000", 90),
        ("120000", 90),
        ("abc", 30),
        ("5e3", 5),
        ("0x1388", 5),
        ("Infinity", 30),
        ("", 30),
    ],
)
def test_job_feed_max_age_follows_poll_ms(raw: str | None, seconds: int) -> None:
    assert poll_seconds(raw) == seconds


def test_js_number_edge_cases() -> None:
    assert js_number(" 15000 ") == 15000
    assert js_number("1.5e3") == 1500
    assert js_number("12px") is None


def test_job_feed_headers() -> None:
    from starlette.datastructures import QueryParams

    rule = JobFeedCache()
    assert (
        rule.success(QueryParams("pollMs=15000")).header
        == "public, max-age=15, s-maxage=15, stale-while-revalidate=30"
    )
    expected = {"30000": 5, "10000": 5, "4000": 2, "1000": 2}
    for poll, s_maxage in expected.items():
        assert rule.failure(QueryParams(f"pollMs={poll}")).header == (
            f"public, max-age=0, s-maxage={s_maxage}, stale-while-revalidate=0"
        )


@pytest.mark.parametrize(
    ("avg_wei", "unit", "text"),
    [
        (2230, "pixel", "~149B pixels"),
        (2400, "pixel", "~139B pixels"),
        (9123537, "pixel", "~37M pixels"),
        (23920000, "token", "~14M tokens"),
        (38266892, "token", "~9M tokens"),
        (1e15, "second", "~0 seconds"),
        (0, "pixel", ""),
    ],
)
def test_output_per_dollar_at_3000(avg_wei: float, unit: str, text: str) -> None:
    assert output_per_dollar(avg_wei, unit, 3000) == text


@pytest.mark.parametrize(
    ("fraction", "percent"), [(0.8145, 81.5), (0.81449, 81.4), (1, 100), (0, 0)]
)
def test_pct_rounds_half_up(fraction: float, percent: float) -> None:
    assert pct(fraction) == percent


@pytest.mark.parametrize(
    ("score", "rounded"), [(84.5, 85), (84.49, 84), (2.5, 3), (-2.5, -2)]
)
def test_math_round_is_half_up(score: float, rounded: int) -> None:
    assert js_round(score) == rounded


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(23, "23s"), (67, "1m 7s"), (142.9, "2m 22s"), (3725, "1h 2m 5s"), (0, "0s")],
)
def test_running_for(seconds: float, text: str) -> None:
    assert running_for_text(seconds) == text


def test_fees_week_starts_on_monday() -> None:
    monday = 1777852800  # Mon 2026-05-04 00:00Z
    for day in range(7):
        assert week_start(monday + day * 86400 + 3600) == monday
    assert week_start(monday - 1) == monday - 7 * 86400
