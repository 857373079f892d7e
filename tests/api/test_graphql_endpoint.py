"""The `/graphql` endpoint: every dashboard root field in one request (and one
upstream call per distinct upstream request), arguments, errors (bad input, parse
and validation errors, upstream failures, masked unexpected exceptions), the
self-hosted GraphiQL page and its assets, and `/healthz`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.applications import Starlette

from app.context import Context
from app.graphql.graphiql import ASSET_FILES
from app.main import GRAPHIQL_ASSETS, GRAPHIQL_ASSETS_PATH, create_app
from app.schema import schema
from app.settings import Settings
from app.upstream.analytics import AnalyticsClient, GPUCapacity
from simulator import Fault
from tests.support.app import Clock, gql, make_settings, serve
from tests.support.recorder import Recorder

Build = Callable[..., tuple[Starlette, Starlette]]

ALL_FIELDS = """
query Everything {
  kpi { timeframeHours successRate { value delta } hourlySessions { hour value } }
  protocol { currentRound blockProgress totalBlocks totalStakedLPT }
  fees { totalEth dayData { dateS volumeEth } weeklyData { date } }
  pipelines { name sessions mins avgFps color }
  pipelinesOverview {
    streaming { name sessions }
    requests { by_pipeline { pipeline total_jobs } }
  }
  pipelineCatalog { id name models regions }
  gpuCapacity { totalGPUs activeGPUs models { model count } }
  pricing { pipeline model unit price capacity }
  orchestrators { address knownSessions pipelines }
  jobFeed { streams { id status runningFor } clickhouseConfigured queryFailed }
  networkModels { count total models { Pipeline Model } }
}
"""
ROOT_FIELDS = (
    "kpi",
    "protocol",
    "fees",
    "pipelines",
    "pipelinesOverview",
    "pipelineCatalog",
    "gpuCapacity",
    "pricing",
    "orchestrators",
    "jobFeed",
    "networkModels",
)


@pytest.fixture
def recorder(simulator: Starlette) -> Recorder:
    return Recorder(simulator)


@pytest.fixture
def app(settings: Settings, recorder: Recorder, clock: Clock) -> Starlette:
    """conftest's `app`, with the simulator behind a recorder."""
    return create_app(settings, simulator=recorder, clock=clock)


async def post(client: httpx.AsyncClient, query: str) -> dict[str, Any]:
    response = await client.post("/graphql", json={"query": query})
    assert response.status_code < 500, response.text
    body: dict[str, Any] = response.json()
    return body


def only_error(body: dict[str, Any]) -> dict[str, Any]:
    assert len(body.get("errors") or []) == 1, body
    error: dict[str, Any] = body["errors"][0]
    return error


# --- every root field in one request -------------------------------------------------
# The Developer API's root fields need a user; tests/api/test_developer_api.py has them.
DEVELOPER_ROOT_FIELDS = {
    "billingProviders",
    "apiKeys",
    "apiKey",
    "projects",
    "models",
    "model",
    "usage",
    "providerLoginResult",
}


def test_the_query_selects_every_dashboard_root_field() -> None:
    query_type = schema._schema.query_type
    assert query_type is not None
    assert set(ROOT_FIELDS) == set(query_type.fields) - DEVELOPER_ROOT_FIELDS


async def test_all_dashboard_root_fields_resolve_in_one_request(
    client: httpx.AsyncClient,
) -> None:
    data = await gql(client, ALL_FIELDS)
    assert [name for name in ROOT_FIELDS if data.get(name) is None] == []
    for name in ("pipelines", "pipelineCatalog", "pricing", "orchestrators"):
        assert data[name], name
    assert data["kpi"]["timeframeHours"] == 24
    assert data["fees"]["dayData"]
    assert data["pipelinesOverview"]["streaming"]
    assert data["gpuCapacity"]["models"]
    assert data["jobFeed"]["queryFailed"] is False
    assert data["jobFeed"]["streams"]
    assert data["networkModels"]["count"] > 0


async def test_one_request_never_repeats_an_upstream_call(
    client: httpx.AsyncClient, simulator: Starlette, recorder: Recorder
) -> None:
    await gql(client, ALL_FIELDS)
    made = Counter(
        (
            call.method,
            call.path,
            tuple((key, tuple(values)) for key, values in sorted(call.query.items())),
            call.body,
        )
        for call in recorder.calls
    )
    assert [request for request, count in made.items() if count > 1] == []
    counts: Counter[str] = simulator.state.calls
    # One GET per analytics endpoint and one RPC call; the subgraph is one URL that
    # receives one POST per distinct document (protocol, fees).
    assert {key: n for key, n in counts.items() if key != "subgraph" and n > 1} == {}
    subgraph_documents = {call.body for call in recorder.to("/subgraph")}
    assert counts["subgraph"] == len(subgraph_documents) == 2
    assert counts["dashboard/kpi"] == 1
    assert counts["dashboard/pipelines"] == 1  # pipelines + pipelinesOverview
    assert counts["streaming/models"] == 1  # catalog + pricing + networkModels


async def test_aliases_with_equivalent_arguments_share_one_upstream_call(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    data = await gql(
        client,
        """{
          a: kpi(timeframe: "48") { timeframeHours }
          b: kpi(window: "2d") { timeframeHours }
          c: kpi(window: "48h") { timeframeHours }
        }""",
    )
    assert [data[k]["timeframeHours"] for k in "abc"] == [48, 48, 48]
    assert simulator.state.calls["dashboard/kpi"] == 1


# --- arguments ----------------------------------------------------------------------
async def test_kpi_takes_the_snake_case_model_id_argument(
    client: httpx.AsyncClient, recorder: Recorder
) -> None:
    await gql(client, '{ kpi(model_id: "x") { timeframeHours } }')
    [call] = recorder.to("/v1/dashboard/kpi")
    assert call.query["model_id"] == ["x"]


async def test_kpi_rejects_the_camel_case_model_id_argument(
    client: httpx.AsyncClient,
) -> None:
    error = only_error(await post(client, '{ kpi(modelId: "x") { timeframeHours } }'))
    assert "modelId" in error["message"]


@pytest.mark.parametrize(
    ("arguments", "hours"),
    [
        ("", 24),
        ('(window: "2d")', 48),
        ('(window: "12h")', 12),
        ('(window: "12")', 12),
        ('(window: "9d")', 168),
        ('(timeframe: "72")', 72),
        ('(timeframe: "500")', 168),
        ('(timeframe: "0")', 1),
        ('(timeframe: "abc")', 24),
        ('(window: "2d", timeframe: "12")', 12),
        ('(timeframe: "12", window: "2d")', 12),
        ('(window: "2d", timeframe: "abc")', 24),
        ('(timeframe: "\\u0667\\u0662")', 24),  # "٧٢": parseInt reads ASCII digits only
    ],
    ids=[
        "default",
        "window-2d",
        "window-12h",
        "window-bare-hours",
        "window-above-7d",
        "timeframe-72",
        "timeframe-500",
        "timeframe-0",
        "timeframe-non-numeric",
        "timeframe-wins-over-window",
        "timeframe-wins-in-any-order",
        "timeframe-wins-even-when-invalid",
        "timeframe-unicode-digits",
    ],
)
async def test_kpi_window_and_timeframe_select_the_hours(
    client: httpx.AsyncClient, arguments: str, hours: int
) -> None:
    data = await gql(client, f"{{ kpi{arguments} {{ timeframeHours }} }}")
    assert data["kpi"]["timeframeHours"] == hours


# --- bad input ----------------------------------------------------------------------
@pytest.mark.parametrize("days", [3, 6, 366, 0, -30])
async def test_fees_rejects_days_outside_7_365_with_the_rest_message(
    client: httpx.AsyncClient, simulator: Starlette, days: int
) -> None:
    body = await post(client, f"{{ fees(days: {days}) {{ totalEth }} }}")
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert error["path"] == ["fees"]
    assert body["data"] == {"fees": None}
    rest = await client.get("/api/v1/dashboard/fees", params={"days": str(days)})
    assert rest.status_code == 400
    assert error["message"] == rest.json()["error"]["message"]
    assert "days" in error["message"]
    assert simulator.state.calls["subgraph"] == 0


@pytest.mark.parametrize("days", [7, 365])
async def test_fees_accepts_days_at_the_bounds(
    client: httpx.AsyncClient, days: int
) -> None:
    data = await gql(client, f"{{ fees(days: {days}) {{ dayData {{ dateS }} }} }}")
    assert 0 < len(data["fees"]["dayData"]) <= days


@pytest.mark.parametrize("argument", ["pipeline", "model_id"])
@pytest.mark.parametrize("value", ["a b", "x" * 129, "<script>", "caf\\u00e9"])
async def test_kpi_rejects_a_bad_identifier_as_bad_request(
    client: httpx.AsyncClient, argument: str, value: str
) -> None:
    body = await post(client, f'{{ kpi({argument}: "{value}") {{ timeframeHours }} }}')
    error = only_error(body)
    assert error["extensions"]["code"] == "BAD_REQUEST"
    assert argument in error["message"]
    assert body["data"] == {"kpi": None}


async def test_syntax_error_is_reported_not_masked(client: httpx.AsyncClient) -> None:
    body = await post(client, "{ kpi { timeframeHours ")
    error = only_error(body)
    assert error["message"].startswith("Syntax Error")
    assert error["message"] != "Unexpected error."
    assert (error.get("extensions") or {}).get("code") != "INTERNAL_ERROR"
    assert error["locations"]
    assert body.get("data") is None


async def test_unknown_field_is_a_validation_error_naming_it(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    body = await post(client, "{ kpi { timeframeHours } nope }")
    error = only_error(body)
    assert "'nope'" in error["message"]
    assert "Query" in error["message"]
    assert body.get("data") is None
    assert sum(simulator.state.calls.values()) == 0


# --- what /graphql does not take: GraphQL-shaped refusals ------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"query": ', "The body is not valid JSON."),
        (
            b'"{ __typename }"',
            "The body must be one JSON object: {query, variables, operationName}.",
        ),
        (b"{}", "No GraphQL query found in the request"),
    ],
    ids=["bad-json", "not-an-object", "no-query"],
)
async def test_a_body_that_is_not_one_operation_is_a_400_graphql_error(
    client: httpx.AsyncClient, simulator: Starlette, body: bytes, message: str
) -> None:
    response = await client.post(
        "/graphql", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json() == {
        "errors": [{"message": message, "extensions": {"code": "BAD_REQUEST"}}]
    }
    assert sum(simulator.state.calls.values()) == 0


async def test_json_with_a_charset_is_json(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/graphql",
        content=b'{"query": "{ __typename }"}',
        headers={"content-type": "application/json; charset=utf-8"},
    )
    assert response.json() == {"data": {"__typename": "Query"}}


# --- upstream failures --------------------------------------------------------------
async def test_kpi_is_null_with_service_unavailable_when_its_upstream_fails(
    faulty_app: Build,
) -> None:
    app, _sim = faulty_app({"dashboard/kpi": Fault(status=500)})
    async with serve(app) as client:
        body = await post(
            client, "{ kpi { timeframeHours } protocol { currentRound } }"
        )
    error = only_error(body)
    assert error["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    assert error["message"] == "KPI data is unavailable"
    assert error["path"] == ["kpi"]
    assert body["data"]["kpi"] is None
    assert body["data"]["protocol"]["currentRound"] > 0  # the rest still resolves


async def test_job_feed_reports_failure_in_band_when_its_upstream_fails(
    faulty_app: Build,
) -> None:
    app, _sim = faulty_app({"dashboard/job-feed": Fault(status=500)})
    async with serve(app) as client:
        data = await gql(
            client, "{ jobFeed { streams { id } queryFailed clickhouseConfigured } }"
        )
    assert data["jobFeed"] == {
        "streams": [],
        "queryFailed": True,
        "clickhouseConfigured": True,
    }


# --- unexpected exceptions are masked ---------------------------------------------
@pytest.fixture
def gpu_capacity_explodes(monkeypatch: pytest.MonkeyPatch) -> None:
    async def boom(self: AnalyticsClient) -> GPUCapacity:
        raise RuntimeError("secret detail")

    monkeypatch.setattr(AnalyticsClient, "dashboard_gpu_capacity", boom)


@pytest.mark.usefixtures("gpu_capacity_explodes")
async def test_unexpected_exception_is_masked_in_graphql_with_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ gpuCapacity { totalGPUs } protocol { currentRound } }"},
        headers={"x-request-id": "req-42"},
    )
    body = response.json()
    error = only_error(body)
    assert error["message"] == "Internal server error (request id req-42)"
    assert error["extensions"] == {"code": "INTERNAL_ERROR", "requestId": "req-42"}
    assert response.headers["x-request-id"] == "req-42"
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text
    assert "Traceback" not in response.text
    assert body["data"]["gpuCapacity"] is None
    assert body["data"]["protocol"] is not None
    # The trace is in the server log, findable by the id the client was given.
    [record] = [r for r in caplog.records if r.name == "naap.graphql"]
    assert "req-42" in record.getMessage()
    assert record.exc_info is not None
    assert isinstance(record.exc_info[1], RuntimeError)
    assert "secret detail" in caplog.text


@pytest.mark.usefixtures("gpu_capacity_explodes")
async def test_unexpected_exception_gets_a_generated_request_id(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": "{ gpuCapacity { totalGPUs } }"},
        headers={"x-request-id": "not a safe id!"},
    )
    error = only_error(response.json())
    request_id = response.headers["x-request-id"]
    assert request_id != "not a safe id!"
    assert error["extensions"]["requestId"] == request_id
    assert error["message"] == f"Internal server error (request id {request_id})"


async def test_masked_error_without_a_request_says_only_internal_error(
    gpu_capacity_explodes: None, settings: Settings, clock: Clock
) -> None:
    """Executed outside HTTP (a script, the SDL tooling): no id to give."""
    app = create_app(settings, clock=clock)
    async with serve(app):
        services = app.state.services
        result = await app.state.schema.execute(
            "{ gpuCapacity { totalGPUs } }",
            context_value=Context(services=services),
        )
    [error] = result.errors or []
    assert error.formatted["message"] == "Unexpected error."
    assert error.formatted["extensions"] == {"code": "INTERNAL_ERROR"}


@pytest.mark.usefixtures("gpu_capacity_explodes")
async def test_unexpected_exception_is_a_masked_500_in_rest(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/api/v1/dashboard/gpu-capacity")
    assert response.status_code == 500
    assert set(response.json()) == {"error"}
    assert response.json()["error"]["code"] == "INTERNAL_ERROR"
    assert "secret detail" not in response.text
    assert "RuntimeError" not in response.text


# --- data source label ------------------------------------------------------------
async def test_graphql_response_is_labelled_when_the_simulator_answered(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql", json={"query": "{ protocol { currentRound } }"}
    )
    assert response.headers["x-data-source"] == "simulator"


async def test_graphql_response_is_not_labelled_without_upstream_data(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/graphql", json={"query": "{ __typename }"})
    assert response.status_code == 200
    assert "x-data-source" not in response.headers


# --- GraphiQL ------------------------------------------------------------------------
class _Urls(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.urls += [value or "" for name, value in attrs if name in {"src", "href"}]


def _urls(page: str) -> list[str]:
    parser = _Urls()
    parser.feed(page)
    parser.close()
    return parser.urls


def _require_assets() -> None:
    missing = [name for name in ASSET_FILES if not (GRAPHIQL_ASSETS / name).is_file()]
    assert missing == [], (
        f"GraphiQL assets missing in {GRAPHIQL_ASSETS}: run `make install`"
    )


async def test_graphiql_page_loads_only_local_assets(
    client: httpx.AsyncClient,
) -> None:
    _require_assets()
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    urls = _urls(response.text)
    assert sorted(urls) == sorted(GRAPHIQL_ASSETS_PATH + name for name in ASSET_FILES)
    assert "http://" not in response.text.lower()
    assert "https://" not in response.text.lower()


@pytest.mark.parametrize("name", ASSET_FILES)
async def test_graphiql_asset_is_served_locally(
    client: httpx.AsyncClient, name: str
) -> None:
    _require_assets()
    response = await client.get(GRAPHIQL_ASSETS_PATH + name)
    assert response.status_code == 200
    assert response.content == (GRAPHIQL_ASSETS / name).read_bytes()
    kind = "text/css" if name.endswith(".css") else "javascript"
    assert kind in response.headers["content-type"]


async def test_graphiql_page_says_to_run_make_install_when_assets_are_missing(
    settings: Settings,
    clock: Clock,
    simulator: Starlette,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("app.main.GRAPHIQL_ASSETS", tmp_path)
    app = create_app(settings, simulator=simulator, clock=clock)
    async with serve(app) as client:
        response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 503
    assert "make install" in response.text


async def test_graphiql_page_is_not_served_when_disabled(
    clock: Clock, simulator: Starlette
) -> None:
    app = create_app(make_settings(graphiql=False), simulator=simulator, clock=clock)
    async with serve(app) as client:
        page = await client.get("/graphql", headers={"accept": "text/html"})
        data = await gql(client, "{ protocol { currentRound } }")
    assert page.status_code == 404
    assert "graphiql" not in page.text.lower()
    assert "<html" not in page.text.lower()
    assert data["protocol"]["currentRound"] > 0  # the endpoint itself still works


# --- healthz ------------------------------------------------------------------------
async def test_healthz_reports_ok_and_the_simulated_upstreams(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["status"] == "ok"
    assert body["simulated"] == ["NAAP_API_SERVER_URL", "SUBGRAPH_URL", "L1_RPC_URL"]
