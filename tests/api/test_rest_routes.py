"""The REST facade's nine public dashboard routes, end to end through ASGI.

Happy paths (status, body shape, headers, Cache-Control), parity with `/graphql`
for every row of `ROUTES`, query-parameter clamps and 400s, the cache bypass,
404/405/HEAD, request ids, security headers, CORS and the data-source label.

The app's simulator is wrapped in a recorder, so a test can see exactly which
upstream requests (path, query, body) a route made.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from starlette.applications import Starlette

from app.inputs import FEES_DAYS_MESSAGE
from app.main import create_app
from app.settings import Settings
from rest_facade.routes import ROUTES as ALL_ROUTES
from rest_facade.routes import RestRoute
from tests.support.app import Clock
from tests.support.recorder import Recorder

PREFIX = "/api/v1/dashboard/"
OPERATIONS = Path(__file__).resolve().parents[2] / "rest_facade" / "operations"
DASHBOARD_CACHE = "public, max-age=60, s-maxage=3600, stale-while-revalidate=7200"
SECURITY = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "strict-origin-when-cross-origin",
}
HUGE = "9" * 10_000
ARABIC_72 = "%D9%A7%D9%A2"  # "٧٢": Unicode digits, which parseInt does not read

# This file covers the nine public dashboard routes; the Developer API's rows
# have their own tests (tests/api/test_developer_api.py).
ROUTES = tuple(r for r in ALL_ROUTES if r.path.startswith("/api/v1/dashboard/"))


# --- a recording simulator ---------------------------------------------------------


@pytest.fixture
def recorder(simulator: Starlette) -> Recorder:
    return Recorder(simulator)


@pytest.fixture
def app(settings: Settings, recorder: Recorder, clock: Clock) -> Starlette:
    """conftest's `app`, with the simulator behind the recorder."""
    return create_app(settings, simulator=recorder, clock=clock)


def calls(simulator: Starlette) -> dict[str, int]:
    counter: dict[str, int] = simulator.state.calls
    return counter


def document(row: RestRoute) -> str:
    return (OPERATIONS / f"{row.operation}.graphql").read_text(encoding="utf-8")


def problems_of_bad_request(response: httpx.Response, param: str) -> list[str]:
    """Why `response` is not the documented 400 naming `param` ([] when it is)."""
    if response.status_code != 400:
        return [f"status {response.status_code}: {response.text[:120]}"]
    body = response.json()
    error = body.get("error") if isinstance(body, dict) else None
    found = []
    if not isinstance(error, dict) or set(body) != {"error"}:
        return [f"body {body!r}"]
    if error.get("code") != "BAD_REQUEST":
        found.append(f"code {error.get('code')!r}")
    if param not in str(error.get("message")):
        found.append(f"message {error.get('message')!r} does not name {param}")
    if response.headers.get("cache-control") != "no-store":
        found.append(f"cache-control {response.headers.get('cache-control')!r}")
    if "x-data-source" in response.headers:
        found.append("x-data-source on a response built from no upstream")
    return found


# --- the route table ------------------------------------------------------------------
def test_route_table_has_exactly_the_nine_public_dashboard_routes() -> None:
    assert [row.path.removeprefix(PREFIX) for row in ROUTES] == [
        "kpi",
        "pipelines",
        "pipeline-catalog",
        "orchestrators",
        "protocol",
        "gpu-capacity",
        "pricing",
        "fees",
        "job-feed",
    ]
    assert all(row.methods == ("GET",) for row in ROUTES)


# --- happy paths -------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Shape:
    keys: frozenset[str]  # a dict body's keys, or a list body's row keys
    is_list: bool = False
    non_empty: tuple[str, ...] = ()  # list-valued keys the simulator always fills
    cache: str = DASHBOARD_CACHE


def _shape(
    *keys: str,
    is_list: bool = False,
    non_empty: tuple[str, ...] = (),
    cache: str = DASHBOARD_CACHE,
) -> Shape:
    return Shape(frozenset(keys), is_list, non_empty, cache)


SHAPES: dict[str, Shape] = {
    "kpi": _shape(
        "successRate",
        "orchestratorsObserved",
        "dailyUsageMins",
        "dailySessionCount",
        "dailyNetworkFeesEth",
        "timeframeHours",
        "hourlySessions",
        "hourlyUsage",
        "requests",
        non_empty=("hourlySessions", "hourlyUsage"),
    ),
    "pipelines": _shape("streaming", "requests", non_empty=("streaming",)),
    "pipeline-catalog": _shape("id", "name", "models", "regions", is_list=True),
    "orchestrators": _shape(
        "address",
        "uris",
        "lastSeen",
        "knownSessions",
        "successSessions",
        "successRatio",
        "effectiveSuccessRate",
        "noSwapRatio",
        "slaScore",
        "pipelines",
        "pipelineModels",
        "gpuCount",
        is_list=True,
    ),
    "protocol": _shape(
        "currentRound", "blockProgress", "totalBlocks", "totalStakedLPT"
    ),
    "gpu-capacity": _shape(
        "totalGPUs",
        "activeGPUs",
        "availableCapacity",
        "models",
        "pipelineGPUs",
        non_empty=("models", "pipelineGPUs"),
    ),
    "pricing": _shape(
        "pipeline",
        "model",
        "unit",
        "price",
        "avgWeiPerUnit",
        "pixelsPerUnit",
        "outputPerDollar",
        "capacity",
        is_list=True,
    ),
    "fees": _shape(
        "totalEth",
        "totalUsd",
        "oneDayVolumeUsd",
        "oneDayVolumeEth",
        "oneWeekVolumeUsd",
        "oneWeekVolumeEth",
        "volumeChangeUsd",
        "volumeChangeEth",
        "weeklyVolumeChangeUsd",
        "weeklyVolumeChangeEth",
        "dayData",
        "weeklyData",
        non_empty=("dayData", "weeklyData"),
    ),
    "job-feed": _shape(
        "streams",
        "clickhouseConfigured",
        "queryFailed",
        non_empty=("streams",),
        cache="public, max-age=30, s-maxage=30, stale-while-revalidate=60",
    ),
}


def test_every_route_has_a_shape() -> None:
    assert {PREFIX + name for name in SHAPES} == {row.path for row in ROUTES}


@pytest.mark.parametrize("name", list(SHAPES))
async def test_route_answers_200_json_of_the_documented_shape(
    client: httpx.AsyncClient, name: str
) -> None:
    response = await client.get(PREFIX + name)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-data-source"] == "simulator"
    shape = SHAPES[name]
    assert response.headers["cache-control"] == shape.cache
    body = response.json()
    if shape.is_list:
        assert isinstance(body, list)
        assert body, "the simulator has rows for this route"
        assert all(set(row) == shape.keys for row in body)
    else:
        assert isinstance(body, dict)
        assert set(body) == shape.keys
        for key in shape.non_empty:
            assert isinstance(body[key], list)
            assert body[key], key


async def test_kpi_defaults_to_a_24_hour_window(client: httpx.AsyncClient) -> None:
    body = (await client.get(PREFIX + "kpi")).json()
    assert body["timeframeHours"] == 24


async def test_job_feed_reports_a_working_feed(client: httpx.AsyncClient) -> None:
    body = (await client.get(PREFIX + "job-feed")).json()
    assert body["queryFailed"] is False
    assert body["clickhouseConfigured"] is True


def _job_feed_cache(seconds: int) -> str:
    return (
        f"public, max-age={seconds}, s-maxage={seconds}, "
        f"stale-while-revalidate={2 * seconds}"
    )


# (label, query string, expected max-age/s-maxage in seconds)
POLL_VECTORS: list[tuple[str, str, int]] = [
    ("absent", "", 30),
    ("15000", "pollMs=15000", 15),
    ("2500 rounds up", "pollMs=2500", 3),
    ("1000", "pollMs=1000", 1),
    ("below 1 s", "pollMs=500", 30),
    ("negative", "pollMs=-15000", 30),
    ("non-numeric", "pollMs=abc", 30),
    ("empty", "pollMs=", 30),
    ("above 90 s", "pollMs=600000", 90),
    ("exponent", "pollMs=1e9", 90),
]


async def test_job_feed_cache_control_follows_poll_ms(
    client: httpx.AsyncClient,
) -> None:
    mismatches: list[tuple[object, ...]] = []
    for label, query, seconds in POLL_VECTORS:
        response = await client.get(f"{PREFIX}job-feed?{query}")
        got = response.headers.get("cache-control")
        if response.status_code != 200 or got != _job_feed_cache(seconds):
            mismatches.append((label, query, response.status_code, got))
    assert mismatches == []


# --- parity with /graphql ----------------------------------------------------------
# Per route: (query parameters, the GraphQL variables they must become).
Case = tuple[dict[str, str], dict[str, Any]]
PARITY: dict[str, list[Case]] = {
    "kpi": [
        ({}, {}),
        ({"timeframe": "72"}, {"timeframe": "72"}),
        ({"timeframe": "500"}, {"timeframe": "168"}),
        (
            {
                "timeframe": "12h",
                "pipeline": "live-video-to-video",
                "model_id": "streamdiffusion-sdxl",
            },
            {
                "timeframe": "12",
                "pipeline": "live-video-to-video",
                "model_id": "streamdiffusion-sdxl",
            },
        ),
        ({"pipeline": "", "model_id": ""}, {}),
    ],
    "pipelines": [
        ({}, {}),
        ({"limit": "200"}, {"limit": 200}),
        ({"limit": "0", "timeframe": "2"}, {"limit": 1, "timeframe": "2"}),
        ({"limit": "x", "timeframe": "500"}, {"limit": 5, "timeframe": "168"}),
    ],
    "pipeline-catalog": [({}, {}), ({"foo": "bar"}, {})],
    "orchestrators": [
        ({}, {}),
        ({"period": "2d"}, {"period": "48h"}),
        ({"period": "12"}, {"period": "12h"}),
        ({"period": "x"}, {"period": "24h"}),
        ({"period": "1h"}, {"period": "1h"}),
    ],
    "protocol": [({}, {})],
    "gpu-capacity": [({}, {}), ({"timeframe": "72"}, {"timeframe": "72"})],
    "pricing": [({}, {})],
    "fees": [
        ({}, {}),
        ({"days": "30"}, {"days": 30}),
        ({"days": "7"}, {"days": 7}),
        ({"days": "365"}, {"days": 365}),
    ],
    "job-feed": [({}, {}), ({"pollMs": "15000"}, {})],
}


def test_every_route_has_parity_cases() -> None:
    assert {PREFIX + name for name in PARITY} == {row.path for row in ROUTES}


@pytest.mark.parametrize("row", ROUTES, ids=[row.path for row in ROUTES])
async def test_rest_body_equals_graphql_data_for_the_same_operation(
    client: httpx.AsyncClient, row: RestRoute
) -> None:
    source = document(row)
    for params, variables in PARITY[row.path.removeprefix(PREFIX)]:
        graphql = await client.post(
            "/graphql",
            json={
                "query": source,
                "variables": variables,
                "operationName": row.operation,
            },
        )
        result = graphql.json()
        assert "errors" not in result, (params, result)
        expected = result["data"][row.pick]
        assert expected is not None
        rest = await client.get(row.path, params=params)
        assert rest.status_code == 200, (params, rest.text)
        assert rest.json() == expected, params


async def test_parity_cases_really_vary_the_data(client: httpx.AsyncClient) -> None:
    """The variable sets above reach the data: the comparison is not vacuous."""
    short = await client.get(PREFIX + "kpi", params={"timeframe": "2"})
    long = await client.get(PREFIX + "kpi", params={"timeframe": "72"})
    assert short.json() != long.json()
    few = await client.get(PREFIX + "fees", params={"days": "7"})
    many = await client.get(PREFIX + "fees", params={"days": "30"})
    assert len(few.json()["dayData"]) < len(many.json()["dayData"])


# --- parameters: clamps ------------------------------------------------------------
# (label, query string, expected value).
TIMEFRAME_VECTORS: list[tuple[str, str, int]] = [
    ("72", "timeframe=72", 72),
    ("500", "timeframe=500", 168),
    ("168", "timeframe=168", 168),
    ("0", "timeframe=0", 1),
    ("negative", "timeframe=-5", 1),
    ("non-numeric", "timeframe=abc", 24),
    ("12h", "timeframe=12h", 12),
    ("leading space", "timeframe=%2072", 72),
    ("decimal", "timeframe=72.9", 72),
    ("huge", f"timeframe={HUGE}", 168),
    ("huge negative", f"timeframe=-{HUGE}", 1),
    ("empty", "timeframe=", 24),
    ("nul", "timeframe=%00", 24),
    ("script", "timeframe=%3Cscript%3E", 24),
    ("invalid utf-8", "timeframe=%FF", 24),
    ("unknown params ignored", "timeframe=72&unknown=1&utm_source=x", 72),
]


async def test_kpi_timeframe_is_clamped_to_1_168_hours(
    client: httpx.AsyncClient,
) -> None:
    mismatches: list[tuple[object, ...]] = []
    for label, query, hours in TIMEFRAME_VECTORS:
        response = await client.get(f"{PREFIX}kpi?{query}")
        got = response.json().get("timeframeHours")
        if response.status_code != 200 or got != hours:
            mismatches.append((label, response.status_code, got, hours))
    assert mismatches == []


async def _upstream_params(
    client: httpx.AsyncClient,
    app: Starlette,
    recorder: Recorder,
    url: str,
    upstream_path: str,
) -> tuple[int, dict[str, list[str]] | None]:
    """GET `url` on a cold cache; the query of the one upstream call to the path."""
    await app.state.services.snapshots.clear()
    recorder.calls.clear()
    response = await client.get(url)
    made = recorder.to(upstream_path)
    return response.status_code, made[0].query if len(made) == 1 else None


PERIOD_VECTORS: list[tuple[str, str, str]] = [
    ("2d", "period=2d", "2d"),
    ("7d", "period=7d", "7d"),
    ("8d", "period=8d", "7d"),
    ("1d", "period=1d", "24h"),
    ("0", "period=0", "1h"),
    ("negative", "period=-3d", "1h"),
    ("non-numeric", "period=x", "24h"),
    ("bare hours", "period=12", "12h"),
    ("12h", "period=12h", "12h"),
    ("upper case", "period=12H", "12h"),
    ("200h", "period=200h", "7d"),
    ("huge", f"period={HUGE}", "7d"),
    ("huge days", f"period={HUGE}d", "7d"),
    ("empty", "period=", "24h"),
    ("nul", "period=%00", "24h"),
    ("script", "period=%3Cscript%3E", "24h"),
    ("absent", "unknown=1", "24h"),
]


async def test_orchestrators_period_reaches_the_upstream_clamped(
    client: httpx.AsyncClient, app: Starlette, recorder: Recorder
) -> None:
    mismatches: list[tuple[object, ...]] = []
    for label, query, window in PERIOD_VECTORS:
        url = f"{PREFIX}orchestrators?{query}"
        status, sent = await _upstream_params(
            client, app, recorder, url, "/v1/dashboard/orchestrators"
        )
        got = None if sent is None else sent.get("window")
        if status != 200 or got != [window]:
            mismatches.append((label, status, got, window))
    assert mismatches == []


LIMIT_VECTORS: list[tuple[str, str, int]] = [
    ("0", "limit=0", 1),
    ("negative", "limit=-4", 1),
    ("non-numeric", "limit=x", 5),
    ("empty", "limit=", 5),
    ("absent", "", 5),
    ("3", "limit=3", 3),
    ("decimal", "limit=3.9", 3),
    ("200", "limit=200", 200),
    ("201", "limit=201", 200),
    ("huge", f"limit={HUGE}", 200),
    ("nul", "limit=%00", 5),
]


async def test_pipelines_limit_is_clamped_to_1_200(
    client: httpx.AsyncClient, app: Starlette, recorder: Recorder
) -> None:
    mismatches: list[tuple[object, ...]] = []
    for label, query, limit in LIMIT_VECTORS:
        await app.state.services.snapshots.clear()
        recorder.calls.clear()
        response = await client.get(f"{PREFIX}pipelines?{query}")
        [call] = recorder.to("/v1/dashboard/pipelines")
        rows = len(response.json().get("streaming") or [])
        # The simulator has 10 pipelines: a small limit is exact, a big one caps.
        expected_rows = limit if limit <= 5 else rows
        observed = (response.status_code, call.query.get("limit"), rows)
        if observed != (200, [str(limit)], expected_rows) or not 0 < rows <= limit:
            mismatches.append((label, observed, limit))
    assert mismatches == []


async def test_pipelines_timeframe_reaches_the_upstream_as_a_window(
    client: httpx.AsyncClient, app: Starlette, recorder: Recorder
) -> None:
    vectors = [("", "24h"), ("timeframe=48", "2d"), ("timeframe=500", "7d")]
    vectors += [("timeframe=0", "1h"), ("timeframe=abc", "24h")]
    sent = []
    for query, _window in vectors:
        url = f"{PREFIX}pipelines?{query}"
        status, params = await _upstream_params(
            client, app, recorder, url, "/v1/dashboard/pipelines"
        )
        sent.append((status, None if params is None else params.get("window")))
    assert sent == [(200, [window]) for _query, window in vectors]


async def test_gpu_capacity_accepts_any_timeframe_and_shares_one_answer(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    baseline = await client.get(PREFIX + "gpu-capacity")
    for query in ["timeframe=abc", "timeframe=0", f"timeframe={HUGE}", "x=1"]:
        response = await client.get(f"{PREFIX}gpu-capacity?{query}")
        assert response.status_code == 200, query
        assert response.json() == baseline.json(), query
    assert calls(simulator)["dashboard/gpu-capacity"] == 1


# --- parameters: fees days -----------------------------------------------------------
def _subgraph_first(recorder: Recorder) -> list[int]:
    return [
        json.loads(call.body)["variables"]["first"]
        for call in recorder.to("/subgraph")
        if b"FeesOverview" in call.body
    ]


FEES_ACCEPTED: list[tuple[str, str, int]] = [
    ("absent", "", 180),
    ("7", "days=7", 7),
    ("30", "days=30", 30),
    ("365", "days=365", 365),
    ("spaces", "days=%2030%20", 30),
    ("leading zeros", "days=0030", 30),
    ("unknown param", "foo=1", 180),
    ("huge with leading zeros", f"days={'0' * 5000}30", 30),
]


async def test_fees_days_selects_that_many_days(
    client: httpx.AsyncClient, app: Starlette, recorder: Recorder
) -> None:
    mismatches: list[tuple[object, ...]] = []
    for label, query, days in FEES_ACCEPTED:
        await app.state.services.snapshots.clear()
        recorder.calls.clear()
        response = await client.get(f"{PREFIX}fees?{query}")
        if response.status_code != 200:
            mismatches.append((label, response.status_code, response.text[:100]))
            continue
        rows = len(response.json()["dayData"])
        if _subgraph_first(recorder) != [days] or not 0 < rows <= days:
            mismatches.append((label, f"first={_subgraph_first(recorder)}", rows))
    assert mismatches == []


FEES_REJECTED: list[tuple[str, str]] = [
    ("6", "days=6"),
    ("366", "days=366"),
    ("0", "days=0"),
    ("negative", "days=-30"),
    ("plus sign", "days=%2B30"),
    ("empty", "days="),
    ("blank", "days=%20"),
    ("decimal", "days=7.5"),
    ("decimal zero", "days=30.0"),
    ("exponent", "days=1e2"),
    ("hex", "days=0x1F"),
    ("non-numeric", "days=abc"),
    ("huge", f"days={HUGE}"),
    ("nul", "days=%00"),
    ("script", "days=%3Cscript%3E"),
    ("unicode digits", "days=%D9%A3%D9%A0"),  # "٣٠"
    ("fullwidth digits", "days=%EF%BC%93%EF%BC%90"),  # "30" in fullwidth
    ("invalid utf-8", "days=%FF"),
]


async def test_fees_rejects_days_outside_7_365_or_not_an_integer(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    problems = {}
    for label, query in FEES_REJECTED:
        response = await client.get(f"{PREFIX}fees?{query}")
        found = problems_of_bad_request(response, "days")
        if not found and response.json()["error"]["message"] != FEES_DAYS_MESSAGE:
            found.append(response.json()["error"]["message"])
        if found:
            problems[label] = found
    assert problems == {}
    assert recorder.calls == []


# --- parameters: kpi identifiers ---------------------------------------------------
IDENTIFIERS_ACCEPTED = [
    "live-video-to-video",
    "org/Model-v1.2_x:latest",
    "a" * 128,
]


@pytest.mark.parametrize("param", ["pipeline", "model_id"])
async def test_kpi_identifier_is_passed_to_the_upstream(
    client: httpx.AsyncClient, app: Starlette, recorder: Recorder, param: str
) -> None:
    sent = []
    for value in IDENTIFIERS_ACCEPTED:
        url = f"{PREFIX}kpi?{urlencode({param: value})}"
        status, params = await _upstream_params(
            client, app, recorder, url, "/v1/dashboard/kpi"
        )
        sent.append((status, None if params is None else params.get(param)))
    assert sent == [(200, [value]) for value in IDENTIFIERS_ACCEPTED]


@pytest.mark.parametrize("param", ["pipeline", "model_id"])
async def test_kpi_empty_identifier_counts_as_absent(
    client: httpx.AsyncClient, recorder: Recorder, param: str
) -> None:
    response = await client.get(f"{PREFIX}kpi?{param}=")
    assert response.status_code == 200
    [call] = recorder.to("/v1/dashboard/kpi")
    assert param not in call.query


IDENTIFIERS_REJECTED: list[tuple[str, str]] = [
    ("129 chars", "a" * 129),
    ("huge", "a" * 10_000),
    ("space", "a%20b"),
    ("blank", "%20"),
    ("nul", "a%00b"),
    ("script", "%3Cscript%3Ealert(1)%3C/script%3E"),
    ("unicode", "caf%C3%A9"),
    ("newline", "a%0Ab"),
    ("semicolon", "a;b"),
    ("percent", "a%25"),
    ("invalid utf-8", "a%FF"),
]


@pytest.mark.parametrize("param", ["pipeline", "model_id"])
async def test_kpi_rejects_a_bad_identifier_naming_the_parameter(
    client: httpx.AsyncClient, recorder: Recorder, param: str
) -> None:
    problems = {}
    for label, raw in IDENTIFIERS_REJECTED:
        query = f"{param}={raw.format(param=param)}"
        found = problems_of_bad_request(await client.get(f"{PREFIX}kpi?{query}"), param)
        if found:
            problems[label] = found
    assert problems == {}
    assert recorder.calls == []


# --- parameters: repeated, Unicode digits ------------------------------------------
Observe = Callable[[httpx.Response, Recorder], object]


def _body(key: str) -> Observe:
    return lambda response, _recorder: response.json().get(key)


def _sent(path: str, param: str) -> Observe:
    def observe(_response: httpx.Response, recorder: Recorder) -> object:
        return [call.query.get(param) for call in recorder.to(path)]

    return observe


def _status(response: httpx.Response, _recorder: Recorder) -> object:
    return response.status_code


def _cache_control(response: httpx.Response, _recorder: Recorder) -> object:
    return response.headers.get("cache-control")


# A repeated parameter uses its FIRST value, as URLSearchParams.get does.
REPEATED: list[tuple[str, str, Observe, object]] = [
    ("kpi timeframe", "kpi?timeframe=1&timeframe=500", _body("timeframeHours"), 1),
    ("kpi timeframe 2", "kpi?timeframe=500&timeframe=1", _body("timeframeHours"), 168),
    (
        "orchestrators period",
        "orchestrators?period=1&period=500",
        _sent("/v1/dashboard/orchestrators", "window"),
        [["1h"]],
    ),
    (
        "pipelines limit",
        "pipelines?limit=2&limit=50",
        _sent("/v1/dashboard/pipelines", "limit"),
        [["2"]],
    ),
    ("fees days valid first", "fees?days=30&days=6", _status, 200),
    ("fees days invalid first", "fees?days=6&days=30", _status, 400),
    ("kpi pipeline invalid first", "kpi?pipeline=a%20b&pipeline=ok", _status, 400),
    ("kpi model_id invalid first", "kpi?model_id=a%20b&model_id=ok", _status, 400),
    ("kpi pipeline valid first", "kpi?pipeline=ok&pipeline=a%20b", _status, 200),
    (
        "job-feed pollMs",
        "job-feed?pollMs=15000&pollMs=2000",
        _cache_control,
        "public, max-age=15, s-maxage=15, stale-while-revalidate=30",
    ),
]


@pytest.mark.parametrize(
    ("url", "observe", "expected"),
    [case[1:] for case in REPEATED],
    ids=[case[0] for case in REPEATED],
)
async def test_repeated_parameter_uses_its_first_value(
    client: httpx.AsyncClient,
    recorder: Recorder,
    url: str,
    observe: Observe,
    expected: object,
) -> None:
    response = await client.get(PREFIX + url)
    assert observe(response, recorder) == expected


# parseInt reads ASCII digits only: "٧٢" (Arabic-Indic 72) is NaN, i.e. the default.
UNICODE_DIGITS: list[tuple[str, str, Observe, object]] = [
    ("kpi timeframe", f"kpi?timeframe={ARABIC_72}", _body("timeframeHours"), 24),
    (
        "orchestrators period",
        "orchestrators?period=%D9%A2d",  # "٢d"
        _sent("/v1/dashboard/orchestrators", "window"),
        [["24h"]],
    ),
    (
        "pipelines limit",
        "pipelines?limit=%D9%A3",  # "٣"
        _sent("/v1/dashboard/pipelines", "limit"),
        [["5"]],
    ),
    (
        "pipelines timeframe",
        f"pipelines?timeframe={ARABIC_72}",
        _sent("/v1/dashboard/pipelines", "window"),
        [["24h"]],
    ),
    ("fees days", "fees?days=%D9%A3%D9%A0", _status, 400),  # "٣٠"
]


@pytest.mark.parametrize(
    ("url", "observe", "expected"),
    [case[1:] for case in UNICODE_DIGITS],
    ids=[case[0] for case in UNICODE_DIGITS],
)
async def test_unicode_digits_are_not_read_as_a_number(
    client: httpx.AsyncClient,
    recorder: Recorder,
    url: str,
    observe: Observe,
    expected: object,
) -> None:
    response = await client.get(PREFIX + url)
    assert observe(response, recorder) == expected


# --- parameters: never a 500 ---------------------------------------------------------
ODD_VALUES = (
    "",
    "abc",
    "-1",
    "0",
    "1.5",
    HUGE,
    "%00",
    "%3Cscript%3E",
    "%E2%9C%93",
    "%FF",
    "%25",
    "a" * 2000,
    "1&{name}=500",
)
REJECTING = {"days", "pipeline", "model_id"}  # the parameters that may answer 400


@pytest.mark.parametrize("row", ROUTES, ids=[row.path for row in ROUTES])
async def test_odd_parameter_values_never_cause_a_server_error(
    client: httpx.AsyncClient, row: RestRoute
) -> None:
    problems = []
    for name in [*row.params, "unknown", "refresh", "pollMs"]:
        for value in ODD_VALUES:
            query = f"{name}={value.format(name=name)}"
            response = await client.get(f"{row.path}?{query}")
            body = response.json()
            if response.status_code == 400 and name in REJECTING:
                found = problems_of_bad_request(response, name)
            elif response.status_code == 200:
                is_error = isinstance(body, dict) and "error" in body
                found = ["an error body with 200"] if is_error else []
            else:
                found = [f"status {response.status_code}: {str(body)[:100]}"]
            if found:
                problems.append((query[:40], found))
    assert problems == []


# --- refresh / nocache -------------------------------------------------------------
ENDPOINTS = {
    "kpi": "dashboard/kpi",
    "pipelines": "dashboard/pipelines",
    "pipeline-catalog": "dashboard/pipeline-catalog",
    "orchestrators": "dashboard/orchestrators",
    "protocol": "subgraph",
    "gpu-capacity": "dashboard/gpu-capacity",
    "pricing": "dashboard/pricing",
    "fees": "subgraph",
    "job-feed": "dashboard/job-feed",
}


@pytest.mark.parametrize("name", list(ENDPOINTS))
async def test_refresh_and_nocache_send_no_store_and_call_the_upstream_again(
    client: httpx.AsyncClient, simulator: Starlette, name: str
) -> None:
    key = ENDPOINTS[name]
    first = await client.get(PREFIX + name)
    assert first.status_code == 200
    assert calls(simulator)[key] == 1
    second = await client.get(PREFIX + name)
    assert calls(simulator)[key] == 1, "the second request is served from the cache"
    assert second.headers["cache-control"] == SHAPES[name].cache

    for count, bypass in enumerate(["refresh", "nocache"], start=2):
        fresh = await client.get(f"{PREFIX}{name}?{bypass}=1")
        assert fresh.status_code == 200
        assert fresh.headers["cache-control"] == "no-store", bypass
        assert calls(simulator)[key] == count, bypass
        assert fresh.json() == first.json()  # same clock, same data


async def test_other_values_do_not_bypass_the_cache(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    await client.get(PREFIX + "kpi")
    for query in ["refresh=0", "nocache=true", "refresh=", "refresh=yes", "x=1"]:
        response = await client.get(f"{PREFIX}kpi?{query}")
        assert response.headers["cache-control"] == DASHBOARD_CACHE, query
    assert calls(simulator)["dashboard/kpi"] == 1


async def test_unknown_params_are_ignored(client: httpx.AsyncClient) -> None:
    differences = []
    for name in SHAPES:
        plain = await client.get(PREFIX + name)
        noisy = await client.get(f"{PREFIX}{name}?foo=bar&utm_source=x&_=123")
        if (noisy.status_code, noisy.json(), noisy.headers["cache-control"]) != (
            200,
            plain.json(),
            plain.headers["cache-control"],
        ):
            differences.append(name)
    assert differences == []


# --- 404 / 405 / HEAD --------------------------------------------------------------
@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/dashboard/nope",
        "/api/v1/dashboard",
        "/api/v1/dashboard/kpi/extra",
        "/api/v2/dashboard/kpi",
        "/nope",
    ],
)
async def test_unknown_path_is_a_json_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == "NOT_FOUND"
    assert isinstance(error["message"], str)
    assert error["message"]


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
async def test_other_methods_on_get_routes_are_a_json_405(
    client: httpx.AsyncClient, simulator: Starlette, method: str
) -> None:
    for row in ROUTES:
        response = await client.request(method, row.path, json={})
        assert response.status_code == 405, row.path
        assert response.headers["content-type"] == "application/json"
        assert response.json()["error"]["code"] == "METHOD_NOT_ALLOWED"
        assert "GET" in re.split(r"\s*,\s*", response.headers["allow"])
    assert sum(calls(simulator).values()) == 0


async def test_head_works_on_get_routes(client: httpx.AsyncClient) -> None:
    for row in ROUTES:
        head = await client.head(row.path)
        assert head.status_code == 200, row.path
        assert head.content == b""
        assert head.headers["content-type"] == "application/json"
        name = row.path.removeprefix(PREFIX)
        assert head.headers["cache-control"] == SHAPES[name].cache


# --- request id ----------------------------------------------------------------------
async def test_safe_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    for request_id in ["abc", "req-123_ABC.xyz", "a" * 64, "0", "...", "9f1c-2b"]:
        response = await client.get("/healthz", headers={"x-request-id": request_id})
        assert response.headers["x-request-id"] == request_id


UNSAFE_IDS: list[bytes] = [
    b"a" * 65,
    b"has space",
    "caf\u00e9".encode(),
    "\u00e9".encode("latin-1"),
    b"a/b",
    b"a:b",
    b"<script>",
    b"",
]


async def test_unsafe_request_id_is_replaced_by_a_fresh_uuid(
    client: httpx.AsyncClient,
) -> None:
    returned = []
    for request_id in UNSAFE_IDS:
        response = await client.get("/healthz", headers=[(b"x-request-id", request_id)])
        value = response.headers["x-request-id"]
        assert str(uuid.UUID(value)) == value, request_id
        returned.append(value)
    assert len(set(returned)) == len(UNSAFE_IDS)


async def test_missing_request_id_gets_a_distinct_uuid_per_request(
    client: httpx.AsyncClient,
) -> None:
    ids = [(await client.get("/healthz")).headers["x-request-id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert all(str(uuid.UUID(value)) == value for value in ids)


async def test_request_id_is_echoed_on_errors(client: httpx.AsyncClient) -> None:
    for path in ["/nope", PREFIX + "fees?days=1", PREFIX + "kpi?pipeline=a%20b"]:
        response = await client.get(path, headers={"x-request-id": "trace-42"})
        assert response.status_code >= 400, path
        assert response.headers["x-request-id"] == "trace-42", path


# --- security headers, CORS, data source ----------------------------------------
PREFLIGHT = {
    "origin": "https://example.org",
    "access-control-request-method": "GET",
}
RESPONSES: list[tuple[str, str, dict[str, str]]] = [
    ("GET", PREFIX + "kpi", {}),
    ("HEAD", PREFIX + "kpi", {}),
    ("GET", PREFIX + "fees?days=1", {}),
    ("GET", "/nope", {}),
    ("POST", PREFIX + "kpi", {}),
    ("GET", "/healthz", {}),
    ("OPTIONS", PREFIX + "kpi", PREFLIGHT),
    ("POST", "/graphql", {"content-type": "application/json"}),
]


async def test_security_headers_are_on_every_response(
    client: httpx.AsyncClient,
) -> None:
    missing = []
    for method, path, headers in RESPONSES:
        content = b'{"query": "{ __typename }"}' if path == "/graphql" else None
        response = await client.request(method, path, headers=headers, content=content)
        seen = {name: response.headers.get(name) for name in SECURITY}
        policy = response.headers.get("permissions-policy", "").strip()
        if seen != SECURITY or not policy:
            missing.append((method, path, response.status_code, seen, policy))
    assert missing == []


async def test_cross_origin_get_is_allowed_from_anywhere(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        PREFIX + "kpi", headers={"origin": "https://example.org"}
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == "*"


async def test_cors_preflight_allows_get_for_a_day(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    response = await client.options(
        PREFIX + "kpi",
        headers={**PREFLIGHT, "access-control-request-headers": "X-Request-ID"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-max-age"] == "86400"
    methods = re.split(r"\s*,\s*", response.headers["access-control-allow-methods"])
    assert "GET" in methods
    assert response.headers["access-control-allow-origin"] == "*"
    assert "x-request-id" in response.headers["access-control-allow-headers"].lower()
    assert sum(calls(simulator).values()) == 0


async def test_no_data_source_label_when_no_simulated_upstream_answered(
    client: httpx.AsyncClient,
) -> None:
    paths = [PREFIX + "fees?days=6", PREFIX + "kpi?pipeline=a%20b", "/healthz", "/nope"]
    for path in paths:
        response = await client.get(path)
        assert "x-data-source" not in response.headers, path


async def test_data_source_label_on_a_cached_answer(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    await client.get(PREFIX + "pricing")
    cached = await client.get(PREFIX + "pricing")
    assert calls(simulator)["dashboard/pricing"] == 1
    assert cached.headers["x-data-source"] == "simulator"
