"""`create_app` and settings: the production guard refuses missing upstream URLs
before anything is built, a production app starts without touching the network,
and `create_app()` without settings reads the environment then."""

from __future__ import annotations

import itertools
import socket
from typing import Any

import pytest
from asgi_lifespan import LifespanManager

from app.main import create_app
from app.settings import SettingsError
from tests.support.production import (
    FIELD_OF,
    PRODUCTION_SECRETS,
    URL_VARS,
    URLS,
    production,
)

pytestmark = pytest.mark.usefixtures("clean_env")

MISSING_SETS = [
    combo for size in (1, 2, 3) for combo in itertools.combinations(URL_VARS, size)
]


@pytest.mark.parametrize("missing", MISSING_SETS, ids="+".join)
def test_create_app_refuses_production_when_urls_missing(
    missing: tuple[str, ...],
) -> None:
    urls = {
        field: None if var in missing else URLS[field]
        for var, field in FIELD_OF.items()
    }

    with pytest.raises(SettingsError) as caught:
        create_app(production(**urls))

    message = str(caught.value)
    for var in URL_VARS:
        assert (var in message) == (var in missing), message


def test_create_app_refuses_production_when_a_url_is_blank() -> None:
    settings = production(**{**URLS, "subgraph_url": "   "})

    with pytest.raises(SettingsError, match="SUBGRAPH_URL"):
        create_app(settings)


async def test_create_app_builds_in_production_without_touching_the_network(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts: list[str] = []

    def refuse(what: str) -> Any:
        def blocked(*args: Any, **kwargs: Any) -> Any:
            attempts.append(what)
            raise OSError(f"network touched: {what}")

        return blocked

    monkeypatch.setattr(socket, "getaddrinfo", refuse("getaddrinfo"))
    monkeypatch.setattr(socket, "create_connection", refuse("create_connection"))
    monkeypatch.setattr(socket.socket, "connect", refuse("connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("connect_ex"))

    application = create_app(production(**URLS))
    async with LifespanManager(application):
        services = application.state.services
        assert services.settings.simulated_upstreams == ()
        assert not services.analytics.simulated
        assert not services.subgraph.simulated
        assert not services.l1.simulated

    assert attempts == []


def test_create_app_without_settings_reads_environment_then(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("NAAP_API_SERVER_URL", URLS["naap_api_server_url"])

    with pytest.raises(SettingsError) as caught:
        create_app()

    assert "SUBGRAPH_URL" in str(caught.value)
    assert "L1_RPC_URL" in str(caught.value)
    assert "NAAP_API_SERVER_URL" not in str(caught.value)


async def test_create_app_without_settings_uses_environment_urls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("APP_ENV", "production")
    monkeypatch.setenv("LOG_LEVEL", "warning")
    for name, value in PRODUCTION_SECRETS.items():
        monkeypatch.setenv(name.upper(), value)
    for var in URL_VARS:
        monkeypatch.setenv(var, URLS[FIELD_OF[var]] + "/")

    application = create_app()
    async with LifespanManager(application):
        settings = application.state.services.settings

    assert settings.app_env == "production"
    assert settings.naap_api_server_url == URLS["naap_api_server_url"]
    assert settings.simulated_upstreams == ()
