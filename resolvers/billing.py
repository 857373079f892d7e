"""`billingProviders`: the public catalog of enabled billing providers."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.developer.models import BillingProvider
from app.types.developer import BillingProviderType


@dataclass(frozen=True, slots=True)
class NoArgs:
    """The public catalog takes no arguments: one snapshot for everyone."""


def billing_providers_args() -> NoArgs:
    return NoArgs()


async def billing_providers(
    info: strawberry.Info[Context, None],
) -> list[BillingProviderType]:
    providers: list[BillingProviderType] = await info.context.snapshot(
        BILLING_PROVIDERS_FIELD.spec, NoArgs()
    )
    return providers


async def load_billing_providers(
    ctx: Context, args: NoArgs
) -> list[BillingProviderType]:
    async with ctx.db.session() as session:
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


BILLING_PROVIDERS_FIELD = PublicField(
    SnapshotSpec(
        "billingProviders",
        "dashboard",
        load_billing_providers,
        list[BillingProviderType],
    ),
    billing_providers_args,
)
