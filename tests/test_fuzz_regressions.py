"""Bugs the fuzz tests (tests/test_fuzz.py) found, each pinned by the smallest
request that showed it."""

from __future__ import annotations

import httpx
import pytest
from graphql import GraphQLError
from starlette.applications import Starlette

from app.errors import AppError, BadRequest
from rest_facade.handler import _first_app_error


async def test_graphql_body_that_is_not_utf8_is_a_400(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/graphql",
        content=b"\xbal[\xd3\x98\xbc\xa5t",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert "Unable to parse request body as JSON" in response.text


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
