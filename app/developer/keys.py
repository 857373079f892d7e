"""The API keys' database work: a page of the caller's keys, one key, register,
revoke. resolvers/keys.py checks the caller and the input, then calls these.

Expired PymtHouse keys are hidden, as in the original.
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from app.db import Database
from app.developer.keystore import (
    PreparedKey,
    api_key_view,
    enabled_provider,
    key_view,
    register_key,
)
from app.developer.models import BillingProvider, DevApiKey, DevApiProject
from app.types.developer import ApiKey


def _visible(user_id: str) -> sa.ColumnElement[bool]:
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


async def key_page(
    db: Database, user_id: str, *, offset: int, limit: int
) -> tuple[int, list[ApiKey]]:
    """How many keys the user sees, and `limit` of them from `offset`, newest
    first."""
    async with db.session() as session:
        total = (
            await session.execute(
                sa.select(sa.func.count())
                .select_from(DevApiKey)
                .join(
                    BillingProvider,
                    col(BillingProvider.id) == col(DevApiKey.billing_provider_id),
                )
                .where(_visible(user_id))
            )
        ).scalar_one()
        rows = await session.execute(
            _joined()
            .where(_visible(user_id))
            .order_by(col(DevApiKey.created_at).desc(), col(DevApiKey.id))
            .offset(offset)
            .limit(limit)
        )
        return total, [api_key_view(*_typed(row)) for row in rows]


async def visible_key(db: Database, user_id: str, key_id: str) -> ApiKey | None:
    async with db.session() as session:
        row = (
            await session.execute(
                _joined().where(col(DevApiKey.id) == key_id, _visible(user_id))
            )
        ).first()
    return None if row is None else api_key_view(*_typed(row))


async def create_key(
    db: Database,
    *,
    user_id: str,
    billing_provider_id: str,
    prepared: PreparedKey,
    project_id: str | None,
    project_name: str | None,
    label: str | None,
    now: datetime,
) -> tuple[str, ApiKey]:
    """The provider's slug and the registered key, in one transaction."""
    async with db.writer() as session:
        provider = await enabled_provider(session, billing_provider_id)
        key = await register_key(
            session,
            user_id=user_id,
            billing_provider_id=provider.id,
            prepared=prepared,
            project_id=project_id,
            project_name=project_name,
            label=label,
            now=now,
        )
        return provider.slug, await key_view(session, key)


async def revoke_key(
    db: Database, user_id: str, key_id: str, now: datetime
) -> ApiKey | None:
    """The key, revoked (revoking twice keeps the first `revokedAt`); None when the
    user has no such key."""
    async with db.writer() as session:
        key = await session.get(DevApiKey, key_id)
        if key is None or key.user_id != user_id:
            return None
        if key.status != "REVOKED":
            key.status = "REVOKED"
            key.revoked_at = now
            await session.flush()
        return await key_view(session, key)
