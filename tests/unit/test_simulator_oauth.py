"""The simulator's OAuth 2.0 billing providers: authorization code + PKCE S256
(RFC 6749, RFC 7636), standalone and mounted under a prefix, with faults."""

from __future__ import annotations

import base64
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount

import simulator.oauth
from app.developer.crypto import pkce_pair
from simulator import DEFAULT_OAUTH_CLIENTS, Fault, create_simulator

NOW = datetime(2026, 5, 1, 10, 30, tzinfo=UTC)
CALLBACK = "http://127.0.0.1:8000/api/v1/billing/daydream/callback"
DAYDREAM_ID, DAYDREAM_SECRET = DEFAULT_OAUTH_CLIENTS["daydream"]
KEY_SHAPES = {
    "daydream": r"dd_[0-9A-Za-z]{40}",
    "pymthouse": r"pmth_[0-9A-Za-z]{32}",
    "acme": r"sk_[0-9A-Za-z]{40}",
}
CLIENTS = {**DEFAULT_OAUTH_CLIENTS, "acme": ("acme-client", "acme-secret")}


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@asynccontextmanager
async def client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sim") as http:
        yield http


def authorize_params(
    slug: str = "daydream", challenge: str | None = None, /, **overrides: str | None
) -> dict[str, str]:
    """Valid authorize parameters; `overrides` replace them (None drops one)."""
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": CLIENTS[slug][0],
        "redirect_uri": CALLBACK,
        "state": "st4te-xyz",
        "code_challenge": challenge or pkce_pair()[1],
        "code_challenge_method": "S256",
        "scope": "billing:read",
        **overrides,
    }
    return {key: value for key, value in params.items() if value is not None}


def query_of(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 302, response.text
    return parse_qs(urlsplit(response.headers["location"]).query)


async def get_code(
    http: httpx.AsyncClient,
    slug: str = "daydream",
    prefix: str = "",
    redirect_uri: str = CALLBACK,
) -> tuple[str, str]:
    """Authorize; returns (code, verifier)."""
    verifier, challenge = pkce_pair()
    params = authorize_params(slug, challenge, redirect_uri=redirect_uri)
    response = await http.get(f"{prefix}/oauth/{slug}/authorize", params=params)
    query = query_of(response)
    assert query["state"] == ["st4te-xyz"]
    return query["code"][0], verifier


async def exchange(
    http: httpx.AsyncClient,
    code: str,
    verifier: str,
    slug: str = "daydream",
    prefix: str = "",
    /,
    **overrides: str | None,
) -> httpx.Response:
    """The token request; `overrides` replace form fields (None drops one)."""
    client_id, secret = CLIENTS[slug]
    form: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": CALLBACK,
        "client_id": client_id,
        "client_secret": secret,
        "code_verifier": verifier,
        **overrides,
    }
    data = {key: value for key, value in form.items() if value is not None}
    return await http.post(f"{prefix}/oauth/{slug}/token", data=data)


def assert_oauth_error(response: httpx.Response, error: str, status: int = 400) -> None:
    assert response.status_code == status, response.text
    assert "location" not in response.headers
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["error"] == error
    assert isinstance(body["error_description"], str)
    assert body["error_description"]


# ---------------------------------------------------------------------------
# The happy path.


@pytest.mark.parametrize("slug", ["daydream", "pymthouse", "acme"])
async def test_authorization_code_flow(slug: str) -> None:
    sim = create_simulator(clock=Clock(), oauth_clients=CLIENTS)
    async with client(sim) as http:
        verifier, challenge = pkce_pair()
        params = authorize_params(slug, challenge)
        authorized = await http.get(f"/oauth/{slug}/authorize", params=params)
        assert authorized.headers["location"].startswith(CALLBACK + "?")
        query = query_of(authorized)
        assert query["state"] == ["st4te-xyz"]
        (code,) = query["code"]
        assert re.fullmatch(r"[A-Za-z0-9_-]{43,}", code)
        assert set(sim.state.oauth_codes) == {code}

        response = await exchange(http, code, verifier, slug)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"access_token", "token_type", "api_key", "expires_in"}
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]
    assert re.fullmatch(KEY_SHAPES[slug], body["api_key"])
    assert sim.state.calls == {f"oauth/{slug}/authorize": 1, f"oauth/{slug}/token": 1}


async def test_flow_when_mounted_under_a_prefix() -> None:
    sim = create_simulator(clock=Clock())
    outer = Starlette(routes=[Mount("/_sim", app=sim)])
    callback = "https://app.example/billing/callback?from=sim&x=1"
    async with client(outer) as http:
        code, verifier = await get_code(http, prefix="/_sim", redirect_uri=callback)
        again = await http.get(
            "/_sim/oauth/daydream/authorize",
            params=authorize_params(redirect_uri=callback),
        )
        location = again.headers["location"]
        assert location.startswith("https://app.example/billing/callback?from=sim&x=1&")
        assert "/_sim" not in location
        assert "sim" not in urlsplit(location).netloc
        response = await exchange(
            http, code, verifier, "daydream", "/_sim", redirect_uri=callback
        )
        assert response.status_code == 200, response.text
        assert response.json()["api_key"].startswith("dd_")
        missing = await http.get("/_sim/oauth/nobody/authorize")
        assert (missing.status_code, missing.text) == (404, "404 page not found\n")
    assert sim.state.calls == {"oauth/daydream/authorize": 2, "oauth/daydream/token": 1}


async def test_keys_and_tokens_are_unique_per_exchange() -> None:
    sim = create_simulator(clock=Clock())
    bodies = []
    async with client(sim) as http:
        for _ in range(3):
            code, verifier = await get_code(http)
            bodies.append((await exchange(http, code, verifier)).json())
    assert len({body["api_key"] for body in bodies}) == 3
    assert len({body["access_token"] for body in bodies}) == 3


async def test_same_seed_does_not_repeat_codes_or_keys() -> None:
    keys = []
    for _ in range(2):
        sim = create_simulator(seed=1, clock=Clock())
        async with client(sim) as http:
            code, verifier = await get_code(http)
            assert code not in keys
            keys += [code, (await exchange(http, code, verifier)).json()["api_key"]]
    assert len(set(keys)) == 4


async def test_client_credentials_by_http_basic() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        response = await exchange(
            http, code, verifier, client_id=None, client_secret=None
        )
        assert_oauth_error(response, "invalid_client", 401)  # no credentials at all

        code, verifier = await get_code(http)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            "client_id": DAYDREAM_ID,  # allowed alongside Basic when equal
        }
        basic = httpx.BasicAuth(DAYDREAM_ID, DAYDREAM_SECRET)
        ok = await http.post("/oauth/daydream/token", data=form, auth=basic)
        assert ok.status_code == 200, ok.text
        assert ok.json()["api_key"].startswith("dd_")


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


@pytest.mark.parametrize(
    ("authorization", "extra", "status"),
    [
        (basic(DAYDREAM_ID, "nope"), {}, 401),
        (basic("nobody", DAYDREAM_SECRET), {}, 401),
        ("Basic !!!not-base64!!!", {}, 401),
        ("Basic " + base64.b64encode(b"no-colon").decode(), {}, 401),
        ("Bearer abc", {}, 401),
        (basic(DAYDREAM_ID, DAYDREAM_SECRET), {"client_secret": "x"}, 400),
        (basic(DAYDREAM_ID, DAYDREAM_SECRET), {"client_id": "someone-else"}, 400),
    ],
)
async def test_basic_auth_errors(
    authorization: str, extra: dict[str, str], status: int
) -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "code_verifier": verifier,
            **extra,
        }
        headers = {"authorization": authorization}
        response = await http.post("/oauth/daydream/token", data=form, headers=headers)
        if status == 401:
            assert_oauth_error(response, "invalid_client", 401)
            assert response.headers["www-authenticate"] == 'Basic realm="oauth"'
        else:
            assert_oauth_error(response, "invalid_request")
        # A request that failed before the code was looked at leaves it usable.
        assert (await exchange(http, code, verifier)).status_code == 200


# ---------------------------------------------------------------------------
# Authorize: every invalid request is a 400 without a redirect.


@pytest.mark.parametrize(
    "overrides",
    [
        {"response_type": "token"},
        {"response_type": None},
        {"client_id": "naap-dev-pymthouse"},  # another slug's client
        {"client_id": "nobody"},
        {"client_id": None},
        {"code_challenge_method": "plain"},
        {"code_challenge_method": "s256"},
        {"code_challenge_method": None},
        {"code_challenge": "a" * 42},
        {"code_challenge": "a" * 129},
        {"code_challenge": "a" * 42 + "="},
        {"code_challenge": "a" * 42 + "+"},
        {"code_challenge": None},
        {"state": None},
        {"state": ""},
        {"redirect_uri": None},
        {"redirect_uri": "/api/v1/billing/daydream/callback"},
        {"redirect_uri": "127.0.0.1:8000/callback"},
        {"redirect_uri": "ftp://files.example/callback"},
        {"redirect_uri": "javascript:alert(1)"},
        {"redirect_uri": "http:///no-host"},
        {"redirect_uri": "https://app.example/callback#fragment"},
        {"redirect_uri": "https://app.example:99999/callback"},
        {"redirect_uri": "https://app.example/call back"},
        {"redirect_uri": "https://app.example/caf\u00e9"},
    ],
    ids=lambda overrides: "-".join(f"{k}={v}" for k, v in overrides.items())[:40],
)
async def test_invalid_authorize_requests(overrides: dict[str, str | None]) -> None:
    sim = create_simulator(clock=Clock(), oauth_deny={"daydream"})
    async with client(sim) as http:
        response = await http.get(
            "/oauth/daydream/authorize", params=authorize_params(**overrides)
        )
    assert_oauth_error(response, "invalid_request")
    assert sim.state.oauth_codes == {}


async def test_repeated_authorize_parameter_is_invalid() -> None:
    sim = create_simulator(clock=Clock())
    params = httpx.QueryParams(authorize_params()).add("state", "second")
    async with client(sim) as http:
        response = await http.get("/oauth/daydream/authorize", params=params)
    assert_oauth_error(response, "invalid_request")
    assert "state" in response.json()["error_description"]


async def test_deny_knob_redirects_with_access_denied() -> None:
    sim = create_simulator(clock=Clock(), oauth_deny=["daydream"])
    async with client(sim) as http:
        denied = await http.get(
            "/oauth/daydream/authorize",
            params=authorize_params(redirect_uri=CALLBACK + "?keep=1"),
        )
        assert query_of(denied) == {
            "keep": ["1"],
            "error": ["access_denied"],
            "state": ["st4te-xyz"],
        }
        assert sim.state.oauth_codes == {}
        await get_code(http, "pymthouse")  # other slugs still consent

        sim.state.oauth_deny.discard("daydream")  # the knob is live state
        await get_code(http)
        sim.state.oauth_deny.add("pymthouse")
        again = await http.get(
            "/oauth/pymthouse/authorize", params=authorize_params("pymthouse")
        )
        assert query_of(again)["error"] == ["access_denied"]


async def test_unknown_slug_is_not_found_and_not_counted() -> None:
    sim = create_simulator(clock=Clock(), oauth_clients={"acme": CLIENTS["acme"]})
    async with client(sim) as http:
        for method, path in (
            ("GET", "/oauth/daydream/authorize"),
            ("POST", "/oauth/daydream/token"),
            ("GET", "/oauth/nobody/authorize"),
        ):
            response = await http.request(method, path)
            assert (response.status_code, response.text) == (
                404,
                "404 page not found\n",
            )
        sim.state.oauth_clients["late"] = ("late-id", "late-secret")
        late = await http.get(
            "/oauth/late/authorize",
            params=authorize_params("acme", client_id="late-id"),
        )
        assert late.status_code == 302
    assert sim.state.calls == {"oauth/late/authorize": 1}


# ---------------------------------------------------------------------------
# Token: grant errors.


async def test_wrong_client_secret_is_invalid_client() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        response = await exchange(http, code, verifier, client_secret="wrong")
        assert_oauth_error(response, "invalid_client", 401)
        assert response.headers["www-authenticate"] == 'Basic realm="oauth"'
        other = await exchange(http, code, verifier, client_id="naap-dev-pymthouse")
        assert_oauth_error(other, "invalid_client", 401)
        # An unauthenticated request cannot burn the code.
        assert (await exchange(http, code, verifier)).status_code == 200


async def test_wrong_verifier_is_invalid_grant_and_uses_up_the_code() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        other_verifier, _ = pkce_pair()
        response = await exchange(http, code, other_verifier)
        assert_oauth_error(response, "invalid_grant")
        assert_oauth_error(await exchange(http, code, verifier), "invalid_grant")

        code, _ = await get_code(http)
        malformed = await exchange(http, code, "short")
        assert_oauth_error(malformed, "invalid_grant")


async def test_redirect_uri_must_match_exactly() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        for redirect_uri in (CALLBACK + "/", CALLBACK + "?x=1", CALLBACK.upper()):
            code, verifier = await get_code(http)
            response = await exchange(http, code, verifier, redirect_uri=redirect_uri)
            assert_oauth_error(response, "invalid_grant")


async def test_code_replay_is_invalid_grant_and_revokes_nothing_else() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        first_code, first_verifier = await get_code(http)
        second_code, second_verifier = await get_code(http)
        first = await exchange(http, first_code, first_verifier)
        assert first.status_code == 200
        replay = await exchange(http, first_code, first_verifier)
        assert_oauth_error(replay, "invalid_grant")
        assert "already been used" in replay.json()["error_description"]
        # The replay did not touch the other outstanding code.
        second = await exchange(http, second_code, second_verifier)
        assert second.status_code == 200
        assert second.json()["api_key"] != first.json()["api_key"]


async def test_code_expires_after_sixty_seconds() -> None:
    clock = Clock()
    sim = create_simulator(clock=clock)
    async with client(sim) as http:
        code, verifier = await get_code(http)
        fresh_code, fresh_verifier = await get_code(http)
        clock.now += timedelta(seconds=60)  # still valid at exactly 60 s
        assert (await exchange(http, fresh_code, fresh_verifier)).status_code == 200
        clock.now += timedelta(seconds=1)
        assert_oauth_error(await exchange(http, code, verifier), "invalid_grant")
    assert sim.state.oauth_codes == {}  # expired codes are dropped


async def test_code_issued_to_another_provider_is_invalid_grant() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http, "pymthouse")
        response = await exchange(http, code, verifier)  # at daydream
        assert_oauth_error(response, "invalid_grant")
        # Presented by the wrong client, the code stays usable by its own.
        assert (await exchange(http, code, verifier, "pymthouse")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"grant_type": "client_credentials"}, "unsupported_grant_type"),
        ({"grant_type": "refresh_token"}, "unsupported_grant_type"),
        ({"grant_type": None}, "invalid_request"),
        ({"code": None}, "invalid_request"),
        ({"code": "never-issued"}, "invalid_grant"),
        ({"redirect_uri": None}, "invalid_request"),
        ({"code_verifier": None}, "invalid_request"),
        ({"code_verifier": ""}, "invalid_request"),
    ],
)
async def test_token_request_errors(
    overrides: dict[str, str | None], error: str
) -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        response = await exchange(http, code, verifier, **overrides)
    assert_oauth_error(response, error)


async def test_token_body_must_be_a_form() -> None:
    sim = create_simulator(clock=Clock())
    async with client(sim) as http:
        code, verifier = await get_code(http)
        as_json = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": CALLBACK,
            "client_id": DAYDREAM_ID,
            "client_secret": DAYDREAM_SECRET,
            "code_verifier": verifier,
        }
        response = await http.post("/oauth/daydream/token", json=as_json)
        assert_oauth_error(response, "invalid_request")
        garbage = await http.post(
            "/oauth/daydream/token",
            content=b"\xff\xfe",
            headers={"content-type": "application/x-www-form-urlencoded"},
        )
        assert_oauth_error(garbage, "invalid_request")
        repeated = "&".join(f"{k}={v}" for k, v in as_json.items()) + "&code=again"
        twice = await http.post(
            "/oauth/daydream/token",
            content=repeated.encode(),
            headers={
                "content-type": "application/x-www-form-urlencoded; charset=utf-8"
            },
        )
        assert_oauth_error(twice, "invalid_request")
        assert (await exchange(http, code, verifier)).status_code == 200


# ---------------------------------------------------------------------------
# Faults, call counts, bounded state.


async def test_status_fault_on_the_token_endpoint() -> None:
    faults = {"oauth/daydream/token": Fault(status=503)}
    sim = create_simulator(clock=Clock(), faults=faults)
    async with client(sim) as http:
        code, verifier = await get_code(http)
        response = await exchange(http, code, verifier)
        assert response.status_code == 503
        assert response.json() == {
            "error": "temporarily_unavailable",
            "error_description": "503 Service Unavailable",
        }
        other_code, other_verifier = await get_code(http, "pymthouse")
        ok = await exchange(http, other_code, other_verifier, "pymthouse")
        assert ok.status_code == 200
        sim.state.faults["oauth/daydream/token"] = Fault(status=500)
        failed = await exchange(http, code, verifier)
        assert (failed.status_code, failed.json()["error"]) == (500, "server_error")
        del sim.state.faults["oauth/daydream/token"]
        # The faulted attempts never reached the code.
        assert (await exchange(http, code, verifier)).status_code == 200
    assert sim.state.calls == {
        "oauth/daydream/authorize": 1,
        "oauth/daydream/token": 3,
        "oauth/pymthouse/authorize": 1,
        "oauth/pymthouse/token": 1,
    }


@pytest.mark.parametrize(
    ("status", "error"),
    [(400, "invalid_request"), (401, "invalid_client"), (429, "invalid_request")],
)
async def test_status_fault_bodies_are_oauth_errors(status: int, error: str) -> None:
    faults = {"oauth/daydream/authorize": Fault(status=status)}
    sim = create_simulator(clock=Clock(), faults=faults)
    async with client(sim) as http:
        response = await http.get(
            "/oauth/daydream/authorize", params=authorize_params()
        )
    assert_oauth_error(response, error, status)


async def test_latency_fault_on_the_token_endpoint() -> None:
    faults = {"oauth/daydream/token": Fault(latency=0.05)}
    sim = create_simulator(clock=Clock(), faults=faults)
    async with client(sim) as http:
        code, verifier = await get_code(http)
        started = time.monotonic()
        response = await exchange(http, code, verifier)
        assert time.monotonic() - started >= 0.045
        assert response.status_code == 200


async def test_body_and_wildcard_faults_apply_to_oauth_routes() -> None:
    page = Fault(body=b"<html>maintenance</html>", content_type="text/html")
    sim = create_simulator(
        clock=Clock(), faults={"oauth/daydream/authorize": page, "*": Fault(status=502)}
    )
    async with client(sim) as http:
        response = await http.get(
            "/oauth/daydream/authorize", params=authorize_params()
        )
        assert response.status_code == 200
        assert response.content == b"<html>maintenance</html>"
        token = await http.post("/oauth/daydream/token", data={})
        assert_oauth_error(token, "server_error", 502)


async def test_codes_are_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(simulator.oauth, "OAUTH_MAX_CODES", 3)
    clock = Clock()
    sim = create_simulator(clock=clock)
    async with client(sim) as http:
        issued = [await get_code(http) for _ in range(5)]
        assert list(sim.state.oauth_codes) == [code for code, _ in issued[2:]]
        assert_oauth_error(await exchange(http, *issued[0]), "invalid_grant")
        assert (await exchange(http, *issued[4])).status_code == 200
        clock.now += timedelta(seconds=61)
        await get_code(http)
        assert len(sim.state.oauth_codes) == 1


def test_default_clients_constant() -> None:
    assert dict(DEFAULT_OAUTH_CLIENTS) == {
        "daydream": ("naap-dev-daydream", "naap-dev-daydream-secret"),
        "pymthouse": ("naap-dev-pymthouse", "naap-dev-pymthouse-secret"),
    }
    sim = create_simulator()
    assert sim.state.oauth_clients == dict(DEFAULT_OAUTH_CLIENTS)
    sim.state.oauth_clients["x"] = ("a", "b")
    assert "x" not in DEFAULT_OAUTH_CLIENTS
