"""Bugs the fuzz tests (tests/test_fuzz.py) found, each pinned by the smallest
request that showed it."""

from __future__ import annotations

import httpx


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
