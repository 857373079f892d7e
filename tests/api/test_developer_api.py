"""The Developer API end to end: REST routes, their GraphQL parity, keys,
projects, models, network models, usage, body validation and secret handling.

Authentication, CSRF, CORS, isolation between users, atomicity and concurrency are
in tests/api/test_developer_isolation.py; the helpers both use are in
tests/support/developer.py.
"""

from __future__ import annotations

import itertools
import json
import logging
import re
import shutil
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from rest_facade.prepare import OPERATIONS_DIR
from rest_facade.routes import RestRoute
from tests.support.app import Clock, auth, make_settings, open_client
from tests.support.developer import (
    AUTH_ROUTES,
    DEV_ROUTES,
    KEYS,
    METERING,
    MODELS,
    NETWORK_MODELS,
    PRIVATE,
    PROJECTS,
    PROVIDERS,
    RECORD_USAGE,
    TIMESTAMP,
    USAGE,
    create_key,
    error_code,
    error_of,
    graphql,
    new_raw_key,
    ok,
    provider_ids,
    record_usage,
    route_id,
    sql,
    sqlite_path,
    table_counts,
    valid_request,
)

SECRET_FIELDS = {
    "keyHash",
    "keyLookupId",
    "providerSessionRefEnc",
    "providerSessionRefIv",
    "key_hash",
    "key_lookup_id",
    "provider_session_ref_enc",
    "provider_session_ref_iv",
}


# --- helpers ----------------------------------------------------------------------


def document(row: RestRoute) -> str:
    return (OPERATIONS_DIR / f"{row.operation}.graphql").read_text(encoding="utf-8")


def bad_request_problems(response: httpx.Response, fragment: str) -> list[str]:
    """Why `response` is not a private 400 BAD_REQUEST whose message names
    `fragment` in the standard envelope ([] when it is)."""
    if response.status_code != 400:
        return [f"status {response.status_code}: {response.text[:160]}"]
    body = response.json()
    found = []
    if set(body) != {"success", "error", "meta"} or body["success"] is not False:
        found.append(f"envelope {body!r}")
    error = body.get("error") or {}
    if error.get("code") != "BAD_REQUEST":
        found.append(f"code {error.get('code')!r}")
    if fragment not in str(error.get("message")):
        found.append(f"message {error.get('message')!r} lacks {fragment!r}")
    if response.headers.get("cache-control") != PRIVATE:
        found.append(f"cache-control {response.headers.get('cache-control')!r}")
    return found


def walk_keys(value: Any) -> set[str]:
    """Every object key anywhere in a JSON value."""
    if isinstance(value, dict):
        return set(value).union(*(walk_keys(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(walk_keys(v) for v in value))
    return set()


@pytest.fixture
async def pids(client: httpx.AsyncClient) -> dict[str, str]:
    return await provider_ids(client)


# --- the route table ------------------------------------------------------------------
def test_route_table_has_exactly_the_issue_developer_rows() -> None:
    assert [route_id(row) for row in DEV_ROUTES] == [
        "GET /api/v1/billing-providers",
        "GET /api/v1/developer/keys",
        "POST /api/v1/developer/keys",
        "GET /api/v1/developer/keys/{id}",
        "DELETE /api/v1/developer/keys/{id}",
        "GET /api/v1/developer/projects",
        "POST /api/v1/developer/projects",
        "GET /api/v1/developer/models",
        "GET /api/v1/developer/models/{id}",
        "GET /api/v1/developer/network-models",
        "GET /api/v1/developer/usage",
    ]
    public = {route_id(row) for row in DEV_ROUTES if not row.auth}
    assert public == {
        "GET /api/v1/billing-providers",
        "GET /api/v1/developer/network-models",
    }


# --- parity with /graphql -------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class World:
    """A user with history: three keys (one revoked), two projects, usage rows."""

    providers: dict[str, str]
    keys: list[str]  # oldest first
    project: str  # the named project
    model: str


async def build_world(
    client: httpx.AsyncClient, clock: Clock, *, history: bool = True
) -> World:
    """The world; without `history` only its catalog (providers, a model)."""
    providers = await provider_ids(client)
    models = ok(await client.get(MODELS, headers=auth()))["models"]
    if not history:
        return World(providers, [], "", models[3]["id"])
    first = await create_key(client, providers["pymthouse"], label="laptop")
    clock.advance(minutes=1)
    second = await create_key(client, providers["daydream"], projectName="Mobile")
    clock.advance(minutes=1)
    third = await create_key(client, providers["pymthouse"])
    ok(await client.delete(f"{KEYS}/{third['key']['id']}", headers=auth()))
    ids = [first["key"]["id"], second["key"]["id"], third["key"]["id"]]
    for key_id, at, cost in (
        (ids[0], "2026-11-20T10:00:00Z", 0.125),
        (ids[1], "2026-11-21T10:00:00Z", 0.5),
    ):
        await record_usage(client, keyId=key_id, requests=2, tokens=7, cost=cost, at=at)
    return World(providers, ids, second["key"]["project"]["id"], models[3]["id"])


@dataclass(frozen=True, slots=True)
class Case:
    """One request, said twice: REST (path, query, body) and GraphQL variables."""

    path: dict[str, str]
    query: dict[str, str]
    body: dict[str, Any] | None
    variables: dict[str, Any]


def body_case(body: dict[str, Any]) -> Case:
    """A POST: the JSON body is the operation's `$input`."""
    return Case({}, {}, body, {"input": body})


PARITY: dict[str, Callable[[World], list[Case]]] = {
    "GET /api/v1/billing-providers": lambda w: [Case({}, {}, None, {})],
    "GET /api/v1/developer/keys": lambda w: [
        Case({}, {}, None, {}),
        Case({}, {"page": "2", "pageSize": "2"}, None, {"page": 2, "pageSize": 2}),
        Case({}, {"page": "x", "pageSize": "500"}, None, {"pageSize": 100}),
    ],
    "POST /api/v1/developer/keys": lambda w: [
        body_case(
            {
                "billingProviderId": w.providers["pymthouse"],
                "rawApiKey": "pmth_ParityKey0123456789",
                "label": "ci",
                "projectName": "Parity",
            }
        )
    ],
    "GET /api/v1/developer/keys/{id}": lambda w: [
        Case({"id": key}, {}, None, {"id": key}) for key in w.keys
    ],
    "DELETE /api/v1/developer/keys/{id}": lambda w: [
        Case({"id": w.keys[0]}, {}, None, {"id": w.keys[0]})
    ],
    "GET /api/v1/developer/projects": lambda w: [Case({}, {}, None, {})],
    "POST /api/v1/developer/projects": lambda w: [body_case({"name": "Research"})],
    "GET /api/v1/developer/models": lambda w: [
        Case({}, {}, None, {}),
        Case({}, {"type": "image"}, None, {"type": "image"}),
        Case(
            {},
            {"featured": "true", "realtime": "true"},
            None,
            {"featured": True, "realtime": True},
        ),
        Case({}, {"featured": "false"}, None, {}),
    ],
    "GET /api/v1/developer/models/{id}": lambda w: [
        Case({"id": w.model}, {}, None, {"id": w.model})
    ],
    "GET /api/v1/developer/network-models": lambda w: [
        Case({}, {}, None, {}),
        Case({}, {"limit": "all"}, None, {"all": True}),
        Case({}, {"limit": "3"}, None, {"limit": 3}),
        Case({}, {"limit": "0"}, None, {"limit": 0}),
    ],
    "GET /api/v1/developer/usage": lambda w: [
        Case({}, {}, None, {}),
        Case(
            {},
            {"from": "2026-11-21", "to": "2026-11-30"},
            None,
            {"from": "2026-11-21", "to": "2026-11-30"},
        ),
    ],
}


def expected_rest(row: RestRoute, data: dict[str, Any]) -> tuple[Any, Any]:
    """(body data, meta without timestamp) that the row must serve for `data`."""
    picked: Any = data
    for part in filter(None, row.pick.split(".")):
        picked = picked[part]
    meta = None
    if row.meta is not None:
        picked = dict(picked)
        meta = picked.pop(row.meta)
    return picked, meta


async def rest_call(
    client: httpx.AsyncClient, row: RestRoute, case: Case
) -> httpx.Response:
    path = row.path.format(**case.path)
    return await client.request(
        row.methods[0], path, params=case.query, json=case.body, headers=auth()
    )


@pytest.fixture
def deterministic_ids(monkeypatch: pytest.MonkeyPatch) -> Callable[[], None]:
    """uuid4 from a counter; the returned function restarts it."""
    counter = itertools.count(1)

    def fake_uuid4() -> uuid.UUID:
        return uuid.UUID(int=next(counter))

    def restart() -> None:
        nonlocal counter
        counter = itertools.count(1)

    monkeypatch.setattr(uuid, "uuid4", fake_uuid4)
    return restart


@pytest.fixture
async def twin(
    template_db: Path, tmp_path: Path, simulator: Starlette, clock: Clock
) -> AsyncIterator[Callable[[], Awaitable[httpx.AsyncClient]]]:
    """Opens (on demand) a second app on its own copy of the seeded database, so
    with the same provider ids."""
    opened: list[tuple[LifespanManager, httpx.AsyncClient]] = []

    async def open_twin() -> httpx.AsyncClient:
        target = tmp_path / "twin.db"
        shutil.copyfile(template_db, target)
        settings = make_settings(database_url=f"sqlite+aiosqlite:///{target}")
        app = create_app(settings, simulator=simulator, clock=clock)
        opened.append(await open_client(app))
        return opened[-1][1]

    yield open_twin
    for manager, http in opened:
        await http.aclose()
        await manager.__aexit__(None, None, None)


def test_every_developer_route_has_parity_cases() -> None:
    assert set(PARITY) == {route_id(row) for row in DEV_ROUTES}


@pytest.mark.parametrize("row", DEV_ROUTES, ids=route_id)
async def test_rest_data_equals_graphql_data_for_the_same_operation(
    client: httpx.AsyncClient,
    twin: Callable[[], Awaitable[httpx.AsyncClient]],
    clock: Clock,
    deterministic_ids: Callable[[], None],
    row: RestRoute,
) -> None:
    """Creations run once per surface on twin databases with the same ids, so
    even they compare exactly; everything else runs on one database with history."""
    creates = row.body is not None
    history = row.path.startswith((KEYS, PROJECTS, USAGE)) and not creates
    world = await build_world(client, clock, history=history)
    graphql_client = await twin() if creates else client
    for case in PARITY[route_id(row)](world):
        deterministic_ids()
        result = await graphql(
            graphql_client,
            document(row),
            case.variables,
            auth(),
            row.operation,
        )
        assert "errors" not in result, (case, result)
        data, meta = expected_rest(row, result["data"])
        deterministic_ids()
        response = await rest_call(client, row, case)
        assert response.status_code == 200, (case, response.text)
        body = response.json()
        if row.path == NETWORK_MODELS:
            assert body == data, case  # the bare body
            continue
        assert body["data"] == data, case
        if meta is None:
            assert set(body) == {"success", "data"}
        else:
            assert TIMESTAMP.fullmatch(body["meta"].pop("timestamp"))
            assert body["meta"] == meta, case


async def test_parity_world_really_has_the_data_it_compares(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    """The parity cases are not vacuous: the world has pages, usage and filters."""
    world = await build_world(client, clock)
    page = await client.get(KEYS, params={"pageSize": "2"}, headers=auth())
    assert len(ok(page)["keys"]) == 2
    assert page.json()["meta"]["total"] == 3
    usage = ok(await client.get(USAGE, headers=auth()))
    assert usage["totalRequests"] == 4
    assert len(usage["daily"]) == 2
    images = ok(await client.get(MODELS, params={"type": "image"}, headers=auth()))
    everything = ok(await client.get(MODELS, headers=auth()))
    assert 0 < images["total"] < everything["total"]
    assert len(world.keys) == 3


# --- billing providers ---------------------------------------------------------------
async def test_billing_providers_lists_the_seeded_catalog_publicly(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(PROVIDERS)
    assert response.status_code == 200
    cache = response.headers["cache-control"]
    assert cache.startswith("public")
    assert re.search(r"max-age=[1-9]", cache), cache
    body = response.json()
    assert set(body) == {"success", "data"}
    providers = body["data"]["providers"]
    assert [(p["slug"], p["displayName"], p["icon"]) for p in providers] == [
        ("daydream", "Daydream", "Cloud"),
        ("pymthouse", "PymtHouse", "Wallet"),
    ]
    assert all(p["authType"] == "oauth" for p in providers)
    assert set(providers[0]) == {
        "id",
        "slug",
        "displayName",
        "description",
        "icon",
        "authType",
    }


async def test_billing_providers_omits_a_disabled_provider(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    sql(settings, "UPDATE billing_provider SET enabled = 0 WHERE slug = 'daydream'")
    response = await client.get(PROVIDERS)
    assert [p["slug"] for p in response.json()["data"]["providers"]] == ["pymthouse"]


# --- keys: create ---------------------------------------------------------------------
async def test_create_key_returns_the_raw_key_the_spec_prefix_and_a_warning(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    raw = "pmth_AbCdEfGhIjKlMnOp"
    data = await create_key(client, pids["pymthouse"], raw, label="  ci  ")
    assert data["rawApiKey"] == raw
    assert data["warning"] == (
        "Store this key securely. It is long-lived until revoked and will not be "
        "shown again."
    )
    key = data["key"]
    assert key["keyPrefix"] == "pmth_AbCd\u2026"
    assert key["label"] == "ci"
    assert key["status"] == "ACTIVE"
    assert key["userId"] == "user-a"
    assert key["billingProviderId"] == pids["pymthouse"]
    assert key["billingProvider"] == {
        "id": pids["pymthouse"],
        "slug": "pymthouse",
        "displayName": "PymtHouse",
    }
    assert key["createdAt"] == "2026-11-25T14:30:15.000Z"
    assert key["revokedAt"] is None
    assert key["lastUsedAt"] is None
    assert key["expiresAt"] is None


async def test_create_key_warns_briefly_for_a_daydream_key(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    data = await create_key(client, pids["daydream"], "dd_demoKey1234567890")
    assert data["warning"] == "Store this key securely. It will not be shown again."
    assert data["key"]["keyPrefix"] == "dd_demo\u2026"


NATIVE_LOOKUP = "0123456789abcdef"
# (case, raw key, display prefix): a native key shows its lookup id; a key with an
# inner underscore, 4 characters past the first one and an ellipsis; others, 4.
PREFIX_VECTORS = [
    ("provider", "pmth_AbCdEfGhIjKlMnOp", "pmth_AbCd\u2026"),
    ("trimmed, first underscore", "  sk_live_1234567890  ", "sk_live\u2026"),
    ("native", f"naap_{NATIVE_LOOKUP}_{'ab' * 24}", f"naap_{NATIVE_LOOKUP}..."),
    ("four characters", "abcd", "abcd"),
    ("no underscore", "abcdefgh", "abcd\u2026"),
    ("leading underscore", "_abcdefgh", "_abc\u2026"),
    ("trailing underscore", "abcdefgh_", "abcd\u2026"),
]


async def test_key_prefix_follows_the_spec(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    wrong = []
    for case, raw, prefix in PREFIX_VECTORS:
        data = await create_key(client, pids["daydream"], raw)
        if (data["key"]["keyPrefix"], data["rawApiKey"]) != (prefix, raw):
            wrong.append((case, data["key"]["keyPrefix"], data["rawApiKey"]))
    assert wrong == []


async def test_key_label_of_exactly_100_characters_is_accepted(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    data = await create_key(client, pids["daydream"], label="L" * 100)
    assert data["key"]["label"] == "L" * 100


# --- keys: projects -------------------------------------------------------------------
async def test_first_key_goes_to_a_default_project_created_on_first_need(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    assert ok(await client.get(PROJECTS, headers=auth())) == {"projects": []}
    first = (await create_key(client, pids["pymthouse"]))["key"]
    second = (await create_key(client, pids["daydream"]))["key"]
    assert first["project"]["name"] == "Default"
    assert first["project"]["isDefault"] is True
    assert first["projectId"] == first["project"]["id"] == second["projectId"]
    projects = ok(await client.get(PROJECTS, headers=auth()))["projects"]
    assert [(p["name"], p["isDefault"], p["_count"]) for p in projects] == [
        ("Default", True, {"apiKeys": 2})
    ]
    assert TIMESTAMP.fullmatch(projects[0]["createdAt"])


async def test_project_name_creates_then_reuses_a_named_project(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    first = (await create_key(client, pids["daydream"], projectName="Mobile"))["key"]
    again = await create_key(client, pids["daydream"], projectName="  Mobile ")
    second = again["key"]
    assert first["project"] == {
        "id": first["projectId"],
        "name": "Mobile",
        "isDefault": False,
    }
    assert second["projectId"] == first["projectId"]
    projects = ok(await client.get(PROJECTS, headers=auth()))["projects"]
    assert [(p["name"], p["_count"]["apiKeys"]) for p in projects] == [("Mobile", 2)]


async def test_project_id_of_an_own_project_receives_the_key(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    created = await client.post(PROJECTS, json={"name": "Web"}, headers=auth())
    project = ok(created)["project"]
    key = (await create_key(client, pids["daydream"], projectId=project["id"]))["key"]
    assert key["project"] == {"id": project["id"], "name": "Web", "isDefault": False}
    projects = ok(await client.get(PROJECTS, headers=auth()))["projects"]
    assert [(p["name"], p["_count"]["apiKeys"]) for p in projects] == [("Web", 1)]


async def test_key_without_project_gets_a_default_project_when_one_is_named_default(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    """A user's own project called "Default" must not break the default project."""
    ok(await client.post(PROJECTS, json={"name": "Default"}, headers=auth()))
    response = await client.post(
        KEYS,
        json={"billingProviderId": pids["daydream"], "rawApiKey": new_raw_key()},
        headers=auth(),
    )
    key = ok(response)["key"]
    assert key["project"]["isDefault"] is True
    projects = ok(await client.get(PROJECTS, headers=auth()))["projects"]
    assert [p["isDefault"] for p in projects].count(True) == 1


@pytest.mark.parametrize("owner", ["unknown", "another user"])
async def test_create_key_rejects_a_project_id_that_is_not_the_users(
    client: httpx.AsyncClient, pids: dict[str, str], owner: str
) -> None:
    project_id = str(uuid.uuid4())
    if owner == "another user":
        created = await client.post(PROJECTS, json={"name": "B"}, headers=auth("b"))
        project_id = ok(created)["project"]["id"]
    response = await client.post(
        KEYS,
        json={
            "billingProviderId": pids["daydream"],
            "rawApiKey": new_raw_key(),
            "projectId": project_id,
        },
        headers=auth(),
    )
    assert error_of(response, 400) == {
        "code": "BAD_REQUEST",
        "message": "Invalid projectId",
    }
    assert response.headers["cache-control"] == PRIVATE


# --- keys: list, get, revoke ----------------------------------------------------------
async def three_keys(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> list[str]:
    """Three keys of user-a a minute apart; their ids, newest first."""
    ids = []
    for _ in range(3):
        ids.append((await create_key(client, pids["daydream"]))["key"]["id"])
        clock.advance(minutes=1)
    return ids[::-1]


async def test_list_keys_pages_newest_first_with_page_info_in_meta(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> None:
    newest_first = await three_keys(client, pids, clock)
    first = await client.get(KEYS, params={"pageSize": "2"}, headers=auth())
    second = await client.get(
        KEYS, params={"page": "2", "pageSize": "2"}, headers=auth()
    )
    assert [k["id"] for k in ok(first)["keys"]] == newest_first[:2]
    assert [k["id"] for k in ok(second)["keys"]] == newest_first[2:]
    meta = first.json()["meta"]
    assert TIMESTAMP.fullmatch(meta.pop("timestamp"))
    assert meta == {"page": 1, "pageSize": 2, "total": 3, "totalPages": 2}
    assert set(ok(first)) == {"keys"}


# (case, query, page, pageSize): integers clamped to their range, anything that
# is not a number read as the default.
PAGE_VECTORS: list[tuple[str, dict[str, str | list[str]], int, int]] = [
    ("absent", {}, 1, 20),
    ("non-numeric", {"page": "abc", "pageSize": "xyz"}, 1, 20),
    ("empty", {"page": "", "pageSize": ""}, 1, 20),
    ("pageSize over 100", {"pageSize": "1000"}, 1, 100),
    ("pageSize 101", {"pageSize": "101"}, 1, 100),
    ("pageSize 100", {"pageSize": "100"}, 1, 100),
    ("zero page, negative size", {"page": "0", "pageSize": "-5"}, 1, 1),
    ("negative page", {"page": "-3"}, 1, 20),
    ("parseInt prefixes", {"page": "2abc", "pageSize": "2.9"}, 2, 2),
    ("first of a repeated parameter", {"pageSize": ["3", "50"]}, 1, 3),
]


async def test_list_keys_normalises_page_and_page_size(
    client: httpx.AsyncClient,
) -> None:
    wrong = []
    for case, query, page, size in PAGE_VECTORS:
        response = await client.get(KEYS, params=query, headers=auth())
        meta = response.json().get("meta", {})
        seen = (response.status_code, meta.get("page"), meta.get("pageSize"))
        if seen != (200, page, size):
            wrong.append((case, seen))
    assert wrong == []


async def test_get_key_returns_it_under_key(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    created = (await create_key(client, pids["pymthouse"], label="ci"))["key"]
    fetched = ok(await client.get(f"{KEYS}/{created['id']}", headers=auth()))
    assert fetched == {"key": created}


@pytest.mark.parametrize("method", ["GET", "DELETE"])
async def test_unknown_key_id_is_404(client: httpx.AsyncClient, method: str) -> None:
    response = await client.request(method, f"{KEYS}/{uuid.uuid4()}", headers=auth())
    assert error_of(response, 404) == {
        "code": "NOT_FOUND",
        "message": "API key not found",
    }
    assert response.headers["cache-control"] == PRIVATE


async def test_revoke_marks_the_key_revoked_and_keeps_the_first_revoked_at(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> None:
    key_id = (await create_key(client, pids["daydream"]))["key"]["id"]
    clock.advance(hours=1)
    first = ok(await client.delete(f"{KEYS}/{key_id}", headers=auth()))
    clock.advance(hours=5)
    second = ok(await client.delete(f"{KEYS}/{key_id}", headers=auth()))
    assert first["message"] == second["message"] == "API key revoked"
    assert first["key"]["status"] == "REVOKED"
    assert first["key"]["revokedAt"] == "2026-11-25T15:30:15.000Z"
    assert second["key"] == first["key"]
    listed = ok(await client.get(KEYS, headers=auth()))["keys"]
    assert [(k["id"], k["status"]) for k in listed] == [(key_id, "REVOKED")]
    fetched = ok(await client.get(f"{KEYS}/{key_id}", headers=auth()))["key"]
    assert fetched["revokedAt"] == "2026-11-25T15:30:15.000Z"


@pytest.mark.parametrize("second_user", ["user-a", "user-b"], ids=["same", "other"])
async def test_same_raw_key_registered_twice_is_a_conflict(
    client: httpx.AsyncClient, pids: dict[str, str], second_user: str
) -> None:
    raw = new_raw_key()
    await create_key(client, pids["pymthouse"], raw)
    response = await client.post(
        KEYS,
        json={"billingProviderId": pids["daydream"], "rawApiKey": raw},
        headers=auth(second_user),
    )
    error = error_of(response, 409)
    assert error["code"] == "CONFLICT"
    assert raw not in response.text
    assert raw[5:] not in response.text
    assert response.headers["cache-control"] == PRIVATE


# --- keys: bad bodies -----------------------------------------------------------------
JSON = "application/json"
BAD_KEY_BODIES: list[tuple[str, str, Any, str]] = [
    ("malformed JSON", JSON, b'{"billingProviderId": "$PID",', "Invalid JSON"),
    ("text/plain", "text/plain", {"billingProviderId": "$PID"}, "Content-Type"),
    (
        "form-encoded",
        "application/x-www-form-urlencoded",
        b"billingProviderId=$PID&rawApiKey=pmth_x",
        "Content-Type",
    ),
    ("JSON array", JSON, [], "JSON object"),
    ("JSON string", JSON, "x", "JSON object"),
    ("JSON null", JSON, None, "JSON object"),
    ("empty body", JSON, b"", "Invalid JSON"),
    ("missing billingProviderId", JSON, {"rawApiKey": "k"}, "billingProviderId"),
    (
        "blank billingProviderId",
        JSON,
        {"billingProviderId": "  ", "rawApiKey": "k"},
        "billingProviderId",
    ),
    (
        "null billingProviderId",
        JSON,
        {"billingProviderId": None, "rawApiKey": "k"},
        "billingProviderId",
    ),
    ("missing rawApiKey", JSON, {"billingProviderId": "$PID"}, "rawApiKey"),
    (
        "blank rawApiKey",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": " \t "},
        "rawApiKey",
    ),
    (
        "label is a number",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "label": 5},
        "label",
    ),
    (
        "rawApiKey is a list",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": []},
        "rawApiKey",
    ),
    (
        "billingProviderId is an object",
        JSON,
        {"billingProviderId": {"id": "$PID"}, "rawApiKey": "k"},
        "billingProviderId",
    ),
    (
        "projectId is a boolean",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "projectId": True},
        "projectId",
    ),
    (
        "label over 100",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "label": "L" * 101},
        "label",
    ),
    (
        "projectName over 100",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "projectName": "P" * 101},
        "projectName",
    ),
    (
        "rawApiKey over 4096",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k" * 4097},
        "rawApiKey",
    ),
    (
        "unknown field",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "keyHash": "00"},
        "keyHash",
    ),
    (
        "body over 64 KB",
        JSON,
        {"billingProviderId": "$PID", "rawApiKey": "k", "label": "L" * 70_000},
        "65536 bytes",
    ),
    (
        "unknown billing provider",
        JSON,
        {"billingProviderId": str(uuid.UUID(int=7)), "rawApiKey": "k"},
        "Invalid or disabled billing provider",
    ),
]


def encode(payload: Any, provider_id: str) -> bytes:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return raw.replace(b"$PID", provider_id.encode())


async def test_create_key_rejects_a_bad_body_naming_the_problem(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    problems = {}
    for case, content_type, payload, fragment in BAD_KEY_BODIES:
        response = await client.post(
            KEYS,
            content=encode(payload, pids["daydream"]),
            headers={**auth(), "content-type": content_type},
        )
        if found := bad_request_problems(response, fragment):
            problems[case] = found
    assert problems == {}
    assert table_counts(settings)["dev_api_key"] == 0


async def test_create_key_rejects_a_disabled_billing_provider(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    sql(settings, "UPDATE billing_provider SET enabled = 0 WHERE slug = 'pymthouse'")
    response = await client.post(
        KEYS,
        json={"billingProviderId": pids["pymthouse"], "rawApiKey": new_raw_key()},
        headers=auth(),
    )
    assert error_of(response, 400) == {
        "code": "BAD_REQUEST",
        "message": "Invalid or disabled billing provider",
    }


async def test_create_key_accepts_json_with_a_charset(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    body = {"billingProviderId": pids["daydream"], "rawApiKey": new_raw_key()}
    response = await client.post(
        KEYS,
        content=json.dumps(body).encode(),
        headers={**auth(), "content-type": "application/json; charset=utf-8"},
    )
    assert ok(response)["key"]["status"] == "ACTIVE"


# --- keys: the raw key stays secret ------------------------------------------------
async def key_lifecycle(
    client: httpx.AsyncClient, provider_id: str, raw: str
) -> list[httpx.Response]:
    """Every kind of request about one key; their responses, the create first."""
    body = {"billingProviderId": provider_id, "rawApiKey": raw, "label": "ci"}
    created = await client.post(KEYS, json=body, headers=auth())
    key_id = ok(created)["key"]["id"]
    responses = [created]
    responses.append(await client.post(KEYS, json=body, headers=auth()))  # 409
    responses.append(await client.post(KEYS, json=body, headers=auth("user-b")))
    responses.append(await client.get(KEYS, headers=auth()))
    responses.append(await client.get(f"{KEYS}/{key_id}", headers=auth()))
    responses.append(await client.get(PROJECTS, headers=auth()))
    responses.append(await client.get(USAGE, headers=auth()))
    responses.append(await client.delete(f"{KEYS}/{key_id}", headers=auth()))
    responses.append(await client.delete(f"{KEYS}/{key_id}", headers=auth()))
    responses.append(await client.get(f"{KEYS}/{key_id}", headers=auth()))
    everything = """query Everything($id: String!) {
      apiKeys { keys { id keyPrefix label } } apiKey(id: $id) { id }
    }"""
    variables = {"query": everything, "variables": {"id": key_id}}
    responses.append(await client.post("/graphql", json=variables, headers=auth()))
    return responses


async def test_raw_key_appears_only_in_the_create_response(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    raw = new_raw_key()
    responses = await key_lifecycle(client, pids["pymthouse"], raw)
    assert [response.status_code for response in responses] == [
        200,
        409,
        409,
        *[200] * 8,
    ]
    carrying = [i for i, response in enumerate(responses) if raw in response.text]
    assert carrying == [0]
    hidden = raw[len("pmth_AbCd") :]  # what the display prefix leaves out
    assert [i for i, r in enumerate(responses) if hidden in r.text] == [0]


async def test_no_response_exposes_hashes_lookup_ids_or_session_refs(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    responses = await key_lifecycle(client, pids["pymthouse"], new_raw_key())
    exposed = set().union(*(walk_keys(r.json()) for r in responses))
    assert exposed & SECRET_FIELDS == set()
    introspection = await graphql(
        client, '{ __type(name: "ApiKey") { fields { name } } }'
    )
    fields = {f["name"] for f in introspection["data"]["__type"]["fields"]}
    assert fields & SECRET_FIELDS == set()
    assert "keyPrefix" in fields


async def test_raw_key_is_never_stored_in_the_database(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    raw = new_raw_key()
    await key_lifecycle(client, pids["pymthouse"], raw)
    tables = [
        name
        for (name,) in sql(
            settings, "SELECT name FROM sqlite_master WHERE type='table'"
        )
    ]
    assert "dev_api_key" in tables
    scanned = 0
    found = []
    for table in tables:
        for row in sql(settings, f'SELECT * FROM "{table}"'):  # noqa: S608
            for value in row:
                scanned += 1
                text = value.decode("latin-1") if isinstance(value, bytes) else value
                if raw in str(text) or raw[5:] in str(text):
                    found.append((table, value))
    assert found == []
    assert scanned > 0
    stored = sql(settings, "SELECT key_prefix, key_hash FROM dev_api_key")
    assert len(stored) == 1
    assert stored[0][0] == raw[:9] + "\u2026"
    assert re.fullmatch(r"[0-9a-f]{64}", stored[0][1])
    files = [sqlite_path(settings), sqlite_path(settings).with_name("naap.db-wal")]
    for path in files:
        if path.exists():
            assert raw.encode() not in path.read_bytes(), path


async def test_raw_key_is_never_logged(
    client: httpx.AsyncClient,
    pids: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    for name, logger in list(logging.root.manager.loggerDict.items()):
        if isinstance(logger, logging.Logger) and logger.level > logging.DEBUG:
            caplog.set_level(logging.DEBUG, logger=name)
    raw = new_raw_key()
    await key_lifecycle(client, pids["pymthouse"], raw)
    assert len(caplog.records) > 10  # the capture really sees DEBUG logging
    leaks = [
        record
        for record in caplog.records
        if raw in record.getMessage() or raw[5:] in record.getMessage()
    ]
    assert leaks == []
    assert raw not in caplog.text


# --- projects -----------------------------------------------------------------------
async def test_create_project_returns_it_with_no_keys_and_lists_it(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    await create_key(client, pids["daydream"])  # the default project
    project = ok(await client.post(PROJECTS, json={"name": " Alpha "}, headers=auth()))
    created = project["project"]
    assert created["name"] == "Alpha"
    assert created["isDefault"] is False
    assert created["_count"] == {"apiKeys": 0}
    assert created["createdAt"] == "2026-11-25T14:30:15.000Z"
    ok(await client.post(PROJECTS, json={"name": "Zulu"}, headers=auth()))
    projects = ok(await client.get(PROJECTS, headers=auth()))["projects"]
    assert [(p["name"], p["_count"]["apiKeys"]) for p in projects] == [
        ("Default", 1),
        ("Alpha", 0),
        ("Zulu", 0),
    ]
    assert projects[1] == created


BAD_PROJECT_BODIES: list[tuple[str, str, Any, str]] = [
    ("malformed JSON", JSON, b'{"name": ', "Invalid JSON"),
    ("text/plain", "text/plain", {"name": "x"}, "Content-Type"),
    ("form-encoded", "application/x-www-form-urlencoded", b"name=x", "Content-Type"),
    ("JSON array", JSON, [], "JSON object"),
    ("JSON string", JSON, "x", "JSON object"),
    ("missing name", JSON, {}, "name"),
    ("blank name", JSON, {"name": "   "}, "name"),
    ("name is a number", JSON, {"name": 5}, "name"),
    ("name over 100", JSON, {"name": "N" * 101}, "100 characters"),
    ("unknown field", JSON, {"name": "x", "isDefault": True}, "isDefault"),
    ("body over 64 KB", JSON, {"name": "N" * 70_000}, "65536 bytes"),
]


async def test_create_project_rejects_a_bad_body_naming_the_problem(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    problems = {}
    for case, content_type, payload, fragment in BAD_PROJECT_BODIES:
        response = await client.post(
            PROJECTS,
            content=encode(payload, ""),
            headers={**auth(), "content-type": content_type},
        )
        if found := bad_request_problems(response, fragment):
            problems[case] = found
    assert problems == {}
    assert table_counts(settings)["dev_api_project"] == 0


async def test_create_project_rejects_a_duplicate_name(
    client: httpx.AsyncClient,
) -> None:
    ok(await client.post(PROJECTS, json={"name": "Web"}, headers=auth()))
    again = await client.post(PROJECTS, json={"name": "Web"}, headers=auth())
    assert error_of(again, 400) == {
        "code": "BAD_REQUEST",
        "message": "A project with this name already exists",
    }
    other_user = await client.post(PROJECTS, json={"name": "Web"}, headers=auth("b"))
    assert ok(other_user)["project"]["name"] == "Web"


# --- models -------------------------------------------------------------------------
async def test_models_lists_the_seeded_catalog_featured_first_then_by_name(
    client: httpx.AsyncClient,
) -> None:
    data = ok(await client.get(MODELS, headers=auth()))
    models = data["models"]
    assert data["total"] == len(models) >= 10
    order = [(not m["featured"], m["name"]) for m in models]
    assert order == sorted(order)
    assert {m["type"] for m in models} >= {"video", "image", "audio", "text"}
    assert set(models[0]) == {
        "id",
        "name",
        "tagline",
        "type",
        "featured",
        "realtime",
        "costPerMin",
        "latencyP50",
        "coldStart",
        "fps",
        "useCases",
        "badges",
    }
    assert set(models[0]["costPerMin"]) == {"min", "max"}


Model = dict[str, Any]
# (case, query, which models it keeps): each filter narrows the catalogue.
MODEL_FILTERS: list[tuple[str, dict[str, str], Callable[[Model], bool]]] = [
    ("type", {"type": "image"}, lambda m: m["type"] == "image"),
    ("unknown type", {"type": "nope"}, lambda m: False),
    ("featured", {"featured": "true"}, lambda m: m["featured"]),
    ("realtime", {"realtime": "true"}, lambda m: m["realtime"]),
    (
        "featured text",
        {"featured": "true", "type": "text"},
        lambda m: m["featured"] and m["type"] == "text",
    ),
    ("featured=false is no filter", {"featured": "false"}, lambda m: True),
    ("realtime=1 is no filter", {"realtime": "1"}, lambda m: True),
    ("empty type is no filter", {"type": ""}, lambda m: True),
    ("limit is ignored", {"limit": "1"}, lambda m: True),
]


async def test_models_filters_by_type_featured_and_realtime(
    client: httpx.AsyncClient,
) -> None:
    everything = ok(await client.get(MODELS, headers=auth()))["models"]
    wrong = []
    for case, query, keep in MODEL_FILTERS:
        expected = [m for m in everything if keep(m)]
        response = await client.get(MODELS, params=query, headers=auth())
        if ok(response) != {"models": expected, "total": len(expected)}:
            wrong.append(case)
    assert wrong == []
    filtered = {
        case for case, _, keep in MODEL_FILTERS if not all(map(keep, everything))
    }
    assert len(filtered) == 5  # the filtering cases really drop models


async def test_model_by_id_returns_it_under_model(client: httpx.AsyncClient) -> None:
    models = ok(await client.get(MODELS, headers=auth()))["models"]
    for model in (models[0], models[-1]):
        fetched = ok(await client.get(f"{MODELS}/{model['id']}", headers=auth()))
        assert fetched == {"model": model}


async def test_unknown_model_id_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get(f"{MODELS}/{uuid.uuid4()}", headers=auth())
    assert error_of(response, 404) == {
        "code": "NOT_FOUND",
        "message": "Model not found",
    }
    assert response.headers["cache-control"] == PRIVATE


# --- network models -------------------------------------------------------------------
async def network_models(client: httpx.AsyncClient, **query: str) -> dict[str, Any]:
    response = await client.get(NETWORK_MODELS, params=query)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"].startswith("public")
    body: dict[str, Any] = response.json()
    return body


async def test_network_models_is_public_with_a_bare_body(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(NETWORK_MODELS)
    assert response.status_code == 200
    cache = response.headers["cache-control"]
    assert cache.startswith("public")
    assert re.search(r"max-age=[1-9]", cache), cache
    body = response.json()
    assert set(body) == {"models", "count", "total"}
    assert body["count"] == len(body["models"]) == min(50, body["total"])
    assert body["total"] > 3
    assert set(body["models"][0]) == {
        "Pipeline",
        "Model",
        "WarmOrchCount",
        "TotalCapacity",
        "PriceMinWeiPerPixel",
        "PriceMaxWeiPerPixel",
        "PriceAvgWeiPerPixel",
    }


# (case, limit, expected count for a given total): the limit is clamped, a
# non-number is the default.
NETWORK_LIMITS: list[tuple[str, str, Callable[[int], int]]] = [
    ("1", "1", lambda total: 1),
    ("3", "3", lambda total: 3),
    ("parseInt prefix", "3abc", lambda total: 3),
    ("0 is the default", "0", lambda total: min(50, total)),
    ("negative is the default", "-4", lambda total: min(50, total)),
    ("NaN is the default", "x", lambda total: min(50, total)),
    ("empty is the default", "", lambda total: min(50, total)),
    ("over 200", "500", lambda total: min(200, total)),
    ("all", "all", lambda total: total),
]


async def test_network_models_limit_selects_how_many_rows(
    client: httpx.AsyncClient,
) -> None:
    full = await network_models(client, limit="all")
    assert full["total"] == full["count"] == len(full["models"])
    wrong = []
    for case, limit, count in NETWORK_LIMITS:
        body = await network_models(client, limit=limit)
        expected = count(full["total"])
        if (body["count"], body["total"], body["models"]) != (
            expected,
            full["total"],
            full["models"][:expected],
        ):
            wrong.append((case, body["count"], body["total"]))
    assert wrong == []


# --- usage --------------------------------------------------------------------------
async def test_usage_of_a_fresh_user_is_all_zeros(client: httpx.AsyncClient) -> None:
    assert ok(await client.get(USAGE, headers=auth("fresh"))) == {
        "totalKeys": 0,
        "activeKeys": 0,
        "totalRequests": 0,
        "totalCost": "0.0000",
        "keys": [],
        "daily": [],
    }


async def usage_world(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two keys of user-a with usage on two UTC days; the second key revoked."""
    first = (await create_key(client, pids["pymthouse"]))["key"]
    clock.advance(minutes=1)
    second = (await create_key(client, pids["daydream"]))["key"]
    ok(await client.delete(f"{KEYS}/{second['id']}", headers=auth()))
    for key, at, requests, tokens, cost in (
        (first, "2026-11-20T10:00:00Z", 3, 100, 0.125),
        # 01:30 at +02:00 is 23:30 UTC the day before: it counts on the 20th.
        (first, "2026-11-21T01:30:00+02:00", 1, 10, 0.25),
        (second, "2026-11-21T12:00:00Z", 2, 50, 0.5),
    ):
        await record_usage(
            client, keyId=key["id"], requests=requests, tokens=tokens, cost=cost, at=at
        )
    return first, second


async def test_usage_shows_totals_per_key_and_per_utc_day(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> None:
    first, second = await usage_world(client, pids, clock)
    usage = ok(await client.get(USAGE, headers=auth()))
    assert usage == {
        "totalKeys": 2,
        "activeKeys": 1,
        "totalRequests": 6,
        "totalCost": "0.8750",
        "keys": [
            {
                "id": first["id"],
                "prefix": first["keyPrefix"],
                "requests": 4,
                "tokens": 110,
                "cost": 0.375,
            },
            {
                "id": second["id"],
                "prefix": second["keyPrefix"],
                "requests": 2,
                "tokens": 50,
                "cost": 0.5,
            },
        ],
        "daily": [
            {"date": "2026-11-20", "requests": 4, "tokens": 110, "cost": 0.375},
            {"date": "2026-11-21", "requests": 2, "tokens": 50, "cost": 0.5},
        ],
    }
    assert ok(await client.get(USAGE, headers=auth("user-b")))["totalRequests"] == 0


# (case, query, total requests, totalCost, days) for `usage_world`.
USAGE_WINDOWS: list[tuple[str, dict[str, str], int, str, list[str]]] = [
    ("from", {"from": "2026-11-21"}, 2, "0.5000", ["2026-11-21"]),
    ("to", {"to": "2026-11-20"}, 4, "0.3750", ["2026-11-20"]),
    (
        "one day",
        {"from": "2026-11-20", "to": "2026-11-20"},
        4,
        "0.3750",
        ["2026-11-20"],
    ),
    ("after everything", {"from": "2026-11-22"}, 0, "0.0000", []),
    ("before everything", {"to": "2026-11-19"}, 0, "0.0000", []),
    (
        "a time with an offset counts by its UTC date",
        {"from": "2026-11-21T01:00:00+02:00"},
        6,
        "0.8750",
        ["2026-11-20", "2026-11-21"],
    ),
    ("a UTC time", {"from": "2026-11-21T00:00:00Z"}, 2, "0.5000", ["2026-11-21"]),
    (
        "empty is no bound",
        {"from": "", "to": ""},
        6,
        "0.8750",
        ["2026-11-20", "2026-11-21"],
    ),
]


async def test_usage_from_and_to_filter_by_utc_date(
    client: httpx.AsyncClient, pids: dict[str, str], clock: Clock
) -> None:
    await usage_world(client, pids, clock)
    wrong = []
    for case, query, requests, cost, days in USAGE_WINDOWS:
        usage = ok(await client.get(USAGE, params=query, headers=auth()))
        seen = (
            usage["totalRequests"],
            usage["totalCost"],
            [day["date"] for day in usage["daily"]],
            sum(key["requests"] for key in usage["keys"]),
            usage["totalKeys"],
        )
        if seen != (requests, cost, days, requests, 2):
            wrong.append((case, seen))
    assert wrong == []


# (case, query, the parameter the 400 must name)
BAD_DATES: list[tuple[str, dict[str, str], str]] = [
    ("word", {"from": "yesterday"}, "from"),
    ("month 13", {"from": "2026-13-01"}, "from"),
    ("February 30", {"to": "2026-02-30"}, "to"),
    ("garbage", {"to": "20261101x"}, "to"),
    ("from after to", {"from": "2026-11-21", "to": "2026-11-20"}, "from"),
    ("too long", {"from": "2" * 41}, "from"),
]


async def test_usage_rejects_a_bad_date_naming_it(client: httpx.AsyncClient) -> None:
    problems = {}
    for case, query, field in BAD_DATES:
        response = await client.get(USAGE, params=query, headers=auth())
        found = bad_request_problems(response, field)
        message = response.json().get("error", {}).get("message", "")
        if not message.startswith(f"{field} "):
            found.append(f"message {message!r} does not start with {field}")
        if found:
            problems[case] = found
    assert problems == {}


async def test_record_usage_returns_the_stored_row(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    key = (await create_key(client, pids["daydream"]))["key"]
    record = await record_usage(client, keyId=key["id"], requests=5, tokens=9, cost=1)
    assert record["keyId"] == key["id"]
    assert (record["requests"], record["tokens"], record["cost"]) == (5, 9, 1.0)
    assert record["at"] == "2026-11-25T14:30:15.000Z"  # default: now
    usage = ok(await client.get(USAGE, headers=auth()))
    assert usage["totalCost"] == "1.0000"
    assert usage["daily"] == [
        {"date": "2026-11-25", "requests": 5, "tokens": 9, "cost": 1.0}
    ]


async def test_record_usage_needs_the_usage_write_role(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    key = (await create_key(client, pids["daydream"]))["key"]
    variables = {"keyId": key["id"], "requests": 1, "cost": 2.5}
    callers = [
        ("no token", {}, "UNAUTHORIZED"),
        ("no roles", auth("user-a"), "FORBIDDEN"),
        ("other roles", auth("user-a", roles=("usage:read", "admin")), "FORBIDDEN"),
        ("similar role", auth("user-a", roles=("usage:writer",)), "FORBIDDEN"),
    ]
    wrong = []
    for case, headers, code in callers:
        body = await graphql(client, RECORD_USAGE, variables, headers)
        if (error_code(body), body["data"]) != (code, None):
            wrong.append((case, body))
    assert wrong == []
    assert table_counts(settings)["dev_api_usage_log"] == 0
    assert ok(await client.get(USAGE, headers=auth()))["totalCost"] == "0.0000"
    allowed = await graphql(client, RECORD_USAGE, variables, METERING)
    assert allowed["data"]["recordUsage"]["cost"] == 2.5


async def test_record_usage_rejects_bad_input(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    key = (await create_key(client, pids["daydream"]))["key"]
    inputs: list[tuple[str, dict[str, Any], str]] = [
        ("unknown key", {"keyId": "unknown"}, "NOT_FOUND"),
        ("negative requests", {"requests": -1}, "BAD_REQUEST"),
        ("huge tokens", {"tokens": 2_000_000_000}, "BAD_REQUEST"),
        ("negative cost", {"cost": -0.5}, "BAD_REQUEST"),
        ("bad at", {"at": "noon"}, "BAD_REQUEST"),
    ]
    wrong = []
    for case, fields, code in inputs:
        variables = {"keyId": key["id"], **fields}
        body = await graphql(client, RECORD_USAGE, variables, METERING)
        if error_code(body) != code:
            wrong.append((case, body))
    assert wrong == []
    assert table_counts(settings)["dev_api_usage_log"] == 0


# --- Cache-Control on authenticated routes -------------------------------------------


async def test_authenticated_routes_are_private_no_store_on_success_and_error(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    key_id = (await create_key(client, pids["daydream"]))["key"]["id"]
    model_id = ok(await client.get(MODELS, headers=auth()))["models"][0]["id"]
    wrong = []
    for row in AUTH_ROUTES:
        request = valid_request(
            row, key_id=key_id, model_id=model_id, provider_id=pids["daydream"]
        )
        for headers, status in (
            (auth(), 200),
            ({}, 401),
            ({"authorization": "Bearer not-a-token"}, 401),
        ):
            response = await client.request(**request, headers=headers)
            seen = (response.status_code, response.headers.get("cache-control"))
            if seen != (status, PRIVATE):
                wrong.append((route_id(row), status, seen, response.text[:100]))
    assert wrong == []
