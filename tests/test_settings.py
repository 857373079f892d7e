"""Settings: URL normalisation, ETH_USD_PRICE validation, the production guard, and
reading the environment only when asked (never at import time)."""

from __future__ import annotations

import itertools
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from asgi_lifespan import LifespanManager

import app.main
from app.main import create_app
from app.settings import Settings, SettingsError, load_settings

ROOT = Path(__file__).resolve().parents[1]
URL_VARS = ("NAAP_API_SERVER_URL", "SUBGRAPH_URL", "L1_RPC_URL")
URLS = {
    "naap_api_server_url": "https://naap.example/v1",
    "subgraph_url": "https://graph.example/subgraphs/id/abc",
    "l1_rpc_url": "https://rpc.example/key",
}
FIELD_OF = dict(zip(URL_VARS, URLS, strict=True))


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every variable these tests depend on starts unset."""
    for name in (*URL_VARS, "APP_ENV", "ETH_USD_PRICE", "LOG_LEVEL"):
        monkeypatch.delenv(name, raising=False)


PRODUCTION_SECRETS = {
    "jwt_secret": "a-real-production-jwt-secret",
    "app_secret": "a-real-production-app-secret",
}


def production(**urls: str | None) -> Settings:
    values: dict[str, Any] = {
        "app_env": "production",
        "log_level": "warning",
        **PRODUCTION_SECRETS,
    }
    values.update(urls)
    return Settings(**values)


# --- the production guard -----------------------------------------------------------
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


def test_check_production_allows_development_without_urls() -> None:
    settings = Settings(app_env="development", **dict.fromkeys(URLS))

    settings.check_production()  # no error

    assert settings.simulated_upstreams == URL_VARS


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


# --- URL normalisation --------------------------------------------------------------
@pytest.mark.parametrize("blank", ["", " ", "\t \n", "/", " // "])
def test_blank_url_is_unset_and_simulated(blank: str) -> None:
    settings = Settings(naap_api_server_url=blank, subgraph_url=None, l1_rpc_url=None)

    assert settings.naap_api_server_url is None
    assert "NAAP_API_SERVER_URL" in settings.simulated_upstreams


@pytest.mark.parametrize("var", URL_VARS)
def test_blank_url_from_environment_is_unset(
    monkeypatch: pytest.MonkeyPatch, var: str
) -> None:
    monkeypatch.setenv(var, "   ")

    settings = load_settings()

    assert getattr(settings, FIELD_OF[var]) is None
    assert var in settings.simulated_upstreams


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://naap.example/v1/", "https://naap.example/v1"),
        ("  https://naap.example/v1//  ", "https://naap.example/v1"),
        ("https://naap.example/v1", "https://naap.example/v1"),
    ],
)
@pytest.mark.parametrize("var", URL_VARS)
def test_url_is_trimmed_and_loses_trailing_slash(
    monkeypatch: pytest.MonkeyPatch, var: str, raw: str, expected: str
) -> None:
    monkeypatch.setenv(var, raw)

    settings = load_settings()

    assert getattr(settings, FIELD_OF[var]) == expected
    assert var not in settings.simulated_upstreams


@pytest.mark.parametrize(
    ("set_vars", "simulated"),
    [
        ((), URL_VARS),
        (("NAAP_API_SERVER_URL",), ("SUBGRAPH_URL", "L1_RPC_URL")),
        (("SUBGRAPH_URL", "L1_RPC_URL"), ("NAAP_API_SERVER_URL",)),
        (URL_VARS, ()),
    ],
)
def test_simulated_upstreams_lists_the_unset_urls(
    monkeypatch: pytest.MonkeyPatch,
    set_vars: tuple[str, ...],
    simulated: tuple[str, ...],
) -> None:
    for var in set_vars:
        monkeypatch.setenv(var, URLS[FIELD_OF[var]])

    assert load_settings().simulated_upstreams == simulated


# --- ETH_USD_PRICE ------------------------------------------------------------------
@pytest.mark.parametrize(
    "raw", ["0", "-1", "-0.5", "nan", "NaN", "inf", "-inf", "Infinity", "abc", ""]
)
def test_invalid_eth_usd_price_is_a_settings_error(
    monkeypatch: pytest.MonkeyPatch, raw: str
) -> None:
    monkeypatch.setenv("ETH_USD_PRICE", raw)

    with pytest.raises(SettingsError, match=r"(?i)eth_usd_price"):
        load_settings()


@pytest.mark.parametrize(("raw", "expected"), [("2500.5", 2500.5), (" 3000 ", 3000)])
def test_valid_eth_usd_price_is_read_from_environment(
    monkeypatch: pytest.MonkeyPatch, raw: str, expected: float
) -> None:
    monkeypatch.setenv("ETH_USD_PRICE", raw)

    assert load_settings().eth_usd_price == expected


def test_eth_usd_price_defaults_to_3000() -> None:
    assert load_settings().eth_usd_price == 3000.0


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan"), float("inf")])
def test_invalid_eth_usd_price_argument_is_rejected(value: float) -> None:
    with pytest.raises(ValueError, match="ETH_USD_PRICE"):
        Settings(eth_usd_price=value)


# --- the environment is read on demand ----------------------------------------------
def test_environment_set_after_import_is_read_by_load_settings(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert app.main.create_app is create_app  # imported at module load
    monkeypatch.setenv("NAAP_API_SERVER_URL", "https://late.example/v1/")
    monkeypatch.setenv("ETH_USD_PRICE", "1234")

    settings = load_settings()

    assert settings.naap_api_server_url == "https://late.example/v1"
    assert settings.eth_usd_price == 1234


def test_settings_read_environment_at_each_construction(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SUBGRAPH_URL", "https://one.example")
    first = Settings()
    monkeypatch.setenv("SUBGRAPH_URL", "https://two.example")
    second = Settings()

    assert (first.subgraph_url, second.subgraph_url) == (
        "https://one.example",
        "https://two.example",
    )


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


def test_importing_the_app_reads_no_environment() -> None:
    # Variables that would fail settings validation: importing must not notice.
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in (*URL_VARS, "APP_ENV", "ETH_USD_PRICE")
    }
    env.update({"APP_ENV": "production", "ETH_USD_PRICE": "nan", "PORT": "0"})
    script = (
        "import app.main, app.schema, app.settings\n"
        "try:\n"
        "    app.settings.load_settings()\n"
        "except app.settings.SettingsError:\n"
        "    print('rejected-on-demand')\n"
    )

    result = subprocess.run(  # noqa: S603 - fixed interpreter and script
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "rejected-on-demand"
