"""Projects: list (with key counts) and create.

The database work is in app/developer/projects.py, imported inside each resolver:
the database stack loads on first use, never at startup.
"""

from __future__ import annotations

import strawberry

from app.context import Context
from app.errors import BadRequest
from app.types.developer import (
    CreateProjectInput,
    CreateProjectPayload,
    Project,
)

MAX_NAME = 100


async def projects(info: strawberry.Info[Context, None]) -> list[Project]:
    ctx = info.context
    user = await ctx.user()
    from app.developer import projects as stored

    return await stored.user_projects(ctx.db, user.sub)


async def create_project(
    info: strawberry.Info[Context, None], input: CreateProjectInput
) -> CreateProjectPayload:
    ctx = info.context
    user = await ctx.user(write=True)
    if len(input.name or "") > MAX_NAME:
        raise BadRequest(f"Project name must be {MAX_NAME} characters or less")
    name = (input.name or "").strip()
    if not name:
        raise BadRequest("Project name is required")
    from app.developer import projects as stored

    project = await stored.create_project(ctx.db, user.sub, name, ctx.now())
    return CreateProjectPayload(project=project)
