"""The billing-provider OAuth key broker end to end, through the app's ASGI interface.

start (REST or GraphQL) -> redirect (302) -> the simulated provider's authorize page
(302, mounted at /_sim) -> callback (HTML page; the code is exchanged in process) ->
result (`complete` with the raw key once, then `redeemed`). The 302s are followed by
hand on the same client; the database is inspected directly with sqlite3.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import time
from contextlib import closing
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette

from app.auth import mint_token
from app.developer.crypto import SecretBox, key_hash, key_prefix
from app.main import create_app
from app.settings import Settings
from simulator import Fault
from tests.support.app import Clock, auth, make_settings, serve, token_for
from tests.support.developer import assert_page, authorize, local, start

ORIGIN = "http://test"
PROVIDERS = "/api/v1/auth/providers"
KEY_PREFIXES = {"daydream": "dd_", "pymthouse": "pmth_"}
TOKEN_FAULT = "oauth/daydream/token"
SESSION_TABLE = "billing_provider_oauth_session"
TTL = 600

START_MUTATION = """
mutation Start($slug: String!) {
  startProviderLogin(slug: $slug) {
    login_session_id auth_url expires_in poll_after_ms
  }
}
"""
RESULT_QUERY = """
query Result($slug: String!, $id: String) {
  providerLoginResult(slug: $slug, login_session_id: $id) {
    status access_token api_key_id expires_in
  }
}
"""


# --- helpers ---------------------------------------------------------------------


async def login(
    client: httpx.AsyncClient, user: str = "user-a", slug: str = "daydream"
) -> tuple[str, str]:
    """Start and authorize: (login_session_id, callback path) ready to call back."""
    started = await start(client, user, slug)
    return started["login_session_id"], await authorize(client, started["auth_url"])


async def result(
    client: httpx.AsyncClient,
    session_id: str,
    user: str = "user-a",
    slug: str = "daydream",
) -> httpx.Response:
    return await client.get(
        f"{PROVIDERS}/{slug}/result",
        params={"login_session_id": session_id},
        headers=auth(user),
    )


async def result_data(
    client: httpx.AsyncClient,
    session_id: str,
    user: str = "user-a",
    slug: str = "daydream",
) -> dict[str, Any]:
    response = await result(client, session_id, user, slug)
    body = response.json()
    assert response.status_code == 200, body
    data: dict[str, Any] = body["data"]
    return data


async def list_keys(client: httpx.AsyncClient, user: str) -> list[dict[str, Any]]:
    response = await client.get("/api/v1/developer/keys", headers=auth(user))
    assert response.status_code == 200, response.text
    keys: list[dict[str, Any]] = response.json()["data"]["keys"]
    return keys


def error_of(response: httpx.Response) -> dict[str, Any]:
    body = response.json()
    assert body["success"] is False, body
    error: dict[str, Any] = body["error"]
    return error


def db_file(settings: Settings) -> Path:
    prefix = "sqlite+aiosqlite:///"
    assert settings.database_url.startswith(prefix)
    return Path(settings.database_url.removeprefix(prefix))


def query(settings: Settings, sql: str, *params: Any) -> list[tuple[Any, ...]]:
    with closing(sqlite3.connect(db_file(settings))) as connection:
        return connection.execute(sql, params).fetchall()


def session_row(settings: Settings, session_id: str) -> dict[str, Any] | None:
    with closing(sqlite3.connect(db_file(settings))) as connection:
        connection.row_factory = sqlite3.Row
        row = connection.execute(
            f"SELECT * FROM {SESSION_TABLE} WHERE login_session_id = ?",  # noqa: S608
            (session_id,),
        ).fetchone()
    return None if row is None else dict(row)


def status_of(settings: Settings, session_id: str) -> str | None:
    row = session_row(settings, session_id)
    return None if row is None else str(row["status"])


def key_count(settings: Settings, user: str | None = None) -> int:
    if user is None:
        rows = query(settings, "SELECT COUNT(*) FROM dev_api_key")
    else:
        rows = query(
            settings, "SELECT COUNT(*) FROM dev_api_key WHERE user_id = ?", user
        )
    return int(rows[0][0])


def all_text_values(settings: Settings) -> list[str]:
    """Every text value in every table of the database."""
    values: list[str] = []
    with closing(sqlite3.connect(db_file(settings))) as connection:
        tables = [
            name
            for (name,) in connection.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'"
            )
        ]
        for table in tables:
            for row in connection.execute(f'SELECT * FROM "{table}"'):  # noqa: S608
                values.extend(v for v in row if isinstance(v, str))
    return values


# --- happy path ------------------------------------------------------------------


@pytest.mark.parametrize("slug", ["daydream", "pymthouse"])
async def test_login_registers_the_provider_key_and_hands_it_out_once(
    client: httpx.AsyncClient, settings: Settings, slug: str
) -> None:
    started = await start(client, "user-a", slug)
    session_id = started["login_session_id"]
    assert len(session_id) == 64
    assert started["auth_url"] == (
        f"{ORIGIN}{PROVIDERS}/{slug}/redirect?login_session_id={session_id}"
    )
    assert started["expires_in"] == TTL
    assert started["poll_after_ms"] > 0
    assert (await result_data(client, session_id, "user-a", slug))[
        "status"
    ] == "pending"

    redirect = await client.get(local(started["auth_url"]))
    assert redirect.status_code == 302
    assert redirect.headers["cache-control"] == "no-store"
    target = urlsplit(redirect.headers["location"])
    assert f"{target.scheme}://{target.netloc}{target.path}" == (
        f"{ORIGIN}/_sim/oauth/{slug}/authorize"
    )
    params = parse_qs(target.query)
    assert params["response_type"] == ["code"]
    assert params["code_challenge_method"] == ["S256"]
    assert params["redirect_uri"] == [f"{ORIGIN}{PROVIDERS}/{slug}/callback"]
    provider = await client.get(local(redirect.headers["location"]))
    assert provider.status_code == 302, provider.text
    callback_url = local(provider.headers["location"])
    assert callback_url.startswith(f"{PROVIDERS}/{slug}/callback?")

    callback = await client.get(callback_url)
    assert_page(callback, 200, "Authentication Complete")

    complete = await result_data(client, session_id, "user-a", slug)
    assert complete["status"] == "complete"
    token = complete["access_token"]
    assert token.startswith(KEY_PREFIXES[slug])
    assert complete["api_key_id"]
    assert token not in callback.text

    stored = query(
        settings,
        "SELECT k.user_id, k.key_prefix, k.key_hash, p.is_default, b.slug"
        " FROM dev_api_key k JOIN dev_api_project p ON p.id = k.project_id"
        " JOIN billing_provider b ON b.id = k.billing_provider_id WHERE k.id = ?",
        complete["api_key_id"],
    )
    assert stored == [("user-a", key_prefix(token), key_hash(token), 1, slug)]

    again = await result_data(client, session_id, "user-a", slug)
    assert again["status"] == "redeemed"
    assert again["access_token"] is None
    row = session_row(settings, session_id)
    assert row is not None
    assert row["access_token_enc"] is None
    assert row["redeemed_at"] is not None
    assert key_count(settings) == 1

    keys = await list_keys(client, "user-a")
    assert [k["id"] for k in keys] == [complete["api_key_id"]]
    key = keys[0]
    assert key["keyPrefix"] == key_prefix(token)
    assert key["keyPrefix"] != token
    assert key["status"] == "ACTIVE"
    assert key["billingProvider"]["slug"] == slug
    assert key["project"]["isDefault"] is True
    assert await list_keys(client, "user-b") == []


async def test_login_session_holds_the_key_only_encrypted_until_it_is_read(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session_id, callback_url = await login(client)
    assert_page(await client.get(callback_url), 200, "Authentication Complete")
    stored = all_text_values(settings)
    row = session_row(settings, session_id)
    assert row is not None
    assert row["status"] == "complete"
    sealed = row["access_token_enc"]
    assert sealed

    token = (await result_data(client, session_id))["access_token"]
    assert token
    assert SecretBox(settings.app_secret).decrypt(sealed) == token
    leaks = [value for value in stored if token in value]
    assert leaks == []
    assert not any(token in value for value in all_text_values(settings))


async def test_provider_key_never_appears_in_logs(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="naap")
    session_id, callback_url = await login(client)
    assert (await client.get(callback_url)).status_code == 200
    token = (await result_data(client, session_id))["access_token"]
    assert (await result_data(client, session_id))["status"] == "redeemed"
    assert token
    assert caplog.records  # DEBUG capture really was on
    assert token not in caplog.text
    for record in caplog.records:
        assert token not in record.getMessage(), record.name


# --- start -----------------------------------------------------------------------


async def test_start_is_unauthorized_without_a_token(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(f"{PROVIDERS}/daydream/start")
    assert response.status_code == 401
    assert error_of(response)["code"] == "UNAUTHORIZED"
    assert query(settings, f"SELECT COUNT(*) FROM {SESSION_TABLE}") == [(0,)]  # noqa: S608


async def test_start_is_forbidden_when_cookie_auth_lacks_csrf(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    cookie = f"naap_auth_token={token_for('user-a')}"
    response = await client.post(
        f"{PROVIDERS}/daydream/start", headers={"cookie": cookie}
    )
    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    assert query(settings, f"SELECT COUNT(*) FROM {SESSION_TABLE}") == [(0,)]  # noqa: S608

    csrf = "a" * 64
    allowed = await client.post(
        f"{PROVIDERS}/daydream/start",
        headers={"cookie": f"{cookie}; naap_csrf_token={csrf}", "x-csrf-token": csrf},
    )
    assert allowed.status_code == 200, allowed.text


async def test_start_rejects_an_unknown_provider(client: httpx.AsyncClient) -> None:
    response = await client.post(f"{PROVIDERS}/acme/start", headers=auth())
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "BAD_REQUEST"
    assert error["message"] == "Unsupported billing provider for OAuth: acme"


async def test_start_is_rate_limited_by_the_login_tier_per_user(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    # A fixed window opens at the first hit: no boundary falls inside this test.
    limited = settings.model_copy(update={"rate_limit_login": "5/minute"})
    app = create_app(limited, simulator=simulator, clock=clock)
    async with serve(app) as client:
        for _ in range(5):
            await start(client, "user-a")
        response = await client.post(f"{PROVIDERS}/daydream/start", headers=auth())
        assert response.status_code == 429
        error = error_of(response)
        assert error["code"] == "RATE_LIMITED"
        retry_after = int(response.headers["retry-after"])
        assert 1 <= retry_after <= 60
        assert error["details"]["retryAfter"] == retry_after
        await start(client, "user-b")  # another user has their own budget


async def test_start_works_over_graphql(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    response = await client.post(
        "/graphql",
        json={"query": START_MUTATION, "variables": {"slug": "daydream"}},
        headers=auth(),
    )
    body = response.json()
    assert response.status_code == 200, body
    assert "errors" not in body, body
    started = body["data"]["startProviderLogin"]
    session_id = started["login_session_id"]
    assert started["auth_url"] == (
        f"{ORIGIN}{PROVIDERS}/daydream/redirect?login_session_id={session_id}"
    )
    assert started["expires_in"] == TTL
    assert started["poll_after_ms"] > 0
    assert status_of(settings, session_id) == "pending"

    polled = await client.post(
        "/graphql",
        json={
            "query": RESULT_QUERY,
            "variables": {"slug": "daydream", "id": session_id},
        },
        headers=auth(),
    )
    assert polled.json()["data"]["providerLoginResult"]["status"] == "pending"
    callback_url = await authorize(client, started["auth_url"])
    assert (await client.get(callback_url)).status_code == 200


# --- redirect --------------------------------------------------------------------


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "?login_session_id=",
        "?login_session_id=abc",
        "?login_session_id=" + "g" * 64,
    ],
)
async def test_redirect_rejects_a_missing_or_malformed_session_id(
    client: httpx.AsyncClient, query_string: str
) -> None:
    response = await client.get(f"{PROVIDERS}/daydream/redirect{query_string}")
    assert response.status_code == 400
    assert response.headers["content-type"].startswith("application/json")
    assert error_of(response)["code"] == "BAD_REQUEST"
    assert "location" not in response.headers


async def test_redirect_rejects_an_unknown_session(client: httpx.AsyncClient) -> None:
    response = await client.get(
        f"{PROVIDERS}/daydream/redirect", params={"login_session_id": "0" * 64}
    )
    assert response.status_code == 400
    assert error_of(response)["message"] == "Invalid or already-redeemed login session"


async def test_redirect_rejects_a_session_when_expired(
    client: httpx.AsyncClient, clock: Clock
) -> None:
    started = await start(client)
    clock.advance(seconds=TTL + 1)
    response = await client.get(local(started["auth_url"]))
    assert response.status_code == 400
    assert error_of(response)["message"] == "Login session expired"


async def test_redirect_rejects_a_session_when_already_past_pending(
    client: httpx.AsyncClient,
) -> None:
    started = await start(client)
    callback_url = await authorize(client, started["auth_url"])
    assert (await client.get(callback_url)).status_code == 200
    response = await client.get(local(started["auth_url"]))
    assert response.status_code == 400
    assert error_of(response)["message"] == "Invalid or already-redeemed login session"


async def test_redirect_rejects_a_session_of_another_provider(
    client: httpx.AsyncClient,
) -> None:
    started = await start(client, slug="daydream")
    response = await client.get(
        f"{PROVIDERS}/pymthouse/redirect",
        params={"login_session_id": started["login_session_id"]},
    )
    assert response.status_code == 400


# --- callback --------------------------------------------------------------------


async def test_callback_fails_when_state_is_missing(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session_id, callback_url = await login(client)
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    response = await client.get(f"{PROVIDERS}/daydream/callback", params={"code": code})
    assert_page(response, 400, "Authentication Failed")
    assert status_of(settings, session_id) == "pending"
    assert key_count(settings) == 0


async def test_callback_fails_when_state_is_unknown(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session_id, callback_url = await login(client)
    code = parse_qs(urlsplit(callback_url).query)["code"][0]
    response = await client.get(
        f"{PROVIDERS}/daydream/callback", params={"code": code, "state": "f" * 32}
    )
    assert_page(response, 400, "Session Expired")
    assert status_of(settings, session_id) == "pending"
    assert key_count(settings) == 0


async def test_callback_fails_when_the_slug_is_not_the_sessions(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session_id, callback_url = await login(client, slug="daydream")
    wrong = callback_url.replace("/daydream/", "/pymthouse/")
    assert_page(await client.get(wrong), 400, "Session Expired")
    unknown = callback_url.replace("/daydream/", "/acme/")
    assert_page(await client.get(unknown), 400, "Authentication Failed")
    assert status_of(settings, session_id) == "pending"
    assert key_count(settings) == 0
    # Nothing was consumed: the genuine callback still completes.
    assert_page(await client.get(callback_url), 200, "Authentication Complete")


async def test_callback_replayed_fails_and_registers_one_key(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    session_id, callback_url = await login(client)
    assert_page(await client.get(callback_url), 200, "Authentication Complete")
    replay = await client.get(callback_url)
    assert_page(replay, 400, "Session Expired")
    assert key_count(settings) == 1
    assert status_of(settings, session_id) == "complete"
    assert (await result_data(client, session_id))["status"] == "complete"


async def test_callback_marks_the_session_expired_when_too_late(
    client: httpx.AsyncClient, settings: Settings, clock: Clock, simulator: Starlette
) -> None:
    session_id, callback_url = await login(client)
    clock.advance(seconds=TTL + 1)
    assert_page(await client.get(callback_url), 400, "Session Expired")
    assert status_of(settings, session_id) == "expired"
    assert key_count(settings) == 0
    assert simulator.state.calls[TOKEN_FAULT] == 0
    assert (await result_data(client, session_id))["status"] == "expired"


async def test_callback_fails_the_session_when_the_provider_denies(
    client: httpx.AsyncClient, settings: Settings, simulator: Starlette
) -> None:
    simulator.state.oauth_deny.add("daydream")
    session_id, callback_url = await login(client)
    assert parse_qs(urlsplit(callback_url).query)["error"] == ["access_denied"]
    assert_page(await client.get(callback_url), 400, "Authentication Failed")
    assert status_of(settings, session_id) == "failed"
    assert key_count(settings) == 0
    assert simulator.state.calls[TOKEN_FAULT] == 0


@pytest.mark.parametrize(
    "fault",
    [
        Fault(status=503),
        Fault(status=401),
        Fault(body=b"<html>not json</html>", content_type="text/html"),
        Fault(body=b'{"api_key": "  "}'),
        Fault(body=b'{"access_token": "only-an-oauth-token"}'),
        Fault(redirect_to="http://elsewhere.example/token"),
    ],
    ids=["503", "401", "not-json", "blank-key", "no-key", "redirect"],
)
async def test_callback_fails_the_session_when_the_token_endpoint_errors(
    client: httpx.AsyncClient, settings: Settings, simulator: Starlette, fault: Fault
) -> None:
    simulator.state.faults[TOKEN_FAULT] = fault
    session_id, callback_url = await login(client)
    assert_page(await client.get(callback_url), 400, "Authentication Failed")
    assert simulator.state.calls[TOKEN_FAULT] == 1
    assert status_of(settings, session_id) == "failed"
    assert key_count(settings) == 0
    row = session_row(settings, session_id)
    assert row is not None
    assert row["access_token_enc"] is None


async def test_callback_fails_quickly_when_the_token_endpoint_times_out(
    settings: Settings, simulator: Starlette, clock: Clock
) -> None:
    quick = make_settings(oauth_timeout=0.3, database_url=settings.database_url)
    simulator.state.faults[TOKEN_FAULT] = Fault(latency=2)
    async with serve(create_app(quick, simulator=simulator, clock=clock)) as client:
        session_id, callback_url = await login(client)
        began = time.monotonic()
        response = await client.get(callback_url)
        elapsed = time.monotonic() - began
    assert_page(response, 400, "Authentication Failed")
    assert elapsed < 2
    assert status_of(settings, session_id) == "failed"
    assert key_count(settings) == 0


async def test_callback_fails_the_session_when_the_key_is_already_registered(
    client: httpx.AsyncClient, settings: Settings, simulator: Starlette
) -> None:
    # A provider handing out the same key twice: the second registration conflicts.
    raw = "dd_" + "K" * 40
    simulator.state.faults[TOKEN_FAULT] = Fault(
        body=b'{"api_key": "%s"}' % raw.encode()
    )
    first_id, first_callback = await login(client, "user-a")
    assert_page(await client.get(first_callback), 200, "Authentication Complete")
    second_id, second_callback = await login(client, "user-b")
    response = await client.get(second_callback)
    assert_page(response, 400, "Authentication Failed")
    assert raw not in response.text
    assert status_of(settings, second_id) == "failed"
    assert key_count(settings) == 1
    assert key_count(settings, "user-b") == 0
    assert (await result_data(client, second_id, "user-b"))["status"] == "failed"
    assert (await result_data(client, first_id, "user-a"))["access_token"] == raw


# --- result ----------------------------------------------------------------------


async def test_result_is_forbidden_to_another_user(
    client: httpx.AsyncClient,
) -> None:
    session_id, callback_url = await login(client, "user-a")
    assert (await client.get(callback_url)).status_code == 200
    response = await result(client, session_id, "user-b")
    assert response.status_code == 403
    assert error_of(response)["message"] == "Session does not belong to this user"
    assert "access_token" not in response.text
    owner = await result_data(client, session_id, "user-a")
    assert owner["status"] == "complete"
    assert owner["access_token"]


async def test_result_is_forbidden_for_another_provider(
    client: httpx.AsyncClient,
) -> None:
    session_id, callback_url = await login(client, slug="daydream")
    assert (await client.get(callback_url)).status_code == 200
    response = await result(client, session_id, slug="pymthouse")
    assert response.status_code == 403
    assert error_of(response)["code"] == "FORBIDDEN"
    assert (await result_data(client, session_id))["status"] == "complete"


async def test_result_is_expired_for_an_unknown_session(
    client: httpx.AsyncClient,
) -> None:
    data = await result_data(client, "0" * 64)
    assert data["status"] == "expired"
    assert data["access_token"] is None


@pytest.mark.parametrize("session_id", ["abc", "z" * 64, "0" * 63])
async def test_result_rejects_a_malformed_session_id(
    client: httpx.AsyncClient, session_id: str
) -> None:
    response = await result(client, session_id)
    assert response.status_code == 400
    assert error_of(response)["code"] == "BAD_REQUEST"


async def test_result_is_unauthorized_without_a_token(
    client: httpx.AsyncClient,
) -> None:
    started = await start(client)
    response = await client.get(
        f"{PROVIDERS}/daydream/result",
        params={"login_session_id": started["login_session_id"]},
    )
    assert response.status_code == 401


async def test_result_is_expired_and_the_session_deleted_when_pending_too_long(
    client: httpx.AsyncClient, settings: Settings, clock: Clock
) -> None:
    started = await start(client)
    session_id = started["login_session_id"]
    clock.advance(seconds=TTL + 1)
    assert (await result_data(client, session_id))["status"] == "expired"
    assert session_row(settings, session_id) is None


async def test_result_is_failed_when_the_login_failed(
    client: httpx.AsyncClient, simulator: Starlette
) -> None:
    simulator.state.faults[TOKEN_FAULT] = Fault(status=503)
    session_id, callback_url = await login(client)
    assert (await client.get(callback_url)).status_code == 400
    data = await result_data(client, session_id)
    assert data["status"] == "failed"
    assert data["access_token"] is None


# --- races -----------------------------------------------------------------------


async def test_concurrent_callbacks_register_exactly_one_key(
    client: httpx.AsyncClient, settings: Settings, simulator: Starlette
) -> None:
    session_id, callback_url = await login(client)
    responses = await asyncio.gather(client.get(callback_url), client.get(callback_url))
    assert sorted(r.status_code for r in responses) == [200, 400]
    assert key_count(settings) == 1
    assert simulator.state.calls[TOKEN_FAULT] == 1
    assert status_of(settings, session_id) == "complete"


async def test_concurrent_result_reads_hand_out_the_key_once(
    client: httpx.AsyncClient,
) -> None:
    session_id, callback_url = await login(client)
    assert (await client.get(callback_url)).status_code == 200
    reads = await asyncio.gather(
        result_data(client, session_id), result_data(client, session_id)
    )
    assert sorted(r["status"] for r in reads) == ["complete", "redeemed"]
    tokens = [r["access_token"] for r in reads if r["access_token"] is not None]
    assert len(tokens) == 1
    assert tokens[0].startswith("dd_")


# --- production ------------------------------------------------------------------


async def test_production_has_no_simulated_providers(settings: Settings) -> None:
    production = make_settings(
        app_env="production",
        naap_api_server_url="http://analytics.example",
        subgraph_url="http://subgraph.example",
        l1_rpc_url="http://rpc.example",
        jwt_secret="x" * 32,
        app_secret="y" * 32,
        database_url=settings.database_url,
    )
    bearer = {"authorization": f"Bearer {mint_token(production, 'user-a')}"}
    async with serve(create_app(production)) as client:
        response = await client.post(f"{PROVIDERS}/daydream/start", headers=bearer)
        assert response.status_code == 400, response.text
        assert error_of(response)["message"] == (
            "Unsupported billing provider for OAuth: daydream"
        )
        sim = await client.get("/_sim/oauth/daydream/authorize")
        assert sim.status_code == 404
