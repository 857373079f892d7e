"""app/auth.py: JWT verification (HS256, RS256, ES256, JWKS), finding the token on a
request, CSRF, development tokens and `make token`.

Tokens are real: signed here with python-jose, or by hand (HMAC) where python-jose
refuses to build the attack. Keys are real, generated once per module. Every
rejection must carry the same message, whatever the reason.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

# python-jose ships no type stubs; tests sign their own tokens with it.
from jose import jwk, jwt  # type: ignore[import-untyped]
from starlette.datastructures import Headers

from app.auth import (
    AUTH_COOKIE,
    INVALID_TOKEN_MESSAGE,
    MAX_TOKEN_LENGTH,
    Credentials,
    Principal,
    TokenVerifier,
    credentials_from,
    csrf_matches,
    mint_token,
    new_csrf_token,
)
from app.errors import Unauthenticated
from app.settings import Settings, SettingsError

NOW = 1_900_000_000.0  # 2030: far from the real time, so only the fake clock counts
SECRET = "test-secret-0123456789abcdef0123456789abcdef"
JWKS_URL = "https://id.example/.well-known/jwks.json"


# --- keys, generated once per module --------------------------------------------------
def _pem_private(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _pem_public(key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey) -> str:
    return (
        key.public_key()
        .public_bytes(
            serialization.Encoding.PEM,
            serialization.PublicFormat.SubjectPublicKeyInfo,
        )
        .decode()
    )


RSA_A = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_B = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_A = ec.generate_private_key(ec.SECP256R1())
RSA_A_PUBLIC, RSA_B_PUBLIC = _pem_public(RSA_A), _pem_public(RSA_B)
EC_A_PUBLIC = _pem_public(EC_A)
# Signing keys as python-jose keys: loading a private PEM per token is slow (RSA).
RSA_A_PRIVATE, RSA_B_PRIVATE = (
    jwk.construct(RSA_A, "RS256"),
    jwk.construct(RSA_B, "RS256"),
)
EC_A_PRIVATE = jwk.construct(EC_A, "ES256")


# --- helpers --------------------------------------------------------------------------
class FakeClock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def auth_settings(**overrides: Any) -> Settings:
    """Settings with every JWT field explicit (the environment cannot leak in)."""
    values: dict[str, Any] = {
        "app_env": "development",
        "log_level": "warning",
        "jwt_algorithm": "HS256",
        "jwt_secret": SECRET,
        "jwt_public_key": None,
        "jwt_jwks_url": None,
        "jwt_audience": None,
        "jwt_issuer": None,
        "jwt_leeway": 60,
    }
    values.update(overrides)
    return Settings(**values)


def claims(**overrides: Any) -> dict[str, Any]:
    """Valid claims at NOW; an override of None removes the claim."""
    values: dict[str, Any] = {
        "sub": "user-1",
        "roles": ["usage:write"],
        "iat": int(NOW),
        "exp": int(NOW) + 3600,
    }
    values.update(overrides)
    return {name: value for name, value in values.items() if value is not None}


def sign(
    payload: dict[str, Any],
    key: Any = SECRET,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
) -> str:
    token = jwt.encode(payload, key, algorithm=algorithm, headers=headers)
    assert isinstance(token, str)
    return token


def b64(data: bytes | str | dict[str, Any] | list[Any]) -> str:
    if isinstance(data, dict | list):
        data = json.dumps(data)
    if isinstance(data, str):
        data = data.encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hs256_by_hand(header: Any, payload: Any, secret: bytes = SECRET.encode()) -> str:
    """An HMAC-SHA256 signed token built without python-jose (which refuses some)."""
    signing_input = f"{b64(header)}.{b64(payload)}"
    mac = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(mac)}"


def verifier(clock: FakeClock | None = None, **overrides: Any) -> TokenVerifier:
    return TokenVerifier(auth_settings(**overrides), clock=clock or FakeClock())


async def rejected(check: TokenVerifier, token: str) -> None:
    """`verify` raises exactly Unauthenticated(INVALID_TOKEN_MESSAGE), no cause."""
    with pytest.raises(Unauthenticated) as caught:
        await check.verify(token)
    error = caught.value
    assert type(error) is Unauthenticated
    assert error.message == INVALID_TOKEN_MESSAGE
    assert str(error) == INVALID_TOKEN_MESSAGE
    assert error.__cause__ is None
    assert error.__context__ is None  # nothing of python-jose leaks out


# --- valid tokens ---------------------------------------------------------------------
async def test_valid_hs256_token_gives_principal() -> None:
    principal = await verifier().verify(sign(claims(roles=["usage:write", "admin"])))

    assert principal == Principal(
        sub="user-1", roles=frozenset({"usage:write", "admin"})
    )
    assert principal.has_role("admin")
    assert not principal.has_role("owner")


async def test_valid_rs256_token_with_public_key_pem() -> None:
    check = verifier(jwt_algorithm="RS256", jwt_public_key=RSA_A_PUBLIC)

    principal = await check.verify(sign(claims(), _pem_private(RSA_A), "RS256"))

    assert principal == Principal(sub="user-1", roles=frozenset({"usage:write"}))


async def test_valid_es256_token_with_public_key_pem() -> None:
    check = verifier(jwt_algorithm="ES256", jwt_public_key=EC_A_PUBLIC)

    token = sign(claims(sub="svc-9"), _pem_private(EC_A), "ES256")
    principal = await check.verify(token)

    assert principal.sub == "svc-9"


async def test_public_key_from_certificate_and_escaped_newlines() -> None:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "id.example")])
    start = datetime(2020, 1, 1, tzinfo=UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(RSA_A.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .sign(RSA_A, hashes.SHA256())
    )
    cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    token = sign(claims(), RSA_A_PRIVATE, "RS256")

    for pem in (cert_pem, RSA_A_PUBLIC.replace("\n", "\\n")):  # as env vars hold it
        check = verifier(jwt_algorithm="RS256", jwt_public_key=pem)
        assert (await check.verify(token)).sub == "user-1"


# --- time -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("overrides", "accepted"),
    [
        ({"exp": int(NOW) - 61}, False),  # expired beyond the 60 s leeway
        ({"exp": int(NOW) - 60}, False),
        ({"exp": int(NOW) - 30}, True),  # expired, but within the leeway
        ({"nbf": int(NOW) + 61}, False),
        ({"nbf": int(NOW) + 30}, True),
        ({"nbf": int(NOW) - 10}, True),
        ({"iat": int(NOW) + 3600}, False),  # issued an hour in the future
        ({"iat": int(NOW) + 30}, True),
        ({"iat": None}, True),  # iat is optional
    ],
    ids=repr,
)
async def test_time_claims_checked_with_leeway(
    overrides: dict[str, Any], accepted: bool
) -> None:
    check = verifier()
    token = sign(claims(**overrides))

    if accepted:
        assert (await check.verify(token)).sub == "user-1"
    else:
        await rejected(check, token)


async def test_expiry_follows_the_injected_clock() -> None:
    clock = FakeClock()
    check = verifier(clock, jwt_leeway=0)
    token = sign(claims(exp=int(NOW) + 10))

    assert (await check.verify(token)).sub == "user-1"
    clock.now += 10
    await rejected(check, token)


@pytest.mark.parametrize(
    "overrides",
    [
        {"exp": None},
        {"sub": None},
        {"sub": ""},
        {"sub": "   "},
        {"sub": 123},
        {"sub": ["user-1"]},
        {"sub": "u" * 256},
        {"exp": "tomorrow"},
        {"exp": True},
        {"exp": [int(NOW) + 60]},
        {"exp": float("inf")},
        {"exp": 10**400},
        {"nbf": "now"},
        {"iat": {"t": 1}},
    ],
    ids=lambda o: repr(o)[:40],
)
async def test_missing_or_malformed_claims_rejected(overrides: dict[str, Any]) -> None:
    payload = claims()
    payload.update(overrides)
    payload = {name: value for name, value in payload.items() if value is not None}

    await rejected(verifier(), sign(payload))


async def test_sub_of_255_characters_accepted() -> None:
    assert (await verifier().verify(sign(claims(sub="u" * 255)))).sub == "u" * 255


# --- audience and issuer --------------------------------------------------------------
@pytest.mark.parametrize(
    ("audience", "aud", "accepted"),
    [
        (None, None, True),
        (None, "someone-else", True),  # not configured: not checked
        ("naap-api", "naap-api", True),
        ("naap-api", ["portal", "naap-api"], True),
        ("naap-api", None, False),
        ("naap-api", "portal", False),
        ("naap-api", ["portal"], False),
        ("naap-api", 7, False),
    ],
)
async def test_audience_checked_only_when_configured(
    audience: str | None, aud: Any, accepted: bool
) -> None:
    check = verifier(jwt_audience=audience)
    token = sign(claims(aud=aud))

    if accepted:
        assert (await check.verify(token)).sub == "user-1"
    else:
        await rejected(check, token)


@pytest.mark.parametrize(
    ("issuer", "iss", "accepted"),
    [
        (None, None, True),
        (None, "https://elsewhere", True),
        ("https://id.example", "https://id.example", True),
        ("https://id.example", None, False),
        ("https://id.example", "https://evil.example", False),
    ],
)
async def test_issuer_checked_only_when_configured(
    issuer: str | None, iss: str | None, accepted: bool
) -> None:
    check = verifier(jwt_issuer=issuer)
    token = sign(claims(iss=iss))

    if accepted:
        assert (await check.verify(token)).sub == "user-1"
    else:
        await rejected(check, token)


# --- roles ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("roles", "expected"),
    [
        (["usage:write", "admin"], {"usage:write", "admin"}),
        ("usage:write  admin", {"usage:write", "admin"}),
        (["admin", ""], {"admin"}),
        ([], set()),
        (None, set()),
        (5, set()),
        (["admin", 1], set()),
        ({"admin": True}, set()),
    ],
    # Sets sorted: a set's repr varies with the hash seed, and pytest-xdist's
    # workers (each with its own) must collect the same test ids.
    ids=lambda value: repr(sorted(value) if isinstance(value, set) else value),
)
async def test_roles_claim(roles: Any, expected: set[str]) -> None:
    principal = await verifier().verify(sign(claims(roles=roles)))

    assert principal.roles == frozenset(expected)


# --- attacks and garbage: one message for all -----------------------------------------
def _forged_tokens() -> dict[str, tuple[dict[str, Any], str]]:
    """name -> (settings overrides, token)."""
    valid = sign(claims())
    header, payload, signature = valid.split(".")
    rs256 = {"jwt_algorithm": "RS256", "jwt_public_key": RSA_A_PUBLIC}
    none_header = {"alg": "none", "typ": "JWT"}
    return {
        "alg none, empty signature": ({}, f"{b64(none_header)}.{payload}."),
        "alg none, some signature": ({}, f"{b64(none_header)}.{payload}.{signature}"),
        "alg None": ({}, f"{b64({'alg': 'None'})}.{payload}."),
        "alg missing": ({}, hs256_by_hand({"typ": "JWT"}, claims())),
        "HS512": ({}, sign(claims(), algorithm="HS512")),
        "RS256 to an HS256 verifier": ({}, sign(claims(), RSA_A_PRIVATE, "RS256")),
        "key confusion: HS256 keyed with the RS256 public PEM": (
            rs256,
            hs256_by_hand(
                {"alg": "HS256", "typ": "JWT"}, claims(), RSA_A_PUBLIC.encode()
            ),
        ),
        "ES256 to an RS256 verifier": (rs256, sign(claims(), EC_A_PRIVATE, "ES256")),
        "RS256 signed by another key": (rs256, sign(claims(), RSA_B_PRIVATE, "RS256")),
        "bad signature (other secret)": ({}, sign(claims(), "another-secret")),
        "tampered payload": ({}, f"{header}.{b64(claims(sub='admin'))}.{signature}"),
        "truncated signature": ({}, valid[:-10]),
        "truncated in half": ({}, valid[: len(valid) // 2]),
        "no signature": ({}, f"{header}.{payload}."),
        "garbage": ({}, "garbage"),
        "empty": ({}, ""),
        "three dots": ({}, "..."),
        "two dots": ({}, ".."),
        "two segments": ({}, f"{header}.{payload}"),
        "four segments": ({}, f"{valid}.{signature}"),
        "padded base64": ({}, f"{header}=.{payload}.{signature}"),
        "non-ASCII": ({}, f"{header}.{payload}é.{signature}"),
        "non-JSON header": ({}, f"{b64('not json')}.{payload}.{signature}"),
        "JSON array header": ({}, hs256_by_hand(["HS256"], claims())),
        "bad base64 header": ({}, f"A.{payload}.{signature}"),
        "non-JSON payload, signed": ({}, hs256_by_hand({"alg": "HS256"}, "nope")),
        "JSON array payload, signed": ({}, hs256_by_hand({"alg": "HS256"}, [1])),
        "critical header extension": ({}, sign(claims(), headers={"crit": ["exp"]})),
        "kid not a string": ({}, sign(claims(), headers={"kid": 5})),
        "100 KB of garbage": ({}, "a" * 100_000),
        "100 KB, token-shaped": ({}, f"{header}.{'A' * 100_000}.{signature}"),
        "valid but over 8 KB": ({}, sign(claims(pad="x" * MAX_TOKEN_LENGTH))),
    }


FORGED = _forged_tokens()


@pytest.mark.parametrize("name", list(FORGED))
async def test_forged_and_malformed_tokens_rejected_alike(name: str) -> None:
    overrides, token = FORGED[name]

    await rejected(verifier(**overrides), token)


async def test_rejection_reason_logged_at_debug_without_the_token(
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = sign(claims(), "another-secret")
    caplog.set_level(logging.DEBUG, logger="naap.auth")

    await rejected(verifier(), token)

    records = [r for r in caplog.records if r.name == "naap.auth"]
    assert [r.levelno for r in records] == [logging.DEBUG]
    assert "signature" in records[0].getMessage().lower()
    assert token.split(".")[2] not in caplog.text
    assert token not in caplog.text


async def test_unexpected_error_is_still_unauthenticated(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken_clock() -> float:
        raise RuntimeError("clock is gone")

    check = TokenVerifier(auth_settings(), clock=broken_clock)

    await rejected(check, sign(claims()))
    assert "RuntimeError" in caplog.text


# --- configuration errors fail at startup ---------------------------------------------
@pytest.mark.parametrize(
    "overrides",
    [
        {"jwt_secret": ""},
        {"jwt_secret": RSA_A_PUBLIC},  # python-jose refuses PEM as an HMAC secret
        {"jwt_algorithm": "RS256"},  # neither a public key nor a JWKS URL
        {"jwt_algorithm": "ES256"},
        {"jwt_algorithm": "RS256", "jwt_public_key": "not a pem"},
        {"jwt_algorithm": "RS256", "jwt_public_key": _pem_private(RSA_A)},
        {"jwt_algorithm": "RS256", "jwt_public_key": EC_A_PUBLIC},
        {"jwt_algorithm": "ES256", "jwt_public_key": RSA_A_PUBLIC},
        {
            "jwt_algorithm": "ES256",
            "jwt_public_key": _pem_public(ec.generate_private_key(ec.SECP384R1())),
        },
        {
            "jwt_algorithm": "RS256",
            "jwt_public_key": _pem_public(
                rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
            ),
        },
    ],
    ids=[
        "empty secret",
        "PEM secret",
        "RS256 without key",
        "ES256 without key",
        "not PEM",
        "private key",
        "EC key for RS256",
        "RSA key for ES256",
        "P-384 for ES256",
        "RSA 1024",
    ],
)
def test_unusable_configuration_raises_settings_error(
    overrides: dict[str, Any],
) -> None:
    with pytest.raises(SettingsError):
        TokenVerifier(auth_settings(**overrides))


# --- JWKS -----------------------------------------------------------------------------
def public_jwk(
    private: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey, **extra: Any
) -> dict[str, Any]:
    algorithm = "RS256" if isinstance(private, rsa.RSAPrivateKey) else "ES256"
    entry: dict[str, Any] = jwk.construct(_pem_public(private), algorithm).to_dict()
    entry.update(use="sig", **extra)
    return entry


class JwksServer:
    """A MockTransport JWKS endpoint: counts requests, can fail in several ways."""

    def __init__(self, *keys: dict[str, Any]) -> None:
        self.keys: list[Any] = list(keys)
        self.requests = 0
        self.failure: str | None = None
        self.closed = False
        self.transport = httpx.MockTransport(self.handle)
        self.transport.aclose = self._aclose  # type: ignore[method-assign]

    async def _aclose(self) -> None:
        self.closed = True

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        assert str(request.url) == JWKS_URL
        if self.failure == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if self.failure == "timeout":
            raise httpx.ReadTimeout("timed out", request=request)
        if self.failure == "500":
            return httpx.Response(500, text="oops")
        if self.failure == "html":
            return httpx.Response(200, text="<html>login</html>")
        if self.failure == "list":
            return httpx.Response(200, json=[])
        if self.failure == "keys not a list":
            return httpx.Response(200, json={"keys": "k1"})
        return httpx.Response(200, json={"keys": self.keys})


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def server() -> JwksServer:
    return JwksServer(public_jwk(RSA_A, kid="k1"))


@pytest.fixture
async def jwks(
    server: JwksServer, clock: FakeClock
) -> AsyncIterator[Callable[..., TokenVerifier]]:
    made: list[TokenVerifier] = []

    def make(algorithm: str = "RS256") -> TokenVerifier:
        settings = auth_settings(jwt_algorithm=algorithm, jwt_jwks_url=JWKS_URL)
        made.append(TokenVerifier(settings, transport=server.transport, clock=clock))
        return made[-1]

    yield make
    for check in made:
        await check.aclose()


def rs256(kid: str | None, private: Any = RSA_A_PRIVATE, **overrides: Any) -> str:
    headers = None if kid is None else {"kid": kid}
    return sign(claims(**overrides), private, "RS256", headers)


Jwks = Callable[..., TokenVerifier]


async def test_jwks_key_found_by_kid(server: JwksServer, jwks: Jwks) -> None:
    server.keys.append(public_jwk(RSA_B, kid="k2"))
    check = jwks()

    assert (await check.verify(rs256("k1", sub="a"))).sub == "a"
    assert (await check.verify(rs256("k2", RSA_B_PRIVATE, sub="b"))).sub == "b"
    await rejected(check, rs256("k2", RSA_A_PRIVATE))  # kid k2, signed with k1's key
    for _ in range(3):
        await check.verify(rs256("k1"))
    assert server.requests == 1  # cached


async def test_unknown_kid_refetches_at_most_once_a_minute(
    server: JwksServer, jwks: Jwks, clock: FakeClock
) -> None:
    check = jwks()
    await check.verify(rs256("k1"))
    assert server.requests == 1

    # A minute on, the identity service rotates: k2 appears; its first token refetches.
    clock.now += 61
    server.keys.append(public_jwk(RSA_B, kid="k2"))
    assert (await check.verify(rs256("k2", RSA_B_PRIVATE))).sub == "user-1"
    assert server.requests == 2

    # Another unknown kid within 60 s of that fetch: no request, even though the
    # server has it by now (an attacker's random kids cannot hammer the endpoint).
    server.keys.append(public_jwk(RSA_A, kid="k3"))
    clock.now += 30
    await rejected(check, rs256("k3"))
    await rejected(check, rs256("k-random"))
    assert server.requests == 2

    # 61 s after the last fetch, an unknown kid refetches again.
    clock.now += 31
    assert (await check.verify(rs256("k3"))).sub == "user-1"
    assert server.requests == 3


async def test_keys_dropped_from_the_jwks_are_forgotten(
    server: JwksServer, jwks: Jwks, clock: FakeClock
) -> None:
    check = jwks()
    await check.verify(rs256("k1"))
    server.keys = [public_jwk(RSA_B, kid="k2")]
    clock.now += 61

    await check.verify(rs256("k2", RSA_B_PRIVATE))  # refetch: k1 is gone
    await rejected(check, rs256("k1"))
    assert server.requests == 2


async def test_concurrent_unknown_kids_fetch_once(
    server: JwksServer, jwks: Jwks
) -> None:
    check = jwks()
    results = await asyncio.gather(*(check.verify(rs256("k1")) for _ in range(5)))

    assert {p.sub for p in results} == {"user-1"}
    assert server.requests == 1


async def test_token_without_kid_uses_the_only_key(
    server: JwksServer, jwks: Jwks, clock: FakeClock
) -> None:
    check = jwks()
    assert (await check.verify(rs256(None))).sub == "user-1"

    server.keys.append(public_jwk(RSA_B, kid="k2"))
    clock.now += 61
    await check.verify(rs256("k2", RSA_B_PRIVATE))  # refetch: now two keys
    await rejected(check, rs256(None))  # ambiguous


@pytest.mark.parametrize(
    "failure", ["connect", "timeout", "500", "html", "list", "keys not a list"]
)
async def test_jwks_failure_rejects_then_retries_after_ten_seconds(
    failure: str, server: JwksServer, jwks: Jwks, clock: FakeClock
) -> None:
    check = jwks()
    server.failure = failure

    await rejected(check, rs256("k1"))
    assert server.requests == 1

    server.failure = None
    clock.now += 5
    await rejected(check, rs256("k1"))  # no retry yet
    assert server.requests == 1

    clock.now += 6
    assert (await check.verify(rs256("k1"))).sub == "user-1"
    assert server.requests == 2


async def test_jwks_keys_of_other_types_or_algorithms_ignored(
    server: JwksServer, jwks: Jwks
) -> None:
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505
    server.keys = [
        public_jwk(EC_A, kid="ec"),  # kty EC in an RS256 deployment
        {**public_jwk(RSA_B, kid="rs512"), "alg": "RS512"},
        {**public_jwk(RSA_B, kid="enc"), "use": "enc"},
        {**public_jwk(RSA_B, kid="broken"), "n": "!!"},
        public_jwk(weak, kid="weak"),
        {**public_jwk(RSA_B), "kid": 7},
        "not a key",
        public_jwk(RSA_A, kid="good"),
        public_jwk(RSA_B, kid="good"),  # a duplicate kid: the first one wins
    ]
    check = jwks()

    assert (await check.verify(rs256("good"))).sub == "user-1"
    await rejected(check, sign(claims(), EC_A_PRIVATE, "ES256", {"kid": "ec"}))
    for kid in ("rs512", "enc", "broken", "7"):
        await rejected(check, rs256(kid, RSA_B_PRIVATE))
    await rejected(check, rs256("weak", jwk.construct(weak, "RS256")))
    await rejected(check, rs256("good", RSA_B_PRIVATE))
    assert server.requests == 1


async def test_jwks_es256(server: JwksServer, jwks: Jwks) -> None:
    server.keys = [public_jwk(RSA_A, kid="rsa"), public_jwk(EC_A, kid="ec")]
    check = jwks("ES256")

    token = sign(claims(), EC_A_PRIVATE, "ES256", {"kid": "ec"})
    assert (await check.verify(token)).sub == "user-1"
    await rejected(check, rs256("rsa"))


async def test_public_key_takes_precedence_over_jwks(server: JwksServer) -> None:
    settings = auth_settings(
        jwt_algorithm="RS256", jwt_public_key=RSA_B_PUBLIC, jwt_jwks_url=JWKS_URL
    )
    check = TokenVerifier(settings, transport=server.transport, clock=FakeClock())

    assert (await check.verify(rs256("k1", RSA_B_PRIVATE))).sub == "user-1"
    await rejected(check, rs256("k1"))
    assert server.requests == 0
    await check.aclose()


async def test_aclose_closes_the_jwks_client_and_is_idempotent(
    server: JwksServer, clock: FakeClock
) -> None:
    settings = auth_settings(jwt_algorithm="RS256", jwt_jwks_url=JWKS_URL)
    check = TokenVerifier(settings, transport=server.transport, clock=clock)
    await check.aclose()  # nothing opened yet
    assert not server.closed

    await check.verify(rs256("k1"))
    await check.aclose()
    await check.aclose()

    assert server.closed


# --- finding the token ----------------------------------------------------------------
@pytest.mark.parametrize(
    ("headers", "cookies", "expected"),
    [
        ({"authorization": "Bearer h.t.s"}, {AUTH_COOKIE: "c.t.s"}, ("h.t.s", False)),
        ({"X-Id": "1", "Authorization": "bearer h.t.s"}, {}, ("h.t.s", False)),
        ({"AUTHORIZATION": "  BEARER   h.t.s  "}, {}, ("h.t.s", False)),
        ({"authorization": "Bearer a b"}, {AUTH_COOKIE: "c"}, ("a b", False)),
        ({"authorization": "Basic dXNlcjpwdw=="}, {AUTH_COOKIE: "c"}, ("c", True)),
        ({"authorization": "Bearer   "}, {AUTH_COOKIE: "c"}, ("c", True)),
        ({"authorization": ""}, {}, None),
        ({}, {AUTH_COOKIE: "c.t.s"}, ("c.t.s", True)),
        ({}, {AUTH_COOKIE: '"c.t.s"'}, ("c.t.s", True)),
        ({}, {AUTH_COOKIE: "c%2Et%2Es"}, ("c.t.s", True)),
        ({}, {AUTH_COOKIE: '"c%2Et%2Es"'}, ("c.t.s", True)),
        ({}, {AUTH_COOKIE: '""c""'}, ('"c"', True)),  # one pair of quotes only
        ({}, {AUTH_COOKIE: '""'}, None),
        ({}, {AUTH_COOKIE: "   "}, None),
        ({}, {AUTH_COOKIE: "%20"}, None),
        ({}, {"other": "x"}, None),
        ({}, {}, None),
    ],
)
def test_credentials_from(
    headers: dict[str, str],
    cookies: dict[str, str],
    expected: tuple[str, bool] | None,
) -> None:
    found = credentials_from(headers, cookies)

    assert found == (None if expected is None else Credentials(*expected))


def test_credentials_from_starlette_headers_and_oversized_token() -> None:
    big = "x" * (MAX_TOKEN_LENGTH + 1)
    headers = Headers(raw=[(b"authorization", f"Bearer {big}".encode())])

    found = credentials_from(headers, {})

    assert found == Credentials(big, from_cookie=False)  # returned; verify rejects it
    assert big not in repr(found)  # the repr never shows a token


async def test_bearer_with_two_tokens_is_rejected_not_replaced_by_cookie() -> None:
    valid = sign(claims())
    found = credentials_from({"authorization": f"Bearer {valid} x"}, {})

    assert found is not None
    await rejected(verifier(), found.token)


# --- CSRF -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("header", "cookie", "expected"),
    [
        (None, None, False),
        (None, "abc", False),
        ("abc", None, False),
        ("", "", False),
        ("abc", "", False),
        ("abc", "abcd", False),
        ("abc", "abd", False),
        ("abc", "abc", True),
        ("é-token", "é-token", True),
    ],
)
def test_csrf_matches(header: str | None, cookie: str | None, expected: bool) -> None:
    assert csrf_matches(header, cookie) is expected


def test_new_csrf_token_is_32_random_bytes_hex() -> None:
    first, second = new_csrf_token(), new_csrf_token()

    assert len(first) == 64
    assert bytes.fromhex(first)
    assert first != second
    assert csrf_matches(first, first)


# --- development tokens ---------------------------------------------------------------
async def test_mint_token_round_trip() -> None:
    settings = auth_settings(jwt_audience="naap-api", jwt_issuer="https://id.example")
    token = mint_token(
        settings, "user-7", roles=["usage:write"], ttl_seconds=120, now=NOW, email="e"
    )

    check = TokenVerifier(settings, clock=FakeClock())
    assert await check.verify(token) == Principal("user-7", frozenset({"usage:write"}))
    assert jwt.get_unverified_claims(token) == {
        "sub": "user-7",
        "roles": ["usage:write"],
        "iat": int(NOW),
        "exp": int(NOW) + 120,
        "aud": "naap-api",
        "iss": "https://id.example",
        "email": "e",
    }
    assert jwt.get_unverified_header(token)["alg"] == "HS256"
    await rejected(TokenVerifier(settings, clock=FakeClock(NOW + 181)), token)


async def test_mint_token_defaults_use_the_real_time() -> None:
    settings = auth_settings()
    principal = await TokenVerifier(settings).verify(
        mint_token(settings, "u", roles="a b")
    )

    assert principal == Principal("u", frozenset({"a", "b"}))


@pytest.mark.parametrize(
    ("overrides", "sub", "ttl"),
    [
        ({"jwt_algorithm": "RS256", "jwt_public_key": RSA_A_PUBLIC}, "u", 60),
        ({"jwt_algorithm": "ES256", "jwt_jwks_url": JWKS_URL}, "u", 60),
        ({}, "", 60),
        ({}, "u", 0),
    ],
    ids=["RS256", "ES256", "empty sub", "zero ttl"],
)
def test_mint_token_refuses(overrides: dict[str, Any], sub: str, ttl: int) -> None:
    with pytest.raises(ValueError, match=r"HS256|sub|ttl"):
        mint_token(auth_settings(**overrides), sub, ttl_seconds=ttl)
