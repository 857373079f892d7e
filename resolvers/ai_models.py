"""AI models catalog for developers, from the database (seeded).

The database work is in app/developer/catalog.py, imported inside each resolver:
the database stack loads on first use, never at startup.
"""

from __future__ import annotations

import strawberry

from app.context import Context
from app.errors import NotFound
from app.types.developer import AIModel, AIModelList


async def models(
    info: strawberry.Info[Context, None],
    type: str | None = None,
    featured: bool | None = None,
    realtime: bool | None = None,
) -> AIModelList:
    """`featured`/`realtime`: true filters; false or absent does not."""
    ctx = info.context
    await ctx.user()
    from app.developer import catalog

    rows = await catalog.ai_models(
        ctx.db, type=type, featured=bool(featured), realtime=bool(realtime)
    )
    return AIModelList(models=rows, total=len(rows))


async def model(info: strawberry.Info[Context, None], id: str) -> AIModel:
    ctx = info.context
    await ctx.user()
    from app.developer import catalog

    found = await catalog.ai_model(ctx.db, id)
    if found is None:
        raise NotFound("Model not found")
    return found
