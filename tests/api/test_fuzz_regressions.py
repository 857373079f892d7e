"""Bugs the fuzz tests (tests/fuzz/test_fuzz.py) found, each pinned by the smallest
request that showed it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from graphql import GraphQLError
from starlette.applications import Starlette

from app.errors import AppError, BadRequest
from rest_facade.handler import _first_app_error
from tests.support.app import auth


async def test_graphql_body_that_is_not_utf8_is_a_400(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        content=b"\xbal[\xd3\x98\xbc\xa5t",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


@pytest.mark.parametrize("limit", ["99999999999", "3000000000", "-99999999999"])
async def test_network_models_limit_beyond_graphql_int_is_clamped(
    client: httpx.AsyncClient, limit: str
) -> None:
    # Was a 500: the parsed value overflowed the operation's Int variable.
    path = "/api/v1/developer/network-models"
    response = await client.get(path, params={"limit": limit})
    assert response.status_code == 200, response.text
    expected = 200 if limit[0] != "-" else 50  # the clamp; below 1: the default
    same = await client.get(path, params={"limit": str(expected)})
    assert response.json() == same.json()


async def test_a_variable_graphql_cannot_coerce_is_a_bad_request(
    app: Starlette,
) -> None:
    # Was INTERNAL_ERROR (a 500): the coercion error's original_error is itself a
    # GraphQLError, which the old rule (original_error is None) did not recognise.
    schema = app.state.schema
    result = await schema.execute(
        "query Q($limit: Int) { networkModels(limit: $limit) { count } }",
        variable_values={"limit": 10**11},
    )
    assert result.errors
    error = _first_app_error(result.errors)
    assert isinstance(error, BadRequest)
    assert "32-bit" in error.message


def test_an_execution_error_without_an_app_error_stays_internal() -> None:
    error = GraphQLError("boom", path=["kpi"], original_error=ValueError("x"))
    assert type(_first_app_error([error])) is AppError
    assert _first_app_error([error]).status == 500
    null = GraphQLError("Cannot return null for non-nullable field", path=["kpi"])
    assert _first_app_error([null]).status == 500


# PostgreSQL refuses NUL in text ("invalid byte sequence for encoding UTF8: 0x00"),
# so these reached the database and failed there: 500s on PostgreSQL (SQLite
# stored or looked them up). Now 400s naming the field, on every backend.
@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/developer/keys/a%00b", "id"),
        ("/api/v1/developer/models/%00", "id"),
        ("/api/v1/developer/models?type=%00", "type"),
        ("/api/v1/developer/usage?from=2026%00", "from"),
        ("/api/v1/auth/providers/day%00dream/result?login_session_id=x", "slug"),
        (
            "/api/v1/auth/providers/daydream/result?login_session_id=a%00",
            "login_session_id",
        ),
    ],
)
async def test_nul_in_a_path_or_query_value_is_a_400(
    client: httpx.AsyncClient, path: str, field: str
) -> None:
    response = await client.get(path, headers=auth())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == (
        f"{field} must not contain NUL characters"
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/developer/projects", {"name": "a\x00b"}, "name"),
        (
            "/api/v1/developer/keys",
            {"billingProviderId": "x", "rawApiKey": "dd_\x00key1234567890"},
            "rawApiKey",
        ),
        ("/api/v1/developer/projects", {"name": "ok", "\x00": 1}, "body"),
        ("/api/v1/developer/projects", {"name": ["\x00"]}, "name.0"),
    ],
)
async def test_nul_in_a_json_body_is_a_400(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    response = await client.post(path, json=body, headers=auth())
    assert response.status_code == 400, response.text
    assert response.json()["error"]["message"] == (
        f"{field} must not contain NUL characters"
    )
    projects = await client.get("/api/v1/developer/projects", headers=auth())
    assert all("\x00" not in p["name"] for p in projects.json()["data"]["projects"])


async def test_oauth_callback_with_nul_in_state_never_queries_for_it(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(
        "/api/v1/auth/providers/daydream/callback", params={"state": "a\x00b"}
    )
    assert response.status_code == 400
    assert "The provider sent no state." in response.text


@pytest.mark.parametrize("poll", ["0x" + "f" * 400, "1e999", "-0x" + "f" * 400])
async def test_job_feed_poll_beyond_a_double_uses_the_default(
    client: httpx.AsyncClient, poll: str
) -> None:
    # Was a 500: float(int("0xfff…", 16)) raised OverflowError.
    response = await client.get("/api/v1/dashboard/job-feed", params={"pollMs": poll})
    assert response.status_code == 200
    assert "max-age=30," in response.headers["cache-control"]


@pytest.mark.parametrize("moment", ["0001-01-01T00:00+14:00", "9999-12-31T23:00-14:00"])
async def test_usage_date_that_leaves_the_calendar_in_utc_is_a_400(
    client: httpx.AsyncClient, moment: str
) -> None:
    # Was a 500 on both surfaces: astimezone(UTC) raised OverflowError.
    response = await client.get(
        "/api/v1/developer/usage", params={"from": moment}, headers=auth()
    )
    assert response.status_code == 400, response.text
    body = await client.post(
        "/graphql",
        json={
            "query": "query($f: String) { usage(from: $f) { totalKeys } }",
            "variables": {"f": moment},
        },
        headers=auth(),
    )
    assert body.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"


async def test_record_usage_time_that_leaves_the_calendar_in_utc_is_a_400(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        json={
            "query": 'mutation { recordUsage(keyId: "k", at: "0001-01-01T00:00+14:00")'
            " { id } }"
        },
        headers=auth("metering-service", roles=("usage:write",)),
    )
    errors = response.json()["errors"]
    assert errors[0]["extensions"]["code"] == "BAD_REQUEST", errors


# --- what schemathesis' --checks all found (tests/fuzz/test_schemathesis.py) --------
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("OPTIONS", "/api/v1/developer/keys/some-id", {"GET", "HEAD", "DELETE"}),
        ("PUT", "/api/v1/developer/keys", {"GET", "HEAD", "POST"}),
        ("PATCH", "/api/v1/developer/projects", {"GET", "HEAD", "POST"}),
        ("DELETE", "/api/v1/dashboard/kpi", {"GET", "HEAD"}),
        ("PUT", "/graphql", {"GET", "HEAD", "POST"}),
    ],
)
async def test_a_405_allows_every_method_of_its_path(
    client: httpx.AsyncClient, method: str, path: str, allow: set[str]
) -> None:
    # Was `Allow: HEAD, GET` on /keys/{id}: each row was its own route.
    response = await client.request(method, path)
    assert response.status_code == 405
    assert {m.strip() for m in response.headers["allow"].split(",")} == allow


STANDARD_ERROR = {"success", "error", "meta"}


@pytest.mark.parametrize(
    ("method", "path", "status", "keys"),
    [
        # Was the public envelope: `%2F` is a `/`, so no route matched.
        ("GET", "/api/v1/developer/models/openai%2Fwhisper-large-v3", 404, None),
        ("GET", "/api/v1/developer/nope", 404, None),
        ("GET", "/api/v1/billing-providers/nope", 404, None),
        ("GET", "/api/v1/auth/nope", 404, None),
        ("PUT", "/api/v1/auth/csrf", 405, None),
        ("POST", "/api/v1/billing-providers", 405, None),
        ("DELETE", "/api/v1/auth/providers/daydream/start", 405, None),
        # The one bare row under /developer/ keeps its row's envelope.
        ("POST", "/api/v1/developer/network-models", 405, {"error"}),
        ("GET", "/api/v1/dashboard/nope", 404, {"error"}),
        ("GET", "/nope", 404, {"error"}),
    ],
)
async def test_a_404_or_405_answers_in_its_familys_envelope(
    client: httpx.AsyncClient,
    method: str,
    path: str,
    status: int,
    keys: set[str] | None,
) -> None:
    response = await client.request(method, path, headers=auth())
    assert response.status_code == status
    body = response.json()
    assert set(body) == (keys or STANDARD_ERROR)
    code = "NOT_FOUND" if status == 404 else "METHOD_NOT_ALLOWED"
    assert body["error"]["code"] == code


@pytest.mark.parametrize(
    "moment", ["0001-01-01T00:00:00+14:00", "9999-12-31T23:00:00.5-14:00"]
)
async def test_a_usage_bound_past_the_calendar_in_utc_is_its_first_or_last_day(
    client: httpx.AsyncClient, moment: str
) -> None:
    # A valid RFC 3339 date-time (what the document promises) was a 400 here.
    response = await client.get(
        "/api/v1/developer/usage", params={"from": moment}, headers=auth()
    )
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("moment", ["20261101", " 2026-11-01", "2026-11-01T10:00"])
async def test_a_usage_bound_is_an_rfc_3339_date_or_date_time(
    client: httpx.AsyncClient, moment: str
) -> None:
    response = await client.get(
        "/api/v1/developer/usage", params={"to": moment}, headers=auth()
    )
    assert response.status_code == 400, response.text
