"""API keys: list, read, register, revoke.

Another user's key is indistinguishable from a missing one (404), so ids leak
nothing. Revoking twice keeps the first `revokedAt`. The database work is in
app/developer/keys.py, imported inside each resolver: the database stack loads on
first use, never at startup.
"""

from __future__ import annotations

import math

import strawberry

from app.context import Context
from app.errors import BadRequest, NotFound
from app.types.developer import (
    ApiKey,
    ApiKeyPage,
    CreateApiKeyInput,
    CreateApiKeyPayload,
    PageInfo,
    RevokeApiKeyPayload,
)

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100
MAX_LABEL = 100
KEY_NOT_FOUND = "API key not found"
WARNING = "Store this key securely. It will not be shown again."
WARNING_LONG_LIVED = (
    "Store this key securely. It is long-lived until revoked and will not be "
    "shown again."
)


async def api_keys(
    info: strawberry.Info[Context, None],
    page: int | None = None,
    page_size: int | None = None,
) -> ApiKeyPage:
    ctx = info.context
    user = await ctx.user()
    page = max(1, page or 1)
    size = min(MAX_PAGE_SIZE, max(1, page_size or DEFAULT_PAGE_SIZE))
    from app.developer import keys as stored

    total, keys = await stored.key_page(
        ctx.db, user.sub, offset=(page - 1) * size, limit=size
    )
    return ApiKeyPage(
        keys=keys,
        page_info=PageInfo(
            page=page,
            page_size=size,
            total=total,
            total_pages=math.ceil(total / size),
        ),
    )


async def api_key(info: strawberry.Info[Context, None], id: str) -> ApiKey:
    ctx = info.context
    user = await ctx.user()
    from app.developer import keys as stored

    key = await stored.visible_key(ctx.db, user.sub, id)
    if key is None:
        raise NotFound(KEY_NOT_FOUND)
    return key


def _required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise BadRequest(f"{field} is required")
    return value


def _optional_text(value: str | None, field: str, limit: int) -> str | None:
    # The text as given is what is stored (a label's column holds `limit`).
    if value is not None and len(value) > limit:
        raise BadRequest(f"{field} must be {limit} characters or less")
    return value


async def create_api_key(
    info: strawberry.Info[Context, None], input: CreateApiKeyInput
) -> CreateApiKeyPayload:
    ctx = info.context
    user = await ctx.user(write=True)
    provider_id = _required(input.billing_provider_id, "billingProviderId")
    raw_key = _required(input.raw_api_key, "rawApiKey")
    label = _optional_text(input.label, "label", MAX_LABEL)
    project_name = _optional_text(input.project_name, "projectName", MAX_LABEL)
    from app.developer import keys as stored
    from app.developer.keystore import prepare_key

    provider_slug, view = await stored.create_key(
        ctx.db,
        user_id=user.sub,
        billing_provider_id=provider_id,
        prepared=await prepare_key(raw_key),
        project_id=input.project_id,
        project_name=project_name,
        label=label,
        now=ctx.now(),
    )
    warning = WARNING_LONG_LIVED if provider_slug == "pymthouse" else WARNING
    return CreateApiKeyPayload(key=view, raw_api_key=raw_key, warning=warning)


async def revoke_api_key(
    info: strawberry.Info[Context, None], id: str
) -> RevokeApiKeyPayload:
    ctx = info.context
    user = await ctx.user(write=True)
    from app.developer import keys as stored

    view = await stored.revoke_key(ctx.db, user.sub, id, ctx.now())
    if view is None:
        raise NotFound(KEY_NOT_FOUND)
    return RevokeApiKeyPayload(message="API key revoked", key=view)
