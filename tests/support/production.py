"""Settings for the production guard's tests: the three upstream URLs (each an
environment variable), secrets that are not the development defaults."""

from __future__ import annotations

from typing import Any

from app.settings import Settings

URL_VARS = ("NAAP_API_SERVER_URL", "SUBGRAPH_URL", "L1_RPC_URL")
URLS = {
    "naap_api_server_url": "https://naap.example/v1",
    "subgraph_url": "https://graph.example/subgraphs/id/abc",
    "l1_rpc_url": "https://rpc.example/key",
}
FIELD_OF = dict(zip(URL_VARS, URLS, strict=True))
# Every variable these tests depend on (the `clean_env` fixture unsets them).
SETTINGS_VARS = (*URL_VARS, "APP_ENV", "ETH_USD_PRICE", "LOG_LEVEL")
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
