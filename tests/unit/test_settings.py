"""Settings: URL normalisation, ETH_USD_PRICE validation, the production check, and
reading the environment only when asked (never at import time). `create_app`'s
side is in tests/api/test_create_app.py, a bare import's in
tests/integration/test_scripts.py."""

from __future__ import annotations

import pytest

import app.main
from app.main import create_app
from app.settings import Settings, SettingsError, load_settings
from tests.support.production import FIELD_OF, URL_VARS, URLS

pytestmark = pytest.mark.usefixtures("clean_env")


# --- the production guard -----------------------------------------------------------


def test_check_production_allows_development_without_urls() -> None:
    settings = Settings(app_env="development", **dict.fromkeys(URLS))

    settings.check_production()  # no error

    assert settings.simulated_upstreams == URL_VARS


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
