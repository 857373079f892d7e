"""The projects' database work: the caller's projects with their key counts, and
creating one. resolvers/projects.py checks the caller and the name, then calls
these."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col

from app.db import Database
from app.developer.models import DevApiKey, DevApiProject, iso_ms
from app.errors import BadRequest
from app.types.developer import Project, ProjectCounts


def _view(project: DevApiProject, key_count: int) -> Project:
    return Project(
        id=project.id,
        name=project.name,
        is_default=project.is_default,
        created_at=iso_ms(project.created_at) or "",
        counts=ProjectCounts(api_keys=key_count),
    )


async def user_projects(db: Database, user_id: str) -> list[Project]:
    """The default project first, then by name."""
    keys = sa.func.count(col(DevApiKey.id))
    async with db.session() as session:
        rows = await session.execute(
            sa.select(DevApiProject, keys)
            .outerjoin(DevApiKey, col(DevApiKey.project_id) == col(DevApiProject.id))
            .where(col(DevApiProject.user_id) == user_id)
            .group_by(col(DevApiProject.id))
            .order_by(col(DevApiProject.is_default).desc(), col(DevApiProject.name))
        )
        return [_view(project, count) for project, count in rows]


async def create_project(
    db: Database, user_id: str, name: str, now: datetime
) -> Project:
    """A new project; `BadRequest` when the user already has one of that name."""
    duplicate = BadRequest("A project with this name already exists")
    async with db.writer() as session:
        taken = await session.execute(
            sa.select(col(DevApiProject.id)).where(
                col(DevApiProject.user_id) == user_id, col(DevApiProject.name) == name
            )
        )
        if taken.first() is not None:
            raise duplicate
        project = DevApiProject(user_id=user_id, name=name, created_at=now)
        try:
            async with session.begin_nested():
                session.add(project)
                await session.flush()
        except sa.exc.IntegrityError as exc:
            raise duplicate from exc
    return _view(project, 0)
