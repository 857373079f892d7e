"""Development and test tokens, signed HS256 with JWT_SECRET (`make token`)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from app.settings import Settings


def mint_token(
    settings: Settings,
    sub: str,
    *,
    roles: Sequence[str] = (),
    ttl_seconds: int = 3600,
    now: float | None = None,
    **claims: Any,
) -> str:
    """A development/test token signed HS256 with JWT_SECRET.

    Extra keyword claims are added (and may override `iat`, `exp`, `roles`).
    Raises ValueError unless JWT_ALGORITHM is HS256 (an RS256/ES256 deployment
    verifies with a public key and cannot sign), or for an empty `sub` or a
    non-positive TTL.
    """
    if settings.jwt_algorithm != "HS256":
        raise ValueError(
            f"mint_token signs HS256 with JWT_SECRET; JWT_ALGORITHM is "
            f"{settings.jwt_algorithm}: get tokens from the identity service"
        )
    if not sub or not sub.strip():
        raise ValueError("sub must be a non-empty string")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    if isinstance(roles, str):  # a str is a Sequence[str]: "admin" is one role
        roles = roles.split()
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "sub": sub,
        "roles": list(roles),
        "iat": issued,
        "exp": issued + ttl_seconds,
    }
    if settings.jwt_audience is not None:
        payload["aud"] = settings.jwt_audience
    if settings.jwt_issuer is not None:
        payload["iss"] = settings.jwt_issuer
    payload.update(claims)
    # python-jose ships no type stubs (no py.typed); only app.auth imports it,
    # on first use.
    from jose import jwt  # type: ignore[import-untyped]

    token = jwt.encode(payload, settings.jwt_secret, algorithm="HS256")
    return str(token)
