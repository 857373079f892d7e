"""`billingProviders`: the public catalog of enabled billing providers.

Its load reads the database through app/developer/catalog.py, imported inside the
load: the database stack loads on first use, never at startup.
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
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
    from app.developer import catalog

    return await catalog.billing_providers(ctx.db)


BILLING_PROVIDERS_FIELD = PublicField(
    SnapshotSpec(
        "billingProviders",
        "dashboard",
        load_billing_providers,
        list[BillingProviderType],
    ),
    billing_providers_args,
)
