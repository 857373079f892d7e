"""JWT verification: `TokenVerifier.verify` turns a token into a `Principal`.

Exactly one algorithm is accepted, `JWT_ALGORITHM`: HS256 with JWT_SECRET, or
RS256/ES256 with JWT_PUBLIC_KEY (PEM) or else JWT_JWKS_URL (keys cached by `kid`).
Every rejection raises the same `Unauthenticated`, so a client learns nothing to
probe with; the reason goes to one DEBUG line, never with the token. Time claims
use the injected clock and JWT_LEEWAY. python-jose and cryptography load on first
use, so an HS256 server that verifies nothing never imports them.
"""

from __future__ import annotations

import asyncio
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

import httpx

from app.errors import Unauthenticated
from app.settings import Settings, SettingsError

# A client-facing message, not a secret.
INVALID_TOKEN_MESSAGE: Final = "Invalid or expired token"  # noqa: S105

MAX_TOKEN_LENGTH: Final = 8192  # characters; longer tokens are rejected unparsed
MAX_SUB_LENGTH: Final = 255
JWKS_REFETCH_INTERVAL: Final = 60.0  # seconds between fetches (unknown kid)
JWKS_RETRY_AFTER_FAILURE: Final = 10.0  # seconds before retrying a failed fetch
JWKS_TIMEOUT: Final = 5.0
MIN_RSA_BITS: Final = 2048

_log = logging.getLogger("naap.auth")

# Compact JWS: three unpadded base64url segments, the signature non-empty.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
_KTY: Final = {"RS256": "RSA", "ES256": "EC"}
# python-jose checks nothing time-related (it would use the real clock) and no
# registered claim: those checks are ours, below. It verifies the signature only.
_JOSE_OPTIONS: Final = {
    "verify_signature": True,
    "verify_aud": False,
    "verify_iat": False,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
    "verify_at_hash": False,
}


@dataclass(frozen=True, slots=True)
class Principal:
    """Who the verified token speaks for."""

    sub: str
    roles: frozenset[str]

    def has_role(self, role: str) -> bool:
        return role in self.roles


class _Rejected(Exception):
    """Internal: why a token was rejected (logged at DEBUG, never shown)."""


def _roles(value: object) -> frozenset[str]:
    if isinstance(value, str):
        return frozenset(value.split())
    if isinstance(value, list) and all(isinstance(role, str) for role in value):
        return frozenset(role for role in value if role)
    return frozenset()


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    """A NumericDate claim as a float; None when absent; rejected when malformed."""
    if name not in claims:
        return None
    value = claims[name]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _Rejected(f"{name} is not a number")
    try:
        number = float(value)
    except OverflowError:
        raise _Rejected(f"{name} is out of range") from None
    if not math.isfinite(number):
        raise _Rejected(f"{name} is not finite")
    return number


def _key_problem(key: object, algorithm: str) -> str | None:
    """Why a public key cannot verify `algorithm` tokens, or None if it can."""
    from cryptography.hazmat.primitives.asymmetric import ec, rsa

    if algorithm == "RS256":
        if not isinstance(key, rsa.RSAPublicKey):
            return "not an RSA public key"
        if key.key_size < MIN_RSA_BITS:
            return f"RSA key shorter than {MIN_RSA_BITS} bits"
        return None
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return "not an EC public key"
    if not isinstance(key.curve, ec.SECP256R1):
        return "EC key not on P-256"
    return None


def _pem_key(pem: str, algorithm: str) -> Any:
    """A python-jose key from JWT_PUBLIC_KEY (a public key or certificate PEM)."""
    from cryptography import x509
    from cryptography.exceptions import UnsupportedAlgorithm
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from jose import jwk  # type: ignore[import-untyped]  # no stubs, no py.typed

    data = pem.strip().replace("\\n", "\n").encode()  # env vars often hold "\n"
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            public_key: object = x509.load_pem_x509_certificate(data).public_key()
        else:
            public_key = load_pem_public_key(data)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise SettingsError(
            "JWT_PUBLIC_KEY must be a PEM public key (-----BEGIN PUBLIC KEY-----) "
            f"or certificate: {exc}"
        ) from None
    problem = _key_problem(public_key, algorithm)
    if problem:
        raise SettingsError(f"JWT_PUBLIC_KEY does not fit {algorithm}: {problem}")
    return jwk.construct(public_key, algorithm)


def _asymmetric(secret: str) -> bool:
    """Whether an HS256 secret is a PEM or SSH key, which python-jose refuses as
    an HMAC secret: its own test, from jose.utils, which unlike its key classes
    does not load the cryptography backend at startup."""
    from jose.utils import is_pem_format, is_ssh_key  # type: ignore[import-untyped]

    data = secret.encode()
    return bool(is_pem_format(data) or is_ssh_key(data))


class TokenVerifier:
    """Verifies JWTs into Principals; holds the key(s) and, for JWKS, a client.

    One instance per application (the JWKS cache lives here); `aclose()` at
    shutdown. Configuration mistakes (RS256 with no key, a malformed PEM, an
    empty secret) raise SettingsError here, at startup, not per request.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._algorithm = settings.jwt_algorithm
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._leeway = settings.jwt_leeway
        self._clock = clock
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._static_key: Any = None
        self._secret: str | None = None  # HS256: made a key on first use
        self._jwks_url: str | None = None
        self._jwks: dict[str, Any] = {}  # kid ("" when the JWK has none) -> key
        self._next_fetch_at: float | None = None  # None: never fetched
        self._fetch_lock = asyncio.Lock()

        if self._algorithm == "HS256":
            if not settings.jwt_secret:
                raise SettingsError("JWT_ALGORITHM=HS256 needs a non-empty JWT_SECRET")
            if _asymmetric(settings.jwt_secret):
                raise SettingsError(
                    "JWT_SECRET cannot be used: it is an asymmetric key or "
                    "certificate, not an HMAC secret"
                )
            self._secret = settings.jwt_secret
        elif settings.jwt_public_key:
            self._static_key = _pem_key(settings.jwt_public_key, self._algorithm)
        elif settings.jwt_jwks_url:
            self._jwks_url = settings.jwt_jwks_url
        else:
            raise SettingsError(
                f"JWT_ALGORITHM={self._algorithm} needs JWT_PUBLIC_KEY or JWT_JWKS_URL"
            )

    async def aclose(self) -> None:
        """Close the JWKS client, if one was opened. Safe to call twice."""
        client, self._client = self._client, None
        if client is not None:
            await client.aclose()

    async def verify(self, token: str) -> Principal:
        """The token's Principal; Unauthenticated(INVALID_TOKEN_MESSAGE) otherwise."""
        try:
            return await self._verify(token)
        except _Rejected as exc:
            _log.debug("token rejected: %s", exc)
        except Exception as exc:  # anything else is still just "invalid"
            _log.warning(
                "token rejected by an unexpected error: %s", type(exc).__name__
            )
        raise Unauthenticated(INVALID_TOKEN_MESSAGE)

    async def _verify(self, token: str) -> Principal:
        from jose import jwt

        if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
            raise _Rejected("token missing or longer than the limit")
        if not _COMPACT_JWS.fullmatch(token):
            raise _Rejected("not a compact JWS (3 base64url segments)")
        try:
            header = jwt.get_unverified_header(token)
        except Exception:
            raise _Rejected("header is not base64url JSON") from None
        if not isinstance(header, dict):  # pragma: no cover - python-jose checks
            raise _Rejected("header is not a JSON object")
        alg = header.get("alg")
        if alg != self._algorithm:
            raise _Rejected(f"alg {alg!r} is not the configured {self._algorithm}")
        if "crit" in header:
            raise _Rejected("critical header extensions are not supported")
        kid = header.get("kid")
        if kid is not None and (not isinstance(kid, str) or not kid):
            raise _Rejected("kid is not a non-empty string")

        key = await self._key_for(kid)
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=[self._algorithm],
                options=dict(_JOSE_OPTIONS),
            )
        except Exception as exc:  # JWTError, and anything a backend may raise
            raise _Rejected(f"signature or payload: {type(exc).__name__}") from None
        if not isinstance(claims, dict):  # pragma: no cover - python-jose checks
            raise _Rejected("claims are not a JSON object")
        return self._principal(claims)

    def _principal(self, claims: dict[str, Any]) -> Principal:
        now = self._clock()
        leeway = self._leeway
        exp = _number(claims, "exp")
        if exp is None:
            raise _Rejected("no exp claim")
        if now >= exp + leeway:
            raise _Rejected("expired (exp)")
        nbf = _number(claims, "nbf")
        if nbf is not None and nbf > now + leeway:
            raise _Rejected("not yet valid (nbf)")
        iat = _number(claims, "iat")
        if iat is not None and iat > now + leeway:
            raise _Rejected("issued in the future (iat)")

        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub.strip():
            raise _Rejected("sub missing, empty or not a string")
        if len(sub) > MAX_SUB_LENGTH:
            raise _Rejected(f"sub longer than {MAX_SUB_LENGTH} characters")

        if self._audience is not None:
            aud = claims.get("aud")
            audiences = [aud] if isinstance(aud, str) else aud
            if not isinstance(audiences, list) or self._audience not in audiences:
                raise _Rejected("aud does not include the configured audience")
        if self._issuer is not None and claims.get("iss") != self._issuer:
            raise _Rejected("iss is not the configured issuer")

        return Principal(sub=sub, roles=_roles(claims.get("roles")))

    # --- keys ----------------------------------------------------------------------
    async def _key_for(self, kid: str | None) -> Any:
        if self._static_key is None and self._secret is not None:
            from jose import jwk

            self._static_key = jwk.construct(self._secret, "HS256")
        if self._static_key is not None:
            return self._static_key
        key = self._cached_key(kid)
        if key is None:
            await self._refresh_jwks()
            key = self._cached_key(kid)
        if key is None:
            raise _Rejected(f"no JWKS key for kid {kid and kid[:64]!r}")
        return key

    def _cached_key(self, kid: str | None) -> Any:
        if kid is None:  # no kid: only unambiguous with a single key
            return next(iter(self._jwks.values())) if len(self._jwks) == 1 else None
        return self._jwks.get(kid)

    async def _refresh_jwks(self) -> None:
        """Refetch the JWKS unless fetched (or failed) too recently."""
        async with self._fetch_lock:
            now = self._clock()
            if self._next_fetch_at is not None and now < self._next_fetch_at:
                return  # a concurrent caller just fetched, or rate limited
            try:
                keys = await self._fetch_jwks()
            except Exception as exc:
                self._next_fetch_at = now + JWKS_RETRY_AFTER_FAILURE
                _log.warning("JWKS fetch failed: %s", exc)
                return
            self._next_fetch_at = now + JWKS_REFETCH_INTERVAL
            self._jwks = keys
            _log.info("JWKS fetched: %d usable key(s)", len(keys))

    async def _fetch_jwks(self) -> dict[str, Any]:
        url = self._jwks_url
        if url is None:  # pragma: no cover - only called in JWKS mode
            raise ValueError("no JWKS URL configured")
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, timeout=JWKS_TIMEOUT
            )
        response = await self._client.get(url, headers={"accept": "application/json"})
        if response.status_code != httpx.codes.OK:
            raise ValueError(f"HTTP {response.status_code}")
        document = response.json()
        if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
            raise ValueError("not a JWK set (no 'keys' list)")
        keys: dict[str, Any] = {}
        for entry in document["keys"]:
            kid, key = self._usable_jwk(entry)
            if key is not None:
                keys.setdefault(kid, key)
        return keys

    def _usable_jwk(self, entry: object) -> tuple[str, Any]:
        """(kid, key) for a JWK that can verify our algorithm, else (kid, None)."""
        if not isinstance(entry, dict):
            return "", None
        kid = entry.get("kid", "")
        if (
            not isinstance(kid, str)
            or entry.get("kty") != _KTY[self._algorithm]
            or entry.get("alg", self._algorithm) != self._algorithm
            or entry.get("use", "sig") != "sig"
        ):
            return "", None
        from jose import jwk

        try:
            key = jwk.construct(entry, self._algorithm)
            problem = _key_problem(key.prepared_key, self._algorithm)
        except Exception as exc:
            problem = type(exc).__name__
        if problem:
            _log.warning("JWKS key %r ignored: %s", kid, problem)
            return kid, None
        return kid, key
