"""The OAuth key broker on GraphQL: `startProviderLogin`, `providerLoginResult`.

The browser legs (redirect, callback) are plain pages; see app/developer/broker.py,
which each resolver imports inside: the database stack loads on first use, never
at startup.
"""

from __future__ import annotations

from typing import Annotated

import strawberry

from app.context import Context
from app.types.developer import ProviderLoginResult, ProviderLoginStart


async def start_provider_login(
    info: strawberry.Info[Context, None], slug: str
) -> ProviderLoginStart:
    ctx = info.context
    user = await ctx.user(write=True)
    await ctx.services.limiter.hit("login", user.sub)
    settings = ctx.settings
    from app.developer import broker

    started = await broker.start_login(
        ctx.db,
        ctx.services.oauth,
        slug=slug,
        user_id=user.sub,
        now=ctx.now(),
        ttl=settings.oauth_session_ttl,
    )
    return ProviderLoginStart(
        login_session_id=started.login_session_id,
        auth_url=f"{settings.public_base_url}/api/v1/auth/providers/{slug}/redirect"
        f"?login_session_id={started.login_session_id}",
        expires_in=started.expires_in,
        poll_after_ms=broker.POLL_AFTER_MS,
    )


async def provider_login_result(
    info: strawberry.Info[Context, None],
    slug: str,
    # snake_case as the reference's polling URL spells it
    login_session_id: Annotated[
        str | None, strawberry.argument(name="login_session_id")
    ] = None,
) -> ProviderLoginResult:
    """One-time read: `complete` carries the provider key once, then `redeemed`."""
    ctx = info.context
    user = await ctx.user()
    from app.developer import broker

    result = await broker.read_result(
        ctx.db,
        ctx.services.box,
        slug=slug,
        login_session_id=login_session_id,
        user_id=user.sub,
        now=ctx.now(),
    )
    return ProviderLoginResult(
        status=result.status,
        access_token=result.access_token,
        api_key_id=result.api_key_id,
        expires_in=result.expires_in,
    )
