"""`billingProviders`: the public catalog of enabled billing providers (§8.1)."""

from __future__ import annotations

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.context import Context
from app.developer.models import BillingProvider
from app.types.developer import BillingProviderType


async def billing_providers(
    info: strawberry.Info[Context, None],
) -> list[BillingProviderType]:
    async with info.context.db.session() as session:
        rows = (
            await session.execute(
                sa.select(BillingProvider)
                .where(col(BillingProvider.enabled))
                .order_by(col(BillingProvider.sort_order), col(BillingProvider.slug))
            )
        ).scalars()
        return [
            BillingProviderType(
                id=p.id,
                slug=p.slug,
                display_name=p.display_name,
                description=p.description,
                icon=p.icon,
                auth_type=p.auth_type,
            )
            for p in rows
        ]
