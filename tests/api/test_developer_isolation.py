"""Developer API security and integrity: every bad token on every authenticated
route (REST and GraphQL), the order of checks, CSRF for cookie sessions, CORS,
isolation between users, no half-written rows, and concurrent key creation on
SQLite (PostgreSQL's: tests/integration/test_developer_postgres.py).

Helpers (requests, envelopes, tokens for user-a) come from tests/support/developer.py.
"""

from __future__ import annotations

import base64
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

# python-jose ships no type stubs; tests sign their own tokens with it.
from jose import jwt  # type: ignore[import-untyped]
from starlette.applications import Starlette

from app.auth import AUTH_COOKIE, CSRF_COOKIE, mint_token
from app.main import create_app
from app.settings import Settings
from tests.support.app import (
    TEST_JWT_SECRET,
    Clock,
    auth,
    make_settings,
    open_client,
    token_for,
)
from tests.support.developer import (
    AUTH_ROUTES,
    KEYS,
    MODELS,
    NETWORK_MODELS,
    PRIVATE,
    PROJECTS,
    PROVIDERS,
    USAGE,
    assert_one_project_holds_all,
    create_at_once,
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
    table_counts,
    valid_request,
)

AUD = "naap-api"
APP_ORIGIN = "https://app.example"
EVIL_ORIGIN = "https://evil.example"
MISSING = {"code": "UNAUTHORIZED", "message": "No auth token provided"}
INVALID = {"code": "UNAUTHORIZED", "message": "Invalid or expired token"}
BAD_CSRF = {"code": "FORBIDDEN", "message": "Invalid CSRF token"}
CSRF_URL = "/api/v1/auth/csrf"

Build = Callable[..., Awaitable[httpx.AsyncClient]]


# --- helpers ------------------------------------------------------------------------
@pytest.fixture
async def build(
    settings: Settings, simulator: Starlette, clock: Clock
) -> AsyncIterator[Build]:
    """Opens clients on apps built with setting overrides (default: this test's
    database), closed at teardown."""
    opened: list[Any] = []

    async def open_app(**overrides: Any) -> httpx.AsyncClient:
        values = {"database_url": settings.database_url, **overrides}
        app = create_app(make_settings(**values), simulator=simulator, clock=clock)
        manager, http = await open_client(app)
        opened.append((manager, http))
        return http

    yield open_app
    for manager, http in reversed(opened):
        await http.aclose()
        await manager.__aexit__(None, None, None)


@pytest.fixture
async def pids(client: httpx.AsyncClient) -> dict[str, str]:
    return await provider_ids(client)


def b64url(value: dict[str, Any]) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    values = {"sub": "user-a", "roles": [], "iat": now, "exp": now + 3600, "aud": AUD}
    return {**values, **overrides}


def audience_token(sub: str = "user-a", **overrides: Any) -> str:
    """A token valid for an app whose JWT_AUDIENCE is AUD (overrides: settings)."""
    return mint_token(make_settings(jwt_audience=AUD, **overrides), sub)


# Each is valid for the AUD app but for one defect.
INVALID_TOKENS: dict[str, Callable[[], str]] = {
    "expired": lambda: mint_token(
        make_settings(jwt_audience=AUD),
        "user-a",
        now=time.time() - 7200,
        ttl_seconds=600,
    ),
    "wrong signature": lambda: audience_token(jwt_secret="another-secret-not-ours"),
    "alg none": lambda: f"{b64url({'alg': 'none', 'typ': 'JWT'})}.{b64url(claims())}.",
    "alg none with a signature": lambda: (
        f"{b64url({'alg': 'none'})}.{b64url(claims())}.c2lnbmF0dXJl"
    ),
    "HS512": lambda: jwt.encode(claims(), TEST_JWT_SECRET, algorithm="HS512"),
    "wrong audience": lambda: mint_token(
        make_settings(jwt_audience="another-api"), "user-a"
    ),
    "no audience": lambda: mint_token(make_settings(), "user-a"),
    "not a JWT": lambda: "not-a-jwt",
}


def rejection_problems(
    response: httpx.Response, status: int, error: dict[str, str]
) -> list[str]:
    """Why `response` is not a private standard-envelope `status` with exactly
    `error` ([] when it is)."""
    found = []
    if response.status_code != status:
        found.append(f"status {response.status_code}")
    body = response.json()
    if set(body) != {"success", "error", "meta"} or body.get("error") != error:
        found.append(f"body {body!r}")
    if response.headers.get("cache-control") != PRIVATE:
        found.append(f"cache-control {response.headers.get('cache-control')!r}")
    return found


def bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def cors_headers(response: httpx.Response) -> dict[str, str | None]:
    names = ("access-control-allow-origin", "access-control-allow-credentials")
    return {name: response.headers.get(name) for name in names}


async def csrf_token(client: httpx.AsyncClient) -> str:
    """GET /api/v1/auth/csrf: its token (the client now holds the cookie too)."""
    response = await client.get(CSRF_URL)
    assert response.status_code == 200, response.text
    token: str = response.json()["data"]["token"]
    return token


def cookie_session(client: httpx.AsyncClient, token: str, csrf: str | None) -> None:
    """Make `client` a browser: the JWT (and maybe a CSRF token) in cookies only."""
    client.cookies.clear()
    client.cookies.set(AUTH_COOKIE, token)
    if csrf is not None:
        client.cookies.set(CSRF_COOKIE, csrf)


async def any_ids(client: httpx.AsyncClient, token: str) -> dict[str, str]:
    """Arguments for `valid_request`: a real key of the token's user, a model and
    a provider."""
    providers = await provider_ids(client)
    body = {"billingProviderId": providers["daydream"], "rawApiKey": new_raw_key()}
    key = ok(await client.post(KEYS, json=body, headers=bearer(token)))["key"]["id"]
    model = ok(await client.get(MODELS, headers=bearer(token)))["models"][0]["id"]
    return {"key_id": key, "model_id": model, "provider_id": providers["daydream"]}


NO_IDS = {"key_id": "k", "model_id": "m", "provider_id": "p"}  # auth fails first


# Every Developer API root field that needs a user, with harmless arguments.
GRAPHQL_FIELDS = {
    "apiKeys": "{ apiKeys { pageInfo { total } } }",
    "apiKey": '{ apiKey(id: "x") { id } }',
    "projects": "{ projects { id } }",
    "models": "{ models { total } }",
    "model": '{ model(id: "x") { id } }',
    "usage": "{ usage { totalCost } }",
    "createApiKey": 'mutation { createApiKey(input: {billingProviderId: "x", '
    'rawApiKey: "pmth_x"}) { rawApiKey } }',
    "revokeApiKey": 'mutation { revokeApiKey(id: "x") { message } }',
    "createProject": 'mutation { createProject(input: {name: "x"}) '
    "{ project { id } } }",
    "recordUsage": 'mutation { recordUsage(keyId: "x") { id } }',
}


# --- authentication: REST -----------------------------------------------------------
async def test_authenticated_routes_reject_a_missing_token(
    client: httpx.AsyncClient,
) -> None:
    problems = {}
    for row in AUTH_ROUTES:
        response = await client.request(**valid_request(row, **NO_IDS))
        if found := rejection_problems(response, 401, MISSING):
            problems[route_id(row)] = found
    assert problems == {}


@pytest.mark.parametrize("kind", INVALID_TOKENS)
async def test_authenticated_routes_reject_an_invalid_token_with_one_message(
    build: Build, kind: str
) -> None:
    client = await build(jwt_audience=AUD)
    headers = bearer(INVALID_TOKENS[kind]())
    problems = {}
    for row in AUTH_ROUTES:
        request = valid_request(row, **NO_IDS)
        response = await client.request(**request, headers=headers)
        if found := rejection_problems(response, 401, INVALID):
            problems[route_id(row)] = found
    assert problems == {}


async def test_authenticated_routes_accept_a_token_for_the_configured_audience(
    build: Build,
) -> None:
    """The control for the invalid tokens above: only their defect fails them."""
    client = await build(jwt_audience=AUD)
    ids = await any_ids(client, audience_token())
    wrong = []
    for row in AUTH_ROUTES:
        request = valid_request(row, **ids)
        response = await client.request(**request, headers=bearer(audience_token()))
        if response.status_code != 200:
            wrong.append((route_id(row), response.status_code, response.text[:120]))
    assert wrong == []


# --- authentication: GraphQL --------------------------------------------------------
async def test_graphql_fields_reject_a_missing_token(
    client: httpx.AsyncClient,
) -> None:
    wrong = []
    for field, query in GRAPHQL_FIELDS.items():
        body = await graphql(client, query)
        error = (body.get("errors") or [{}])[0]
        seen = (error_code(body), error.get("message"), body.get("data"))
        if seen != ("UNAUTHORIZED", MISSING["message"], None):
            wrong.append((field, seen))
    assert wrong == []


@pytest.mark.parametrize("kind", INVALID_TOKENS)
async def test_graphql_fields_reject_an_invalid_token_with_one_message(
    build: Build, kind: str
) -> None:
    client = await build(jwt_audience=AUD)
    headers = bearer(INVALID_TOKENS[kind]())
    wrong = []
    for field, query in GRAPHQL_FIELDS.items():
        body = await graphql(client, query, headers=headers)
        error = (body.get("errors") or [{}])[0]
        seen = (error_code(body), error.get("message"), body.get("data"))
        if seen != ("UNAUTHORIZED", INVALID["message"], None):
            wrong.append((field, seen))
    assert wrong == []


async def test_graphql_accepts_a_token_for_the_configured_audience(
    build: Build,
) -> None:
    client = await build(jwt_audience=AUD)
    body = await graphql(
        client, GRAPHQL_FIELDS["usage"], headers=bearer(audience_token())
    )
    assert body == {"data": {"usage": {"totalCost": "0.0000"}}}


# --- the order of checks: token present, CSRF, token valid, then the input ---
# (case, request) that would be a 400 for a signed-in user.
BAD_INPUT_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    (
        "malformed JSON key",
        {
            "method": "POST",
            "url": KEYS,
            "content": b"{",
            "headers": {"content-type": "application/json"},
        },
    ),
    (
        "text/plain key",
        {
            "method": "POST",
            "url": KEYS,
            "content": b"{}",
            "headers": {"content-type": "text/plain"},
        },
    ),
    ("wrong-typed project", {"method": "POST", "url": PROJECTS, "json": {"name": 5}}),
    ("too long usage date", {"method": "GET", "url": f"{USAGE}?from={'2' * 41}"}),
]


def with_headers(request: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    return {**request, "headers": {**request.get("headers", {}), **headers}}


async def test_missing_token_is_reported_before_the_input_is_validated(
    client: httpx.AsyncClient,
) -> None:
    problems = {}
    for case, request in BAD_INPUT_REQUESTS:
        response = await client.request(**with_headers(request, {}))
        if found := rejection_problems(response, 401, MISSING):
            problems[case] = found
    assert problems == {}


async def test_invalid_token_is_reported_before_the_input_is_validated(
    client: httpx.AsyncClient,
) -> None:
    headers = bearer(INVALID_TOKENS["wrong signature"]())
    problems = {}
    for case, request in BAD_INPUT_REQUESTS:
        response = await client.request(**with_headers(request, headers))
        if found := rejection_problems(response, 401, INVALID):
            problems[case] = found
    assert problems == {}


async def test_missing_csrf_is_reported_before_the_body_is_validated(
    client: httpx.AsyncClient,
) -> None:
    cookie_session(client, token_for(), None)
    problems = {}
    for case, request in BAD_INPUT_REQUESTS:
        if request["method"] == "GET":
            continue
        response = await client.request(**with_headers(request, {}))
        if found := rejection_problems(response, 403, BAD_CSRF):
            problems[case] = found
    assert problems == {}


async def test_csrf_is_checked_before_the_token_is_verified(
    client: httpx.AsyncClient,
) -> None:
    cookie_session(client, "not-a-jwt", None)
    response = await client.post(PROJECTS, json={"name": "x"})
    assert error_of(response, 403) == BAD_CSRF
    client.cookies.clear()
    response = await client.post(PROJECTS, json={"name": "x"})
    assert error_of(response, 401) == MISSING


# --- CSRF ---------------------------------------------------------------------------
async def test_csrf_endpoint_sets_a_cookie_equal_to_the_token_it_returns(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get(CSRF_URL)
    assert response.status_code == 200
    token = response.json()["data"]["token"]
    assert re.fullmatch(r"[0-9a-f]{64}", token)
    assert client.cookies[CSRF_COOKIE] == token
    cookie = response.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert "path=/" in cookie
    assert response.headers["cache-control"] == "no-store"
    assert await csrf_token(client) != token  # a fresh one each time


# (case, request builder from a key id and a provider id)
WRITES: dict[str, Callable[[str, str], dict[str, Any]]] = {
    "POST keys": lambda key_id, pid: {
        "method": "POST",
        "url": KEYS,
        "json": {"billingProviderId": pid, "rawApiKey": new_raw_key()},
    },
    "DELETE keys/{id}": lambda key_id, pid: {
        "method": "DELETE",
        "url": f"{KEYS}/{key_id}",
    },
    "POST projects": lambda key_id, pid: {
        "method": "POST",
        "url": PROJECTS,
        "json": {"name": f"P-{uuid.uuid4().hex[:8]}"},
    },
}


@pytest.mark.parametrize("write", WRITES)
async def test_cookie_write_needs_a_csrf_header_equal_to_the_csrf_cookie(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings, write: str
) -> None:
    key_id = (await create_key(client, pids["daydream"]))["key"]["id"]
    request = WRITES[write](key_id, pids["daydream"])
    csrf = await csrf_token(client)
    before = table_counts(settings)
    refused = {
        "no header": (csrf, {}),
        "mismatched header": (csrf, {"x-csrf-token": "f" * 64}),
        "header without the cookie": (None, {"x-csrf-token": csrf}),
        "empty header": (csrf, {"x-csrf-token": ""}),
    }
    problems = {}
    for case, (cookie, headers) in refused.items():
        cookie_session(client, token_for(), cookie)
        response = await client.request(**with_headers(request, headers))
        if found := rejection_problems(response, 403, BAD_CSRF):
            problems[case] = found
    assert problems == {}
    assert table_counts(settings) == before
    client.cookies.clear()
    still = ok(await client.get(f"{KEYS}/{key_id}", headers=auth()))
    assert still["key"]["status"] == "ACTIVE"

    cookie_session(client, token_for(), csrf)
    accepted = await client.request(**with_headers(request, {"x-csrf-token": csrf}))
    assert ok(accepted)


async def test_cookie_reads_need_no_csrf_header(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    ids = await any_ids(client, token_for())
    cookie_session(client, token_for(), None)
    wrong = []
    for row in AUTH_ROUTES:
        if row.methods != ("GET",):
            continue
        response = await client.request(**valid_request(row, **ids))
        if response.status_code != 200:
            wrong.append((route_id(row), response.status_code, response.text[:100]))
    assert wrong == []


async def test_bearer_writes_need_no_csrf_header(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> None:
    key_id = (await create_key(client, pids["daydream"]))["key"]["id"]
    statuses = {}
    for write, build_request in WRITES.items():
        request = with_headers(build_request(key_id, pids["daydream"]), auth())
        statuses[write] = (await client.request(**request)).status_code
    assert statuses == dict.fromkeys(WRITES, 200)


async def test_graphql_mutation_via_cookie_needs_the_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    csrf = await csrf_token(client)
    cookie_session(client, token_for(), csrf)
    mutation = 'mutation { createProject(input: {name: "Web"}) { project { name } } }'
    for headers in ({}, {"x-csrf-token": "0" * 64}):
        body = await graphql(client, mutation, headers=headers)
        assert error_code(body) == "FORBIDDEN", (headers, body)
    body = await graphql(client, mutation, headers={"x-csrf-token": csrf})
    assert body == {"data": {"createProject": {"project": {"name": "Web"}}}}


async def test_graphql_query_via_cookie_needs_no_csrf_header(
    client: httpx.AsyncClient,
) -> None:
    cookie_session(client, token_for(), None)
    body = await graphql(client, "{ projects { name } apiKeys { keys { id } } }")
    assert body == {"data": {"projects": [], "apiKeys": {"keys": []}}}


# --- CORS ---------------------------------------------------------------------------
async def test_allowed_origin_gets_credentialed_cors_on_authenticated_routes(
    build: Build,
) -> None:
    client = await build(cors_origins=(APP_ORIGIN,))
    ids = await any_ids(client, token_for())
    wrong: list[tuple[str, Any]] = []
    for row in AUTH_ROUTES:
        request = valid_request(row, **ids)
        for headers in (auth(), {}):  # success and 401 alike
            response = await client.request(
                **request, headers={**headers, "origin": APP_ORIGIN}
            )
            expected = {
                "access-control-allow-origin": APP_ORIGIN,
                "access-control-allow-credentials": "true",
            }
            if cors_headers(response) != expected:
                wrong.append((route_id(row), cors_headers(response)))
            elif "origin" not in response.headers.get("vary", "").lower():
                wrong.append((route_id(row), "no Vary: Origin"))
    assert wrong == []


@pytest.mark.parametrize("cors_origins", [(APP_ORIGIN,), ()], ids=["set", "unset"])
async def test_other_origin_gets_no_cors_on_authenticated_routes(
    build: Build, cors_origins: tuple[str, ...]
) -> None:
    client = await build(cors_origins=cors_origins)
    wrong = []
    for row in AUTH_ROUTES:
        request = valid_request(row, **NO_IDS)
        for headers in (auth(), {}):
            response = await client.request(
                **request, headers={**headers, "origin": EVIL_ORIGIN}
            )
            if any(cors_headers(response).values()):
                wrong.append((route_id(row), cors_headers(response)))
    assert wrong == []


async def test_public_routes_allow_any_origin_without_credentials(
    build: Build,
) -> None:
    client = await build(cors_origins=(APP_ORIGIN,))
    wrong = []
    for path in (PROVIDERS, NETWORK_MODELS, "/api/v1/dashboard/kpi"):
        for origin in (EVIL_ORIGIN, "https://another.example", "null"):
            response = await client.get(path, headers={"origin": origin})
            seen = cors_headers(response)
            expected = {
                "access-control-allow-origin": "*",
                "access-control-allow-credentials": None,
            }
            if response.status_code != 200 or seen != expected:
                wrong.append((path, origin, response.status_code, seen))
    assert wrong == []


async def test_preflight_from_the_allowed_origin_succeeds(build: Build) -> None:
    client = await build(cors_origins=(APP_ORIGIN,))
    for path, method in ((KEYS, "POST"), (f"{KEYS}/some-id", "DELETE"), (USAGE, "GET")):
        response = await client.options(
            path,
            headers={
                "origin": APP_ORIGIN,
                "access-control-request-method": method,
                "access-control-request-headers": "authorization, content-type, "
                "x-csrf-token",
            },
        )
        assert response.status_code in (200, 204), (method, path)
        assert cors_headers(response) == {
            "access-control-allow-origin": APP_ORIGIN,
            "access-control-allow-credentials": "true",
        }
        allow = response.headers["access-control-allow-methods"]
        assert method in re.split(r"\s*,\s*", allow), (method, allow)
        allowed = response.headers["access-control-allow-headers"].lower()
        for header in ("authorization", "content-type", "x-csrf-token"):
            assert header in allowed, (header, allowed)


async def test_preflight_from_another_origin_gets_no_cors_on_authenticated_routes(
    build: Build,
) -> None:
    client = await build(cors_origins=(APP_ORIGIN,))
    response = await client.options(
        KEYS,
        headers={"origin": EVIL_ORIGIN, "access-control-request-method": "POST"},
    )
    assert cors_headers(response)["access-control-allow-origin"] is None
    assert response.status_code >= 400


# --- isolation between users -------------------------------------------------------
async def key_of_user_a(
    client: httpx.AsyncClient, pids: dict[str, str]
) -> dict[str, Any]:
    """A key of user-a in its own named project, with a usage row."""
    data = await create_key(client, pids["pymthouse"], projectName="A's project")
    key: dict[str, Any] = data["key"]
    await record_usage(client, keyId=key["id"], requests=3, cost=1.5)
    return key


async def assert_untouched(client: httpx.AsyncClient, key: dict[str, Any]) -> None:
    fetched = ok(await client.get(f"{KEYS}/{key['id']}", headers=auth()))["key"]
    assert fetched == key
    assert fetched["status"] == "ACTIVE"
    assert fetched["revokedAt"] is None


async def test_another_user_cannot_read_list_revoke_or_attach_to_keys_over_rest(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    key = await key_of_user_a(client, pids)
    b = auth("user-b")
    read = await client.get(f"{KEYS}/{key['id']}", headers=b)
    assert error_of(read, 404) == {"code": "NOT_FOUND", "message": "API key not found"}
    listed = await client.get(KEYS, headers=b)
    assert ok(listed) == {"keys": []}
    assert listed.json()["meta"]["total"] == 0
    revoke = await client.delete(f"{KEYS}/{key['id']}", headers=b)
    assert error_of(revoke, 404) == {
        "code": "NOT_FOUND",
        "message": "API key not found",
    }
    before = table_counts(settings)
    attach = await client.post(
        KEYS,
        json={
            "billingProviderId": pids["daydream"],
            "rawApiKey": new_raw_key(),
            "projectId": key["projectId"],
        },
        headers=b,
    )
    assert error_of(attach, 400) == {
        "code": "BAD_REQUEST",
        "message": "Invalid projectId",
    }
    assert table_counts(settings) == before
    assert ok(await client.get(PROJECTS, headers=b)) == {"projects": []}
    usage = ok(await client.get(USAGE, headers=b))
    assert (usage["totalKeys"], usage["totalRequests"], usage["keys"]) == (0, 0, [])
    await assert_untouched(client, key)


async def test_another_user_cannot_read_list_revoke_or_attach_to_keys_over_graphql(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    key = await key_of_user_a(client, pids)
    b = auth("user-b")
    by_id = {"id": key["id"]}
    read = await graphql(
        client, "query Read($id: String!) { apiKey(id: $id) { id } }", by_id, b
    )
    assert error_code(read) == "NOT_FOUND"
    listed = await graphql(
        client,
        "{ apiKeys { keys { id } pageInfo { total } } projects { id } }",
        headers=b,
    )
    assert listed["data"] == {
        "apiKeys": {"keys": [], "pageInfo": {"total": 0}},
        "projects": [],
    }
    revoke = await graphql(
        client,
        "mutation Revoke($id: String!) { revokeApiKey(id: $id) { message } }",
        by_id,
        b,
    )
    assert error_code(revoke) == "NOT_FOUND"
    before = table_counts(settings)
    attach = await graphql(
        client,
        "mutation Attach($input: CreateApiKeyInput!) "
        "{ createApiKey(input: $input) { rawApiKey } }",
        {
            "input": {
                "billingProviderId": pids["daydream"],
                "rawApiKey": new_raw_key(),
                "projectId": key["projectId"],
            }
        },
        headers=b,
    )
    assert error_code(attach) == "BAD_REQUEST"
    assert attach["errors"][0]["message"] == "Invalid projectId"
    assert table_counts(settings) == before
    usage = await graphql(client, "{ usage { totalRequests keys { id } } }", headers=b)
    assert usage["data"] == {"usage": {"totalRequests": 0, "keys": []}}
    await assert_untouched(client, key)


# --- no half-written rows ----------------------------------------------------------
NATIVE_A = f"naap_{'1' * 16}_{'a' * 48}"
NATIVE_SAME_LOOKUP = f"naap_{'1' * 16}_{'b' * 48}"


def failing_creates(
    pids: dict[str, str], foreign_project: str
) -> list[tuple[str, str, dict[str, Any], int]]:
    """(case, path, body, status) for user-b, each failing after some work."""
    key = {"billingProviderId": pids["daydream"], "rawApiKey": new_raw_key()}
    named = {**key, "projectName": "B's new project"}
    return [
        (
            "unknown provider",
            KEYS,
            {**named, "billingProviderId": str(uuid.UUID(int=9))},
            400,
        ),
        ("foreign projectId", KEYS, {**key, "projectId": foreign_project}, 400),
        ("unknown projectId", KEYS, {**key, "projectId": str(uuid.uuid4())}, 400),
        ("duplicate key, default project", KEYS, {**key, "rawApiKey": NATIVE_A}, 409),
        ("duplicate key, named project", KEYS, {**named, "rawApiKey": NATIVE_A}, 409),
        (
            "native key whose lookup id is taken",
            KEYS,
            {**named, "rawApiKey": NATIVE_SAME_LOOKUP},
            409,
        ),
        ("wrong-typed label", KEYS, {**named, "label": 5}, 400),
        ("wrong-typed rawApiKey", KEYS, {**named, "rawApiKey": []}, 400),
        ("label too long", KEYS, {**named, "label": "L" * 101}, 400),
        ("rawApiKey too long", KEYS, {**named, "rawApiKey": "k" * 4097}, 400),
        ("projectName too long", KEYS, {**key, "projectName": "P" * 101}, 400),
        ("blank rawApiKey", KEYS, {**named, "rawApiKey": " "}, 400),
        ("project name too long", PROJECTS, {"name": "N" * 101}, 400),
        ("duplicate project name", PROJECTS, {"name": "B's project"}, 400),
    ]


async def test_a_failed_request_leaves_no_rows_behind(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    created = await create_key(client, pids["daydream"], NATIVE_A, projectName="A")
    b = auth("user-b")
    ok(await client.post(PROJECTS, json={"name": "B's project"}, headers=b))
    wrong = []
    for case, path, body, status in failing_creates(pids, created["key"]["projectId"]):
        before = table_counts(settings)
        response = await client.post(path, json=body, headers=b)
        after = table_counts(settings)
        if response.status_code != status or after != before:
            wrong.append((case, response.status_code, before, after))
    assert wrong == []
    projects = ok(await client.get(PROJECTS, headers=b))["projects"]
    assert [(p["name"], p["_count"]["apiKeys"]) for p in projects] == [
        ("B's project", 0)
    ]
    assert sql(settings, "SELECT count(*) FROM dev_api_key") == [(1,)]


async def test_a_disabled_provider_leaves_no_default_project_behind(
    client: httpx.AsyncClient, pids: dict[str, str], settings: Settings
) -> None:
    sql(settings, "UPDATE billing_provider SET enabled = 0 WHERE slug = 'pymthouse'")
    before = table_counts(settings)
    response = await client.post(
        KEYS,
        json={"billingProviderId": pids["pymthouse"], "rawApiKey": new_raw_key()},
        headers=auth("user-b"),
    )
    assert error_of(response, 400)["message"] == "Invalid or disabled billing provider"
    assert table_counts(settings) == before


# --- concurrency --------------------------------------------------------------------


async def test_concurrent_creates_share_one_default_project_on_sqlite(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    responses = await create_at_once(client, "burst", 20)
    await assert_one_project_holds_all(client, responses, "default project")
    rows = sql(settings, "SELECT count(*) FROM dev_api_project WHERE user_id='burst'")
    assert rows == [(1,)]
