"""Rate limits per client in four tiers: public, upstream, write, login."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from asgi_lifespan import LifespanManager
from starlette.applications import Starlette

from app.ratelimit import ClientAddresses, MemoryWindows
from tests.support.app import Build, auth

KPI = "/api/v1/dashboard/kpi"
KEYS = "/api/v1/developer/keys"
PROTOCOL_QUERY = {"query": "{ protocol { currentRound } }"}


@asynccontextmanager
async def client_from(
    app: Starlette, address: str = "198.51.100.7"
) -> AsyncIterator[httpx.AsyncClient]:
    async with (
        LifespanManager(app) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app, client=(address, 40000)),
            base_url="http://test",
        ) as http,
    ):
        yield http


def assert_limited(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 429, response.text
    retry_after = int(response.headers["retry-after"])
    assert 1 <= retry_after <= 60
    body: dict[str, Any] = response.json()
    return body


async def test_public_tier_refuses_past_the_budget_with_the_envelope(
    build: Build,
) -> None:
    async with client_from(build(rate_limit_public="3/minute")) as http:
        for _ in range(3):
            assert (await http.get(KPI)).status_code == 200
        body = assert_limited(await http.get(KPI))
    assert body == {"error": {"code": "RATE_LIMITED", "message": "Too many requests"}}


async def test_public_tier_is_per_client_address(build: Build) -> None:
    app = build(rate_limit_public="2/minute")
    async with client_from(app, "198.51.100.1") as first:
        await first.get(KPI)
        await first.get(KPI)
        assert_limited(await first.get(KPI))
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app, client=("198.51.100.2", 1)),
            base_url="http://test",
        ) as second:
            assert (await second.get(KPI)).status_code == 200


async def test_graphql_refusal_uses_the_graphql_error_shape(build: Build) -> None:
    async with client_from(build(rate_limit_public="1/minute")) as http:
        await http.post("/graphql", json=PROTOCOL_QUERY)
        body = assert_limited(await http.post("/graphql", json=PROTOCOL_QUERY))
    [error] = body["errors"]
    assert error["extensions"]["code"] == "RATE_LIMITED"
    assert error["extensions"]["retryAfter"] >= 1


async def test_developer_refusal_uses_the_standard_envelope(build: Build) -> None:
    async with client_from(build(rate_limit_public="1/minute")) as http:
        await http.get(KEYS, headers=auth())
        body = assert_limited(await http.get(KEYS, headers=auth()))
    assert body["success"] is False
    assert body["error"]["code"] == "RATE_LIMITED"
    assert body["error"]["details"]["retryAfter"] >= 1


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
async def test_operations_routes_are_never_limited(build: Build, path: str) -> None:
    async with client_from(build(rate_limit_public="1/minute")) as http:
        for _ in range(5):
            assert (await http.get(path)).status_code == 200


async def test_disabled_limits_refuse_nothing(build: Build) -> None:
    app = build(rate_limits_enabled=False, rate_limit_public="1/minute")
    async with client_from(app) as http:
        for _ in range(5):
            assert (await http.get(KPI)).status_code == 200


async def test_cache_hits_do_not_spend_the_upstream_budget(build: Build) -> None:
    async with client_from(build(rate_limit_upstream="1/minute")) as http:
        first = await http.get(KPI)
        assert first.headers["x-cache"] == "MISS"
        for _ in range(5):
            hit = await http.get(KPI)
            assert hit.status_code == 200
            assert hit.headers["x-cache"] == "HIT"


async def test_misses_spend_the_upstream_budget(build: Build) -> None:
    async with client_from(build(rate_limit_upstream="2/minute")) as http:
        assert (await http.get(f"{KPI}?timeframe=1")).status_code == 200
        assert (await http.get(f"{KPI}?timeframe=2")).status_code == 200
        body = assert_limited(await http.get(f"{KPI}?timeframe=3"))
        assert body["error"]["code"] == "RATE_LIMITED"
        # Hits still come from the cache.
        assert (await http.get(f"{KPI}?timeframe=1")).headers["x-cache"] == "HIT"


async def test_refresh_spends_the_upstream_budget(build: Build) -> None:
    async with client_from(build(rate_limit_upstream="2/minute")) as http:
        await http.get(KPI)  # the miss
        assert (await http.get(f"{KPI}?refresh=1")).status_code == 200
        assert_limited(await http.get(f"{KPI}?refresh=1"))


async def test_graphql_misses_spend_the_upstream_budget(build: Build) -> None:
    async with client_from(build(rate_limit_upstream="1/minute")) as http:
        assert (await http.post("/graphql", json=PROTOCOL_QUERY)).status_code == 200
        # Another shape of the same data is answered from its snapshot: no work.
        same = {"query": "{ protocol { totalBlocks } }"}
        assert (await http.post("/graphql", json=same)).status_code == 200
        other = {"query": "{ fees(days: 30) { totalEth } }"}
        body = assert_limited(await http.post("/graphql", json=other))
    assert body["errors"][0]["extensions"]["code"] == "RATE_LIMITED"


PROJECTS = "/api/v1/developer/projects"
CREATE = {"name": "limited"}


async def test_developer_writes_spend_the_write_budget_per_user(build: Build) -> None:
    async with client_from(build(rate_limit_write="2/minute")) as http:
        for index in range(2):
            project = {"name": f"limited-{index}"}
            response = await http.post(PROJECTS, json=project, headers=auth("user-a"))
            assert response.status_code == 200, response.text
        body = assert_limited(
            await http.post(PROJECTS, json=CREATE, headers=auth("user-a"))
        )
        assert body["error"]["code"] == "RATE_LIMITED"
        assert body["error"]["details"]["retryAfter"] >= 1
        other = await http.post(PROJECTS, json=CREATE, headers=auth("user-b"))
        assert other.status_code == 200
        # Reads are not writes.
        assert (await http.get(KEYS, headers=auth("user-a"))).status_code == 200


# --- Client identity: TRUSTED_PROXIES ---------------------------------------------


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(build: Build) -> None:
    app = build(rate_limit_public="1/minute", trusted_proxies=("10.0.0.0/8",))
    async with client_from(app, "203.0.113.9") as http:
        await http.get(KPI, headers={"x-forwarded-for": "192.0.2.1"})
        # A different claimed address does not buy a new budget.
        assert_limited(await http.get(KPI, headers={"x-forwarded-for": "192.0.2.2"}))


async def test_forwarded_for_is_honoured_from_a_trusted_proxy(build: Build) -> None:
    app = build(rate_limit_public="1/minute", trusted_proxies=("10.0.0.0/8",))
    async with client_from(app, "10.1.2.3") as http:
        first = {"x-forwarded-for": "192.0.2.1"}
        assert (await http.get(KPI, headers=first)).status_code == 200
        assert_limited(await http.get(KPI, headers=first))
        second = {"x-forwarded-for": "192.0.2.2"}
        assert (await http.get(KPI, headers=second)).status_code == 200


def test_the_rightmost_untrusted_hop_is_the_client() -> None:
    clients = ClientAddresses(["10.0.0.0/8", "192.168.1.1"])
    # The client wrote the left entries itself; only our proxies' are believed.
    assert (
        clients.resolve("10.0.0.5", b"6.6.6.6, 203.0.113.9, 192.168.1.1", None)
        == "203.0.113.9"
    )
    assert clients.resolve("10.0.0.5", None, None) == "10.0.0.5"
    assert clients.resolve("10.0.0.5", b"10.0.0.7", None) == "10.0.0.5"
    assert clients.resolve("203.0.113.50", b"1.2.3.4", None) == "203.0.113.50"
    forwarded = b'for=198.51.100.17;proto=https, for="[2001:db8::1]:4711"'
    assert clients.resolve("10.0.0.5", None, forwarded) == "2001:db8::1"
    assert clients.resolve("10.0.0.5", None, b"for=192.0.2.60:8080") == "192.0.2.60"


def test_a_bad_trusted_proxy_entry_is_a_readable_error() -> None:
    with pytest.raises(ValueError, match="not-an-ip"):
        ClientAddresses(["not-an-ip"])


# --- The counters --------------------------------------------------------------------


def test_memory_windows_reset_at_the_window_end() -> None:
    now = [1000.0]
    windows = MemoryWindows(clock=lambda: now[0])
    assert windows.hit("public", "a", 2, 60) == 0
    assert windows.hit("public", "a", 2, 60) == 0
    assert windows.hit("public", "a", 2, 60) == 20  # the window ends at 1020
    now[0] = 1020.0
    assert windows.hit("public", "a", 2, 60) == 0


def test_memory_windows_stay_bounded() -> None:
    now = [0.0]
    windows = MemoryWindows(clock=lambda: now[0], max_keys=10)
    for index in range(10):
        windows.hit("public", str(index), 5, 60)
    now[0] = 61.0  # every window finished: the sweep drops them all
    windows.hit("public", "new", 5, 60)
    assert len(windows._windows) == 1
    for index in range(20):  # all live: the table starts over instead of growing
        windows.hit("public", f"live-{index}", 5, 60)
    assert len(windows._windows) <= 10
