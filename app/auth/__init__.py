"""Authentication: naap-api verifies the identity service's JWTs; it never logs
anyone in.

A request's token is found by `credentials_from` (`credentials`), verified into a
`Principal` by `TokenVerifier` (`verifier`); cookie-borne writes also pass the CSRF
check. `mint_token` (`mint`) signs development tokens. python-jose stays inside
this package: nothing else imports it, and it imports it (with cryptography) on
first use, so a server that has verified no token has not loaded it.
"""

from __future__ import annotations

from app.auth.credentials import (
    AUTH_COOKIE,
    CSRF_COOKIE,
    CSRF_HEADER,
    MISSING_TOKEN_MESSAGE,
    Credentials,
    credentials_from,
    csrf_matches,
    new_csrf_token,
    user_hash,
)
from app.auth.mint import mint_token
from app.auth.verifier import (
    INVALID_TOKEN_MESSAGE,
    MAX_TOKEN_LENGTH,
    Principal,
    TokenVerifier,
)

__all__ = [
    "AUTH_COOKIE",
    "CSRF_COOKIE",
    "CSRF_HEADER",
    "INVALID_TOKEN_MESSAGE",
    "MAX_TOKEN_LENGTH",
    "MISSING_TOKEN_MESSAGE",
    "Credentials",
    "Principal",
    "TokenVerifier",
    "credentials_from",
    "csrf_matches",
    "mint_token",
    "new_csrf_token",
    "user_hash",
]
