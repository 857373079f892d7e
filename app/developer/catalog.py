"""The seeded catalogs' database work: AI models (listed and read by
resolvers/ai_models.py) and the enabled billing providers (the public
`billingProviders` snapshot of resolvers/billing.py)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel import col

from app.db import Database
from app.developer.models import BillingProvider, DevApiAIModel
from app.types.developer import AIModel, BillingProviderType, CostRange


def _model_view(m: DevApiAIModel) -> AIModel:
    return AIModel(
        id=m.id,
        name=m.name,
        tagline=m.tagline,
        type=m.type,
        featured=m.featured,
        realtime=m.realtime,
        cost_per_min=CostRange(min=m.cost_per_min_min, max=m.cost_per_min_max),
        latency_p50=m.latency_p50,
        cold_start=m.cold_start,
        fps=m.fps,
        use_cases=list(m.use_cases),
        badges=list(m.badges),
    )


async def ai_models(
    db: Database, *, type: str | None, featured: bool, realtime: bool
) -> list[AIModel]:
    """Featured first, then by name; each true flag filters, a type matches
    exactly."""
    query = sa.select(DevApiAIModel)
    if type:
        query = query.where(col(DevApiAIModel.type) == type)
    if featured:
        query = query.where(col(DevApiAIModel.featured))
    if realtime:
        query = query.where(col(DevApiAIModel.realtime))
    query = query.order_by(col(DevApiAIModel.featured).desc(), col(DevApiAIModel.name))
    async with db.session() as session:
        return [_model_view(m) for m in (await session.execute(query)).scalars()]


async def ai_model(db: Database, model_id: str) -> AIModel | None:
    async with db.session() as session:
        row = await session.get(DevApiAIModel, model_id)
    return None if row is None else _model_view(row)


async def billing_providers(db: Database) -> list[BillingProviderType]:
    """The enabled providers, in their sort order."""
    async with db.session() as session:
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
