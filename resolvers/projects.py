"""Projects: list (with key counts) and create."""

from __future__ import annotations

import sqlalchemy as sa
import strawberry
from sqlmodel import col

from app.context import Context
from app.developer.models import DevApiKey, DevApiProject, iso_ms
from app.errors import BadRequest
from app.types.developer import (
    CreateProjectInput,
    CreateProjectPayload,
    Project,
    ProjectCounts,
)

MAX_NAME = 100


def _view(project: DevApiProject, key_count: int) -> Project:
    return Project(
        id=project.id,
        name=project.name,
        is_default=project.is_default,
        created_at=iso_ms(project.created_at) or "",
        counts=ProjectCounts(api_keys=key_count),
    )


async def projects(info: strawberry.Info[Context, None]) -> list[Project]:
    ctx = info.context
    user = await ctx.user()
    keys = sa.func.count(col(DevApiKey.id))
    async with ctx.db.session() as session:
        rows = await session.execute(
            sa.select(DevApiProject, keys)
            .outerjoin(DevApiKey, col(DevApiKey.project_id) == col(DevApiProject.id))
            .where(col(DevApiProject.user_id) == user.sub)
            .group_by(col(DevApiProject.id))
            .order_by(col(DevApiProject.is_default).desc(), col(DevApiProject.name))
        )
        return [_view(project, count) for project, count in rows]


async def create_project(
    info: strawberry.Info[Context, None], input: CreateProjectInput
) -> CreateProjectPayload:
    ctx = info.context
    user = await ctx.user(write=True)
    name = (input.name or "").strip()
    if not name:
        raise BadRequest("Project name is required")
    if len(name) > MAX_NAME:
        raise BadRequest(f"Project name must be {MAX_NAME} characters or less")
    duplicate = BadRequest("A project with this name already exists")
    async with ctx.db.writer() as session:
        taken = await session.execute(
            sa.select(col(DevApiProject.id)).where(
                col(DevApiProject.user_id) == user.sub, col(DevApiProject.name) == name
            )
        )
        if taken.first() is not None:
            raise duplicate
        project = DevApiProject(user_id=user.sub, name=name, created_at=ctx.now())
        try:
            async with session.begin_nested():
                session.add(project)
                await session.flush()
        except sa.exc.IntegrityError as exc:
            raise duplicate from exc
    return CreateProjectPayload(project=_view(project, 0))
