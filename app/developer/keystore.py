"""Registering and presenting developer API keys, shared by the keys resolvers and
the OAuth broker's callback (which registers the key it obtained "exactly like
POST /developer/keys").

A raw provider key is kept only as its scrypt hash (derived as the original
derived it, so hashes stay compatible) plus a display prefix. It is never written
to the database, a log line or an error message.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from app.developer.crypto import key_hash, key_lookup_id, key_prefix
from app.developer.models import BillingProvider, DevApiKey, DevApiProject, iso_ms
from app.errors import BadRequest, Conflict
from app.inputs import MAX_KEY_LENGTH
from app.types.developer import ApiKey, BillingProviderRef, ProjectRef

DEFAULT_PROJECT_NAME = "Default"
MAX_PREFIX_LENGTH = 64  # dev_api_key.key_prefix
DUPLICATE_KEY_MESSAGE = "This API key is already registered"


async def enabled_provider(session: AsyncSession, provider_id: str) -> BillingProvider:
    provider = await session.get(BillingProvider, provider_id)
    if provider is None or not provider.enabled:
        raise BadRequest("Invalid or disabled billing provider")
    return provider


async def resolve_project(
    session: AsyncSession,
    user_id: str,
    *,
    project_id: str | None,
    project_name: str | None,
) -> DevApiProject:
    """The key's project: the given one (must be the user's), a named one (found or
    created), else the user's default project, created on first need."""
    if project_id:
        project = await session.get(DevApiProject, project_id)
        if project is None or project.user_id != user_id:
            raise BadRequest("Invalid projectId")
        return project
    name = (project_name or "").strip()
    if name:
        where = sa.and_(
            col(DevApiProject.user_id) == user_id, col(DevApiProject.name) == name
        )
        return await _find_or_create(
            session, where, DevApiProject(user_id=user_id, name=name)
        )
    where = sa.and_(
        col(DevApiProject.user_id) == user_id, col(DevApiProject.is_default)
    )
    default = (await session.execute(sa.select(DevApiProject).where(where))).scalar()
    if default is not None:
        return default
    named = (
        await session.execute(
            sa.select(DevApiProject).where(
                col(DevApiProject.user_id) == user_id,
                col(DevApiProject.name) == DEFAULT_PROJECT_NAME,
            )
        )
    ).scalar()
    if named is not None:
        # The user already made a project called "Default": it becomes the default
        # (creating a second one of that name would break the (user, name) unique).
        try:
            async with session.begin_nested():
                named.is_default = True
                await session.flush()
            return named
        except IntegrityError:  # a concurrent request made another default first
            found = (
                await session.execute(sa.select(DevApiProject).where(where))
            ).scalar()
            if found is None:
                raise
            return found
    return await _find_or_create(
        session,
        where,
        DevApiProject(user_id=user_id, name=DEFAULT_PROJECT_NAME, is_default=True),
    )


async def _find_or_create(
    session: AsyncSession, where: sa.ColumnElement[bool], candidate: DevApiProject
) -> DevApiProject:
    found = (await session.execute(sa.select(DevApiProject).where(where))).scalar()
    if found is not None:
        return found
    try:
        # A savepoint: losing a creation race must not abort the whole transaction.
        async with session.begin_nested():
            session.add(candidate)
            await session.flush()
        return candidate
    except IntegrityError:
        found = (await session.execute(sa.select(DevApiProject).where(where))).scalar()
        if found is None:
            raise
        return found


@dataclass(frozen=True, slots=True)
class PreparedKey:
    """What is stored of a raw key: never the key itself."""

    hash: str
    prefix: str
    lookup_id: str


async def prepare_key(raw_api_key: str) -> PreparedKey:
    """Hash outside any transaction: scrypt is deliberately slow (~50 ms), and on
    SQLite a write transaction holds the database's single write lock."""
    if len(raw_api_key) > MAX_KEY_LENGTH:
        raise BadRequest(f"rawApiKey must be at most {MAX_KEY_LENGTH} characters")
    hashed = await asyncio.to_thread(key_hash, raw_api_key)
    prefix = key_prefix(raw_api_key)
    if len(prefix) > MAX_PREFIX_LENGTH:
        # `abc…xyz_abcd…` style prefixes of very long keys: keep the column's bound
        # (PostgreSQL enforces it; SQLite would silently not).
        prefix = prefix[: MAX_PREFIX_LENGTH - 1] + "…"
    return PreparedKey(hashed, prefix, key_lookup_id(raw_api_key.strip()))


async def register_key(
    session: AsyncSession,
    *,
    user_id: str,
    billing_provider_id: str,
    prepared: PreparedKey,
    project_id: str | None = None,
    project_name: str | None = None,
    label: str | None = None,
    now: datetime,
) -> DevApiKey:
    """Validate, then insert; raises BadRequest/Conflict before writing anything."""
    await enabled_provider(session, billing_provider_id)
    hashed = prepared.hash
    taken = await session.execute(
        sa.select(col(DevApiKey.id)).where(col(DevApiKey.key_hash) == hashed)
    )
    if taken.first() is not None:
        raise Conflict(DUPLICATE_KEY_MESSAGE)
    project = await resolve_project(
        session, user_id, project_id=project_id, project_name=project_name
    )
    key = DevApiKey(
        user_id=user_id,
        project_id=project.id,
        billing_provider_id=billing_provider_id,
        key_lookup_id=prepared.lookup_id,
        key_prefix=prepared.prefix,
        key_hash=hashed,
        label=(label or "").strip() or None,
        status="ACTIVE",
        created_at=now,
    )
    try:
        async with session.begin_nested():
            session.add(key)
            await session.flush()
    except IntegrityError as exc:
        # A concurrent registration of the same raw key won the race.
        raise Conflict(DUPLICATE_KEY_MESSAGE) from exc
    return key


def api_key_view(
    key: DevApiKey, project: DevApiProject | None, provider: BillingProvider
) -> ApiKey:
    return ApiKey(
        id=key.id,
        user_id=key.user_id,
        project_id=key.project_id,
        billing_provider_id=key.billing_provider_id,
        key_prefix=key.key_prefix,
        label=key.label,
        project_name=key.project_name,
        status=key.status,
        seat_id=key.seat_id,
        team_id=key.team_id,
        subscription_id=key.subscription_id,
        created_at=iso_ms(key.created_at) or "",
        last_used_at=iso_ms(key.last_used_at),
        revoked_at=iso_ms(key.revoked_at),
        project=None
        if project is None
        else ProjectRef(
            id=project.id,
            name=project.name,
            is_default=project.is_default,
        ),
        billing_provider=BillingProviderRef(
            id=provider.id,
            slug=provider.slug,
            display_name=provider.display_name,
        ),
    )


async def key_view(session: AsyncSession, key: DevApiKey) -> ApiKey:
    project = (
        await session.get(DevApiProject, key.project_id) if key.project_id else None
    )
    provider = await session.get(BillingProvider, key.billing_provider_id)
    if provider is None:  # RESTRICT makes this impossible; keep mypy and readers sure
        raise RuntimeError("key without billing provider")
    return api_key_view(key, project, provider)
