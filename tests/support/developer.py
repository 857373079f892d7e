"""The Developer API from a client's side: its paths, envelopes, GraphQL calls,
keys and usage, the test database seen from outside the app (sqlite3), and the
OAuth key broker's first steps (start, authorize)."""

from __future__ import annotations

import asyncio
import re
import secrets
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import httpx

from app.settings import Settings
from rest_facade.routes import ROUTES, RestRoute
from tests.support.app import auth

PROVIDERS = "/api/v1/billing-providers"
KEYS = "/api/v1/developer/keys"
PROJECTS = "/api/v1/developer/projects"
MODELS = "/api/v1/developer/models"
NETWORK_MODELS = "/api/v1/developer/network-models"
USAGE = "/api/v1/developer/usage"
PRIVATE = "private, no-store"
TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")
METERING = auth("metering-service", roles=("usage:write",))

DEV_ROUTES = tuple(
    row
    for row in ROUTES
    if row.path.startswith(("/api/v1/developer/", "/api/v1/billing-providers"))
)
AUTH_ROUTES = tuple(row for row in DEV_ROUTES if row.auth)


RECORD_USAGE = """
mutation RecordUsage(
  $keyId: String!, $requests: Int, $tokens: Int, $cost: Float, $at: String
) {
  recordUsage(
    keyId: $keyId, requests: $requests, tokens: $tokens, cost: $cost, at: $at
  ) {
    id keyId requests tokens cost at
  }
}
"""


def route_id(row: RestRoute) -> str:
    return f"{row.methods[0]} {row.path}"


def new_raw_key(prefix: str = "pmth_") -> str:
    """A fresh provider-style raw key (never a fixed string: keys are unique)."""
    return prefix + secrets.token_urlsafe(24).replace("_", "x").replace("-", "y")


def ok(response: httpx.Response) -> Any:
    """`data` of a standard success envelope from an authenticated route."""
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == PRIVATE
    body = response.json()
    assert body["success"] is True, body
    return body["data"]


def error_of(response: httpx.Response, status: int) -> dict[str, Any]:
    """`error` of a standard error envelope, after checking its whole shape."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"success", "error", "meta"}, body
    assert body["success"] is False
    assert set(body["meta"]) == {"timestamp"}
    assert TIMESTAMP.fullmatch(body["meta"]["timestamp"])
    error: dict[str, Any] = body["error"]
    return error


async def graphql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
    operation: str | None = None,
) -> dict[str, Any]:
    """The whole GraphQL response body (data and errors)."""
    payload: dict[str, Any] = {"query": query, "variables": variables or {}}
    if operation is not None:
        payload["operationName"] = operation
    response = await client.post("/graphql", json=payload, headers=headers or {})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def error_code(body: dict[str, Any]) -> str | None:
    errors = body.get("errors") or [{}]
    code: str | None = (errors[0].get("extensions") or {}).get("code")
    return code


async def provider_ids(client: httpx.AsyncClient) -> dict[str, str]:
    """Seeded billing providers, slug -> id."""
    response = await client.get(PROVIDERS)
    assert response.status_code == 200, response.text
    return {p["slug"]: p["id"] for p in response.json()["data"]["providers"]}


async def create_key(
    client: httpx.AsyncClient,
    provider_id: str,
    raw: str | None = None,
    *,
    sub: str = "user-a",
    **fields: Any,
) -> dict[str, Any]:
    """POST a key (bearer auth); return the response `data`."""
    body = {"billingProviderId": provider_id, "rawApiKey": raw or new_raw_key()}
    response = await client.post(KEYS, json={**body, **fields}, headers=auth(sub))
    data: dict[str, Any] = ok(response)
    return data


async def record_usage(client: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = await graphql(client, RECORD_USAGE, fields, METERING)
    assert "errors" not in body, body
    record: dict[str, Any] = body["data"]["recordUsage"]
    return record


def sqlite_path(settings: Settings) -> Path:
    prefix = "sqlite+aiosqlite:///"
    assert settings.database_url.startswith(prefix)
    return Path(settings.database_url.removeprefix(prefix))


def sql(settings: Settings, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """Run one statement on the test's SQLite file (outside the app), committed."""
    with closing(sqlite3.connect(sqlite_path(settings))) as db:
        rows = db.execute(statement, args).fetchall()
        db.commit()
    return rows


def table_counts(settings: Settings) -> dict[str, int]:
    tables = ("dev_api_key", "dev_api_project", "dev_api_usage_log")
    return {
        table: sql(settings, f"SELECT count(*) FROM {table}")[0][0]  # noqa: S608
        for table in tables
    }


def valid_request(
    row: RestRoute, *, key_id: str, model_id: str, provider_id: str
) -> dict[str, Any]:
    """Arguments for `client.request` that succeed for user-a on that row."""
    path = row.path.replace("{id}", model_id if "models" in row.path else key_id)
    request: dict[str, Any] = {"method": row.methods[0], "url": path}
    if row.operation == "CreateApiKey":
        request["json"] = {"billingProviderId": provider_id, "rawApiKey": new_raw_key()}
    elif row.operation == "CreateProject":
        request["json"] = {"name": "Cache"}
    return request


# --- concurrent key creation ----------------------------------------------------
async def create_at_once(
    client: httpx.AsyncClient, sub: str, count: int, **fields: Any
) -> list[httpx.Response]:
    providers = await provider_ids(client)
    bodies = [
        {
            "billingProviderId": providers["daydream"],
            "rawApiKey": new_raw_key(),
            **fields,
        }
        for _ in range(count)
    ]
    return await asyncio.gather(
        *(client.post(KEYS, json=body, headers=auth(sub)) for body in bodies)
    )


PROJECT_KINDS: dict[str, dict[str, str]] = {
    "default project": {},
    "named project": {"projectName": "Burst"},
}


async def assert_one_project_holds_all(
    client: httpx.AsyncClient, responses: list[httpx.Response], kind: str
) -> None:
    assert [r.status_code for r in responses] == [200] * len(responses), [
        r.text for r in responses if r.status_code != 200
    ]
    keys = [r.json()["data"]["key"] for r in responses]
    assert len({key["id"] for key in keys}) == len(responses)
    assert len({key["projectId"] for key in keys}) == 1
    projects = ok(await client.get(PROJECTS, headers=auth("burst")))["projects"]
    assert len(projects) == 1
    assert projects[0]["_count"] == {"apiKeys": len(responses)}
    assert projects[0]["isDefault"] is (kind == "default project")
    listed = await client.get(KEYS, params={"pageSize": "100"}, headers=auth("burst"))
    assert listed.json()["meta"]["total"] == len(responses)


# --- the OAuth key broker ---------------------------------------------------------
ORIGIN = "http://test"
LOGIN_PROVIDERS = "/api/v1/auth/providers"


def local(url: str) -> str:
    """The path and query of one of this server's absolute URLs."""
    assert url.startswith(ORIGIN + "/"), url
    return url.removeprefix(ORIGIN)


async def start(
    client: httpx.AsyncClient, user: str = "user-a", slug: str = "daydream"
) -> dict[str, Any]:
    response = await client.post(f"{LOGIN_PROVIDERS}/{slug}/start", headers=auth(user))
    body = response.json()
    assert response.status_code == 200, body
    assert body["success"] is True
    data: dict[str, Any] = body["data"]
    return data


async def authorize(client: httpx.AsyncClient, auth_url: str) -> str:
    """Follow auth_url -> provider: the callback URL (path + query) it sends back."""
    redirect = await client.get(local(auth_url))
    assert redirect.status_code == 302, redirect.text
    provider = await client.get(local(redirect.headers["location"]))
    assert provider.status_code == 302, provider.text
    return local(provider.headers["location"])


def assert_page(response: httpx.Response, status: int, title: str) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    assert f"<title>{title}</title>" in response.text
