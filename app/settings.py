"""Settings, read from the environment by `create_app()` (never at import time).

Every upstream URL is optional in development: an unset URL means "use the built-in
simulator" (reached in-process, no socket). `APP_ENV=production` refuses to start
without all three, so simulated data can never reach real users by accident.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

from pydantic import BaseModel, Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

# Development defaults. APP_ENV=production refuses to start while any is in use.
DEV_JWT_SECRET = "naap-dev-jwt-secret-do-not-use-in-production"  # noqa: S105
DEV_APP_SECRET = "naap-dev-app-secret-do-not-use-in-production"  # noqa: S105
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./var/naap.db"
PUSH_INTERVAL_FLOOR = 2.0  # seconds: JOB_FEED_PUSH_INTERVAL never polls faster


class OAuthProvider(BaseModel):
    """One billing provider's OAuth 2.0 endpoints (authorization code + PKCE)."""

    model_config = {"frozen": True}

    authorize_url: str
    token_url: str
    client_id: str
    client_secret: str
    redirect_uri: str


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message says which variable to set."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(frozen=True, extra="ignore", env_file=None)

    app_env: Literal["development", "production"] = "development"
    # Where scripts/serve.py (make run) serves, and with how many processes.
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    workers: int = Field(default=1, ge=1)
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

    # Snapshots of public data (app/caching): fresh for `*_fresh` seconds, then
    # served stale for `*_stale` more while one refresh runs.
    cache_url: str | None = None  # redis://host:port/db to share across workers
    cache_max_entries: int = Field(default=10_000, ge=1)
    dashboard_fresh: float = Field(default=60.0, gt=0)
    dashboard_stale: float = Field(default=3600.0, ge=0)
    job_feed_fresh: float = Field(default=5.0, gt=0)
    job_feed_stale: float = Field(default=60.0, ge=0)
    # Push (app/live): seconds between the job feed's polls while anyone listens
    # (values under the floor are raised to it; each wait gets +-10 % jitter), and
    # the long-lived connections (SSE streams, GraphQL WebSockets and GraphQL
    # streams) one worker keeps open before it answers 503 with Retry-After.
    job_feed_push_interval: float = Field(default=5.0, gt=0)
    max_streams_per_worker: int = Field(default=2000, ge=1)

    eth_usd_price: float = 3000.0
    graphiql: bool = True
    # The Network Overview page at `/` (and its files under /static/).
    landing_page: bool = True
    docs: bool = True  # the API reference at /docs (Swagger UI)

    # Developer API: database, authentication, browser access.
    database_url: str = DEFAULT_DATABASE_URL
    db_busy_timeout_ms: int = Field(default=5000, ge=0)
    jwt_algorithm: Literal["HS256", "RS256", "ES256"] = "HS256"
    jwt_secret: str = DEV_JWT_SECRET
    jwt_public_key: str | None = None
    jwt_jwks_url: str | None = None
    jwt_audience: str | None = None
    jwt_issuer: str | None = None
    jwt_leeway: int = Field(default=60, ge=0, le=600)
    # Origins allowed to call authenticated routes from a browser, with cookies.
    cors_origins: Annotated[tuple[str, ...], NoDecode] = ()
    # Encrypts provider keys held between the OAuth callback and the user's read.
    app_secret: str = DEV_APP_SECRET
    # This server's own public origin: the default OAuth redirect URIs hang off it.
    public_base_url: str = "http://127.0.0.1:8000"
    # slug -> endpoints, as JSON. Unset in development: the simulator's provider.
    oauth_providers: dict[str, OAuthProvider] = Field(default_factory=dict)
    oauth_session_ttl: int = Field(default=600, ge=60, le=3600)
    oauth_timeout: float = Field(default=10.0, gt=0)

    # --- Hardening and operations --------------------------------------------------
    # GraphQL: exploration stays on by default; each switch is independent, except
    # that field suggestions ("did you mean ...") go off with introspection.
    graphql_introspection: bool = True
    graphql_max_depth: int = Field(default=12, ge=1)
    graphql_max_aliases: int = Field(default=30, ge=1)
    graphql_max_tokens: int = Field(default=4000, ge=100)
    graphql_max_repeated_fields: int = Field(default=5, ge=1)  # same field, one level
    graphql_max_directives: int = Field(default=5, ge=1)  # per location
    # Persisted operations (app/graphql/persisted.py): the policy for documents
    # that are not registered, Apollo-format manifests that register more, and the
    # bound of the automatic (APQ) store: entries in process, seconds in Redis.
    persisted_operations: Literal["audit", "enforce-anonymous", "off"] = "audit"
    persisted_operations_files: Annotated[tuple[str, ...], NoDecode] = ()
    apq_max_entries: int = Field(default=2_000, ge=1)
    apq_ttl: float = Field(default=86_400.0, gt=0)
    # graphql-transport-ws: seconds a WebSocket may stay open without its
    # connection_init before it is closed with 4408.
    graphql_ws_init_timeout: float = Field(default=10.0, gt=0)
    # Request size caps, checked before anything reads the request.
    max_body_bytes: int = Field(default=1_048_576, ge=1024)  # larger -> 413
    max_query_string_bytes: int = Field(default=4096, ge=256)  # larger -> 414
    max_header_bytes: int = Field(default=16_384, ge=1024)  # all headers -> 431

    # Upstream resilience: one deadline for all upstream work of a request, at most
    # one retry (connect error / 502 / 503 / 504, idempotent calls, within the time
    # left), and a circuit breaker per upstream.
    request_deadline: float = Field(default=25.0, gt=0)
    upstream_retries: int = Field(default=1, ge=0, le=1)
    breaker_failures: int = Field(default=5, ge=1)  # consecutive, to open
    breaker_reset: float = Field(default=30.0, gt=0)  # open -> one half-open probe

    # Operations.
    log_format: Literal["json", "console"] = "json"
    # Peers (IPs or CIDRs) whose X-Forwarded-For / Forwarded headers are believed.
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    rate_limits_enabled: bool = True
    rate_limit_storage: str = "memory://"  # or redis://host:port/db (limits library)
    rate_limit_public: str = "600/minute"  # cached public reads, per client
    rate_limit_upstream: str = "120/minute"  # misses and refresh=1 (reach upstream)
    rate_limit_write: str = "60/minute"  # developer writes (database)
    rate_limit_login: str = "10/minute"  # OAuth start, per user
    metrics_token: str | None = None  # set: /metrics needs "Bearer <token>"
    shutdown_timeout: float = Field(default=20.0, gt=0)

    @field_validator(
        "naap_api_server_url", "subgraph_url", "l1_rpc_url", "cache_url", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # The original shipped `SUBGRAPH_ID=""` and built a broken URL from it;
        # here an empty variable simply means "not configured".
        if isinstance(value, str):
            value = value.strip().rstrip("/")
            return value or None
        return value

    @field_validator("cors_origins", "trusted_proxies", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(o.strip().rstrip("/") for o in value.split(",") if o.strip())
        return value

    @field_validator("persisted_operations_files", mode="before")
    @classmethod
    def _paths(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(p.strip() for p in value.split(",") if p.strip())
        return value

    @field_validator("job_feed_push_interval")
    @classmethod
    def _push_floor(cls, value: float) -> float:
        # A floor, not a refusal: a smaller interval would multiply upstream calls.
        return max(PUSH_INTERVAL_FLOOR, value)

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
        if self.jwt_algorithm == "HS256" and self.jwt_secret == DEV_JWT_SECRET:
            raise SettingsError(
                "APP_ENV=production needs JWT_SECRET (the development secret is public)"
            )
        if self.jwt_algorithm != "HS256" and not (
            self.jwt_public_key or self.jwt_jwks_url
        ):
            raise SettingsError(
                f"JWT_ALGORITHM={self.jwt_algorithm} needs JWT_PUBLIC_KEY "
                "or JWT_JWKS_URL"
            )
        if self.app_secret == DEV_APP_SECRET:
            raise SettingsError(
                "APP_ENV=production needs APP_SECRET (the development secret is public)"
            )


def load_settings() -> Settings:
    """Read the environment now, with a readable error instead of a traceback."""
    try:
        return Settings()
    except ValueError as exc:  # pydantic.ValidationError is a ValueError
        raise SettingsError(f"invalid configuration: {exc}") from exc
