"""Finding a request's token, and the double-submit CSRF check for cookies.

The token comes from `Authorization: Bearer` first, else the `naap_auth_token`
cookie. Cookie-authenticated state changes must also send the `x-csrf-token`
header equal to the `naap_csrf_token` cookie; browsers never send bearer tokens
on their own, so those need no CSRF check.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final
from urllib.parse import unquote

AUTH_COOKIE: Final = "naap_auth_token"
CSRF_COOKIE: Final = "naap_csrf_token"
CSRF_HEADER: Final = "x-csrf-token"
# A client-facing message, not a secret.
MISSING_TOKEN_MESSAGE: Final = "No auth token provided"  # noqa: S105


@dataclass(frozen=True, slots=True)
class Credentials:
    """A token found on a request, and where: cookie-borne writes need CSRF."""

    token: str
    from_cookie: bool

    def __repr__(self) -> str:  # never print the token itself
        size = len(self.token)
        return f"Credentials(token=<{size} chars>, from_cookie={self.from_cookie})"


# --- finding the token ---------------------------------------------------------------
def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup (Starlette's Headers already is; a plain dict isn't)."""
    value = headers.get(name)
    if value is not None:
        return value
    for key, candidate in headers.items():
        if key.lower() == name:
            return candidate
    return None


def credentials_from(
    headers: Mapping[str, str], cookies: Mapping[str, str]
) -> Credentials | None:
    """The request's token: `Authorization: Bearer <jwt>` first, else the cookie.

    A non-Bearer Authorization header (Basic, ...) is ignored. A Bearer header that
    does not hold exactly one token is returned as is, so verification rejects it
    (the client meant bearer auth; the cookie must not silently stand in). Size is
    not checked here: an oversized token is returned and rejected by `verify`.
    """
    authorization = _header(headers, "authorization")
    if authorization is not None:
        scheme, _, rest = authorization.strip().partition(" ")
        rest = rest.strip()
        if scheme.lower() == "bearer" and rest:
            return Credentials(token=rest, from_cookie=False)
    cookie = cookies.get(AUTH_COOKIE)
    if cookie is None:
        return None
    cookie = cookie.strip()
    if len(cookie) >= 2 and cookie[0] == cookie[-1] == '"':
        cookie = cookie[1:-1]
    cookie = unquote(cookie).strip()
    return Credentials(token=cookie, from_cookie=True) if cookie else None


# --- CSRF (double submit) ------------------------------------------------------------
def csrf_matches(header_value: str | None, cookie_value: str | None) -> bool:
    """Whether the CSRF header equals the CSRF cookie (both present, constant time)."""
    if not header_value or not cookie_value:
        return False
    return hmac.compare_digest(header_value.encode(), cookie_value.encode())


def new_csrf_token() -> str:
    """A fresh CSRF token: 32 random bytes, hex."""
    return secrets.token_hex(32)


def user_hash(sub: str) -> str:
    """What the access log says about a user: enough to correlate, not the id."""
    return hashlib.sha256(sub.encode()).hexdigest()[:16]
