"""Settings, read from the environment by `create_app()` (never at import time).

Every upstream URL is optional in development: an unset URL means "use the built-in
simulator" (reached in-process, no socket). `APP_ENV=production` refuses to start
without all three, so simulated data can never reach real users by accident.
"""

from __future__ import annotations

import math
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says which variable to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=None)

    app_env: Literal["development", "production"] = "development"
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"

    # Upstreams. NAAP_API_SERVER_URL includes the /v1 prefix.
    naap_api_server_url: str | None = None
    subgraph_url: str | None = None
    l1_rpc_url: str | None = None
    simulator_seed: int = 1

    # Per-upstream timeouts (seconds): connect, and a total deadline per call.
    # httpx's read timeout is per chunk, so the total deadline is what bounds a drip.
    upstream_connect_timeout: float = Field(default=3.0, gt=0)
    analytics_timeout: float = Field(default=30.0, gt=0)
    subgraph_timeout: float = Field(default=20.0, gt=0)
    l1_rpc_timeout: float = Field(default=5.0, gt=0)

    # The upstream-call TTL cache (app/cache.py); job feed moves faster.
    upstream_cache_ttl: float = Field(default=60.0, ge=0)
    job_feed_cache_ttl: float = Field(default=5.0, ge=0)
    upstream_cache_max_entries: int = Field(default=2048, ge=1)

    eth_usd_price: float = 3000.0
    graphiql: bool = True

    @field_validator("naap_api_server_url", "subgraph_url", "l1_rpc_url", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # The original shipped `SUBGRAPH_ID=""` and built a broken URL from it;
        # here an empty variable simply means "not configured".
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            return value or None
        return value

    @field_validator("eth_usd_price")
    @classmethod
    def _positive_price(cls, value: float) -> float:
        if not math.isfinite(value) or value <= 0:
            raise ValueError("ETH_USD_PRICE must be a positive number of USD per ETH")
        return value

    @property
    def simulated_upstreams(self) -> tuple[str, ...]:
        """Names of the upstreams served by the built-in simulator."""
        pairs = (
            ("NAAP_API_SERVER_URL", self.naap_api_server_url),
            ("SUBGRAPH_URL", self.subgraph_url),
            ("L1_RPC_URL", self.l1_rpc_url),
        )
        return tuple(name for name, url in pairs if url is None)

    def check_production(self) -> None:
        """Refuse development defaults when APP_ENV=production."""
        if self.app_env != "production":
            return
        missing = self.simulated_upstreams
        if missing:
            raise SettingsError(
                "APP_ENV=production needs real upstreams; set "
                + ", ".join(missing)
                + " (the built-in simulator serves development only)"
            )


def load_settings() -> Settings:
    """Read the environment now, with a readable error instead of a traceback."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise SettingsError(f"invalid configuration: {exc}") from exc
