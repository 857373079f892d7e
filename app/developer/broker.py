"""The billing-provider OAuth key broker: authorization code + PKCE -> stored key.

    start (auth + CSRF)   a session: state, PKCE verifier, user, 10-minute expiry
    redirect (browser)    302 to the provider's authorize URL
    callback (provider)   claim the session atomically, exchange code + verifier,
                          register the key like POST /developer/keys, hold the raw
                          key encrypted until it is read
    result (same user)    `complete` with the raw key once, then `redeemed`

Statuses: pending -> processing -> complete | failed; pending -> expired. The raw
key is never logged, and no error names it."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode, urlsplit, urlunsplit

import sqlalchemy as sa
from sqlalchemy import CursorResult
from sqlmodel import col

from app.db import Database
from app.developer.crypto import SecretBox, pkce_challenge, pkce_pair, random_hex
from app.developer.keystore import prepare_key, register_key
from app.developer.models import BillingProvider, OAuthSession
from app.errors import AppError, BadRequest, Forbidden, UpstreamUnavailable
from app.upstream.oauth import OAuthClient

log = logging.getLogger("naap.broker")

POLL_AFTER_MS = 1500
_SESSION_ID = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class Started:
    login_session_id: str
    expires_in: int


@dataclass(frozen=True, slots=True)
class Result:
    status: str
    access_token: str | None = None
    api_key_id: str | None = None
    expires_in: int | None = None


class CallbackFailed(Exception):
    """The callback page's error: a title and a sentence for the user."""

    def __init__(self, title: str, message: str) -> None:
        super().__init__(message)
        self.title = title
        self.message = message


def check_session_id(login_session_id: str | None) -> str:
    value = (login_session_id or "").strip().lower()
    if not _SESSION_ID.fullmatch(value):
        raise BadRequest("Missing or malformed login_session_id")
    return value


async def _provider(db: Database, oauth: OAuthClient, slug: str) -> BillingProvider:
    async with db.session() as session:
        provider = (
            await session.execute(
                sa.select(BillingProvider).where(col(BillingProvider.slug) == slug)
            )
        ).scalar()
    if provider is None or not provider.enabled or oauth.endpoints(slug) is None:
        raise BadRequest(f"Unsupported billing provider for OAuth: {slug[:64]}")
    return provider


async def start_login(
    db: Database,
    oauth: OAuthClient,
    *,
    slug: str,
    user_id: str,
    now: datetime,
    ttl: int,
) -> Started:
    await _provider(db, oauth, slug)
    verifier, _ = pkce_pair()
    session_row = OAuthSession(
        login_session_id=random_hex(32),
        state=random_hex(16),
        provider_slug=slug,
        code_verifier=verifier,
        naap_user_id=user_id,
        status="pending",
        expires_at=now + timedelta(seconds=ttl),
        created_at=now,
        updated_at=now,
    )
    async with db.writer() as session:
        session.add(session_row)
    return Started(session_row.login_session_id, ttl)


async def authorize_url(
    db: Database,
    oauth: OAuthClient,
    *,
    slug: str,
    login_session_id: str | None,
    now: datetime,
) -> str:
    """Where the browser goes next (the redirect page's 302 target)."""
    session_id = check_session_id(login_session_id)
    endpoints = oauth.endpoints(slug)
    if endpoints is None:
        raise BadRequest(f"Unsupported billing provider for redirect: {slug[:64]}")
    async with db.session() as session:
        row = await session.get(OAuthSession, session_id)
    if row is None or row.provider_slug != slug or row.status != "pending":
        raise BadRequest("Invalid or already-redeemed login session")
    if _aware(row.expires_at) <= now:
        raise BadRequest("Login session expired")
    config = endpoints.config
    return _with_query(
        config.authorize_url,
        {
            "response_type": "code",
            "client_id": config.client_id,
            "redirect_uri": config.redirect_uri,
            "state": row.state,
            "code_challenge": pkce_challenge(row.code_verifier),
            "code_challenge_method": "S256",
        },
    )


async def complete_callback(
    db: Database,
    oauth: OAuthClient,
    box: SecretBox,
    *,
    slug: str,
    code: str | None,
    state: str | None,
    error: str | None,
    now: datetime,
) -> None:
    """Claim, exchange, register. Raises CallbackFailed with what to tell the user."""
    if oauth.endpoints(slug) is None:
        raise CallbackFailed("Authentication Failed", "Unsupported billing provider.")
    if not state or len(state) > 128 or "\x00" in state:  # PostgreSQL: no NUL
        raise CallbackFailed("Authentication Failed", "The provider sent no state.")
    async with db.writer() as session:
        row = (
            await session.execute(
                sa.select(OAuthSession).where(col(OAuthSession.state) == state)
            )
        ).scalar()
        if row is None or row.provider_slug != slug:
            raise CallbackFailed("Session Expired", "Start the login again.")
        expired = _aware(row.expires_at) <= now
        if expired and row.status == "pending":
            # Recorded before refusing: raising inside writer() would roll it back.
            row.status = "expired"
            row.updated_at = now
    if expired:
        raise CallbackFailed("Session Expired", "Start the login again.")
    async with db.writer() as session:
        # Atomic claim: exactly one callback may move the session out of pending.
        claimed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
            sa.update(OAuthSession)
            .where(
                col(OAuthSession.login_session_id) == row.login_session_id,
                col(OAuthSession.status) == "pending",
            )
            .values(status="processing", updated_at=now)
        )
        if claimed.rowcount != 1:
            raise CallbackFailed("Session Expired", "This login was already used.")
        session_id, user_id, verifier = (
            row.login_session_id,
            row.naap_user_id,
            row.code_verifier,
        )

    if error or not code:
        await _finish(db, session_id, "failed", now)
        raise CallbackFailed("Authentication Failed", "The provider did not authorize.")
    try:
        raw_key = await oauth.exchange_code(slug, code=code, verifier=verifier)
    except UpstreamUnavailable as exc:
        log.warning("oauth exchange failed: %s (kind=%s)", exc, exc.kind)
        await _finish(db, session_id, "failed", now)
        raise CallbackFailed(
            "Authentication Failed", "The provider could not issue a key."
        ) from exc

    prepared = await prepare_key(raw_key)
    async with db.writer() as session:
        provider = (
            await session.execute(
                sa.select(BillingProvider).where(col(BillingProvider.slug) == slug)
            )
        ).scalar()
        try:
            if provider is None:
                raise BadRequest("Invalid or disabled billing provider")
            key = await register_key(
                session,
                user_id=user_id,
                billing_provider_id=provider.id,
                prepared=prepared,
                now=now,
            )
        except AppError as exc:  # invalid provider, duplicate key, ...
            log.warning("oauth key registration refused: %s", exc.message)
            failed = True
        else:
            failed = False
        row = await session.get(OAuthSession, session_id)
        if row is not None:
            row.updated_at = now
            if failed:
                row.status = "failed"
            else:
                row.status = "complete"
                row.api_key_id = key.id
                row.access_token_enc = box.encrypt(raw_key)
    if failed:
        raise CallbackFailed("Authentication Failed", "The key could not be stored.")


async def _finish(db: Database, session_id: str, status: str, now: datetime) -> None:
    async with db.writer() as session:
        await session.execute(
            sa.update(OAuthSession)
            .where(col(OAuthSession.login_session_id) == session_id)
            .values(status=status, updated_at=now)
        )


async def read_result(
    db: Database,
    box: SecretBox,
    *,
    slug: str,
    login_session_id: str | None,
    user_id: str,
    now: datetime,
) -> Result:
    session_id = check_session_id(login_session_id)
    async with db.writer() as session:
        row = await session.get(OAuthSession, session_id)
        if row is None:
            return Result("expired")
        if row.provider_slug != slug:
            raise Forbidden("Session does not belong to this billing provider")
        if row.naap_user_id != user_id:
            raise Forbidden("Session does not belong to this user")
        expires_in = int((_aware(row.expires_at) - now).total_seconds())
        if row.status == "complete":
            if row.redeemed_at is not None or row.access_token_enc is None:
                return Result("redeemed")
            token = box.decrypt(row.access_token_enc)
            redeemed: CursorResult[Any] = await session.execute(  # type: ignore[assignment]
                sa.update(OAuthSession)
                .where(
                    col(OAuthSession.login_session_id) == session_id,
                    col(OAuthSession.redeemed_at).is_(None),
                )
                .values(redeemed_at=now, access_token_enc=None, updated_at=now)
            )
            if redeemed.rowcount != 1 or token is None:
                return Result("redeemed")
            return Result("complete", token, row.api_key_id, max(0, expires_in))
        if expires_in <= 0 and row.status in ("pending", "processing"):
            await session.delete(row)
            return Result("expired")
        return Result(row.status)


def _aware(moment: datetime) -> datetime:
    # SQLite returns naive datetimes; every stored time is UTC.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _with_query(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = "&".join(q for q in (parts.query, urlencode(params)) if q)
    return urlunsplit(parts._replace(query=query))
