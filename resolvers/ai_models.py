"""AI models catalog for developers, from the database (seeded)."""

from __future__ import annotations

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.context import Context
from app.developer.models import DevApiAIModel
from app.errors import NotFound
from app.types.developer import AIModel, AIModelList, CostRange


def _view(m: DevApiAIModel) -> AIModel:
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


async def models(
    info: strawberry.Info[Context, None],
    type: str | None = None,
    featured: bool | None = None,
    realtime: bool | None = None,
) -> AIModelList:
    """`featured`/`realtime`: true filters; false or absent does not."""
    ctx = info.context
    await ctx.user()
    query = sa.select(DevApiAIModel)
    if type:
        query = query.where(col(DevApiAIModel.type) == type)
    if featured:
        query = query.where(col(DevApiAIModel.featured))
    if realtime:
        query = query.where(col(DevApiAIModel.realtime))
    query = query.order_by(col(DevApiAIModel.featured).desc(), col(DevApiAIModel.name))
    async with ctx.db.session() as session:
        rows = [_view(m) for m in (await session.execute(query)).scalars()]
    return AIModelList(models=rows, total=len(rows))


async def model(info: strawberry.Info[Context, None], id: str) -> AIModel:
    ctx = info.context
    await ctx.user()
    async with ctx.db.session() as session:
        row = await session.get(DevApiAIModel, id)
    if row is None:
        raise NotFound("Model not found")
    return _view(row)
