"""Strawberry types of the Developer API: keys, projects, usage, models, OAuth logins.

Field names follow the REST bodies of the API reference. The OAuth broker's
payloads keep the snake_case the reference uses (`login_session_id`, …).
Timestamps are ISO 8601 strings with milliseconds and `Z`.
"""

from __future__ import annotations

import strawberry


@strawberry.type(name="BillingProvider")
class BillingProviderType:
    id: str
    slug: str
    display_name: str
    description: str | None
    icon: str | None
    auth_type: str = strawberry.field(description="`oauth` or `api_key`.")


@strawberry.type
class ProjectRef:
    id: str
    name: str
    is_default: bool


@strawberry.type
class BillingProviderRef:
    id: str
    slug: str
    display_name: str


@strawberry.type(description="A registered provider key; the raw key is never stored.")
class ApiKey:
    id: str
    user_id: str
    project_id: str | None
    billing_provider_id: str
    key_prefix: str = strawberry.field(description="Display prefix, e.g. `pmth_AbCd…`.")
    label: str | None
    project_name: str | None
    status: str = strawberry.field(description="ACTIVE, REVOKED or EXPIRED.")
    seat_id: str | None
    team_id: str | None
    subscription_id: str | None
    created_at: str
    last_used_at: str | None
    revoked_at: str | None
    project: ProjectRef | None
    billing_provider: BillingProviderRef
    expires_at: str | None = strawberry.field(
        default=None, description="Reserved; provider keys carry no known expiry."
    )


@strawberry.type
class PageInfo:
    page: int
    page_size: int
    total: int
    total_pages: int


@strawberry.type
class ApiKeyPage:
    keys: list[ApiKey]
    page_info: PageInfo


@strawberry.type
class CreateApiKeyPayload:
    key: ApiKey
    raw_api_key: str = strawberry.field(
        description="The provider key as submitted: shown in this response only."
    )
    warning: str


@strawberry.type
class RevokeApiKeyPayload:
    message: str
    key: ApiKey


@strawberry.type
class ProjectCounts:
    api_keys: int


@strawberry.type
class Project:
    id: str
    name: str
    is_default: bool
    created_at: str
    counts: ProjectCounts = strawberry.field(name="_count")


@strawberry.type
class CreateProjectPayload:
    project: Project


@strawberry.type
class CostRange:
    min: float
    max: float


@strawberry.type
class AIModel:
    id: str
    name: str
    tagline: str
    type: str
    featured: bool
    realtime: bool
    cost_per_min: CostRange
    latency_p50: int
    cold_start: int
    fps: int
    use_cases: list[str]
    badges: list[str]


@strawberry.type
class AIModelList:
    models: list[AIModel]
    total: int


@strawberry.type
class KeyUsage:
    id: str
    prefix: str
    requests: int
    tokens: int
    cost: float


@strawberry.type
class DailyUsage:
    date: str = strawberry.field(description="UTC date, YYYY-MM-DD.")
    requests: int
    tokens: int
    cost: float


@strawberry.type
class Usage:
    total_keys: int
    active_keys: int
    total_requests: int
    total_cost: str = strawberry.field(description="Sum of costs, 4 decimals.")
    keys: list[KeyUsage]
    daily: list[DailyUsage]


@strawberry.type
class UsageRecord:
    id: str
    key_id: str
    requests: int
    tokens: int
    cost: float
    at: str


@strawberry.type
class ProviderLoginStart:
    login_session_id: str = strawberry.field(name="login_session_id")
    auth_url: str = strawberry.field(
        name="auth_url",
        description="Open in a browser window: it 302s to the provider.",
    )
    expires_in: int = strawberry.field(name="expires_in")
    poll_after_ms: int = strawberry.field(name="poll_after_ms")


@strawberry.type
class ProviderLoginResult:
    status: str = strawberry.field(
        description="pending, processing, complete (once), redeemed, failed or expired."
    )
    access_token: str | None = strawberry.field(
        name="access_token", default=None, description="The provider key, once."
    )
    api_key_id: str | None = strawberry.field(name="api_key_id", default=None)
    expires_in: int | None = strawberry.field(name="expires_in", default=None)


@strawberry.input
class CreateApiKeyInput:
    billing_provider_id: str
    raw_api_key: str
    project_id: str | None = None
    project_name: str | None = None
    label: str | None = None


@strawberry.input
class CreateProjectInput:
    name: str
