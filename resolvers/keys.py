"""API keys: list, read, register, revoke.

Another user's key is indistinguishable from a missing one (404), so ids leak
nothing. Revoking twice keeps the first `revokedAt`.
"""

from __future__ import annotations

import math

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.context import Context
from app.developer.keystore import (
    api_key_view,
    enabled_provider,
    key_view,
    prepare_key,
    register_key,
)
from app.developer.models import BillingProvider, DevApiKey, DevApiProject
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


def _visible(user_id: str) -> sa.ColumnElement[bool]:
    # Expired PymtHouse keys are hidden, as in the original.
    return sa.and_(
        col(DevApiKey.user_id) == user_id,
        sa.not_(
            sa.and_(
                col(BillingProvider.slug) == "pymthouse",
                col(DevApiKey.status) == "EXPIRED",
            )
        ),
    )


def _typed(
    row: sa.Row[DevApiKey, DevApiProject, BillingProvider],
) -> tuple[DevApiKey, DevApiProject | None, BillingProvider]:
    key, project, provider = row  # the project side is an outer join
    return key, project, provider


def _joined() -> sa.Select[DevApiKey, DevApiProject, BillingProvider]:
    # The project side is an outer join: it may be None at run time.
    return (
        sa.select(DevApiKey, DevApiProject, BillingProvider)
        .join(
            BillingProvider,
            col(BillingProvider.id) == col(DevApiKey.billing_provider_id),
        )
        .outerjoin(DevApiProject, col(DevApiProject.id) == col(DevApiKey.project_id))
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
    async with ctx.db.session() as session:
        total = (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(DevApiKey)
                .join(
                    BillingProvider,
                    col(BillingProvider.id) == col(DevApiKey.billing_provider_id),
                )
                .where(_visible(user.sub))
            )
        ).scalar_one()
        rows = await session.execute(
            _joined()
            .where(_visible(user.sub))
            .order_by(col(DevApiKey.created_at).desc(), col(DevApiKey.id))
            .offset((page - 1) * size)
            .limit(size)
        )
        keys = [api_key_view(*_typed(row)) for row in rows]
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
    async with ctx.db.session() as session:
        row = (
            await session.execute(
                _joined().where(col(DevApiKey.id) == id, _visible(user.sub))
            )
        ).first()
    if row is None:
        raise NotFound(KEY_NOT_FOUND)
    return api_key_view(*_typed(row))


def _required(value: str | None, field: str) -> str:
    if value is None or not value.strip():
        raise BadRequest(f"{field} is required")
    return value


def _optional_text(value: str | None, field: str, limit: int) -> str | None:
    if value is not None and len(value.strip()) > limit:
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
    prepared = await prepare_key(raw_key)
    async with ctx.db.writer() as session:
        provider = await enabled_provider(session, provider_id)
        key = await register_key(
            session,
            user_id=user.sub,
            billing_provider_id=provider.id,
            prepared=prepared,
            project_id=input.project_id,
            project_name=project_name,
            label=label,
            now=ctx.now(),
        )
        view = await key_view(session, key)
    warning = WARNING_LONG_LIVED if provider.slug == "pymthouse" else WARNING
    return CreateApiKeyPayload(key=view, raw_api_key=raw_key, warning=warning)


async def revoke_api_key(
    info: strawberry.Info[Context, None], id: str
) -> RevokeApiKeyPayload:
    ctx = info.context
    user = await ctx.user(write=True)
    async with ctx.db.writer() as session:
        key = await session.get(DevApiKey, id)
        if key is None or key.user_id != user.sub:
            raise NotFound(KEY_NOT_FOUND)
        if key.status != "REVOKED":
            key.status = "REVOKED"
            key.revoked_at = ctx.now()
            await session.flush()
        view = await key_view(session, key)
    return RevokeApiKeyPayload(message="API key revoked", key=view)
