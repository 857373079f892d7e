"""app.developer.crypto: PKCE, AES-256-GCM secret box, API key hashing and display
against known vectors."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from app.developer.crypto import (
    SecretBox,
    key_hash,
    key_lookup_id,
    key_prefix,
    pkce_challenge,
    pkce_pair,
    random_hex,
)

LOOKUP = "0123456789abcdef"
SECRET_HEX = "a1" * 24
NATIVE = f"naap_{LOOKUP}_{SECRET_HEX}"

# RFC 7636 Appendix B: the verifier is the base64url of these 32 octets.
RFC7636_OCTETS = bytes(
    [
        *(116, 24, 223, 180, 151, 153, 224, 37, 79, 250, 96, 125, 216, 173, 187, 186),
        *(22, 212, 37, 77, 105, 214, 191, 240, 91, 88, 5, 88, 83, 132, 141, 121),
    ]
)
RFC7636_VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
RFC7636_CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


# ---------------------------------------------------------------------------
# PKCE and random identifiers.


def test_pkce_challenge_matches_rfc7636_appendix_b() -> None:
    encoded = base64.urlsafe_b64encode(RFC7636_OCTETS).rstrip(b"=").decode()
    assert encoded == RFC7636_VERIFIER
    assert pkce_challenge(RFC7636_VERIFIER) == RFC7636_CHALLENGE


def test_pkce_pair_is_fresh_and_consistent() -> None:
    pairs = [pkce_pair() for _ in range(20)]
    assert len({verifier for verifier, _ in pairs}) == 20
    for verifier, challenge in pairs:
        assert re.fullmatch(r"[A-Za-z0-9_-]{64}", verifier)
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", challenge)  # 32 bytes, unpadded
        assert challenge == pkce_challenge(verifier)
        digest = hashlib.sha256(verifier.encode()).digest()
        assert base64.urlsafe_b64decode(challenge + "=") == digest


def test_random_hex() -> None:
    values = {random_hex(16) for _ in range(20)}
    assert len(values) == 20
    assert all(re.fullmatch(r"[0-9a-f]{32}", value) for value in values)
    assert random_hex(0) == ""


# ---------------------------------------------------------------------------
# SecretBox.

BOX = SecretBox("app-secret")
PART = re.compile(r"[0-9a-f]*")


def test_secretbox_round_trip_and_format() -> None:
    for text in ("", "pmth_AbCdEfGhIjKlMnOp", "ünïcødé ✓ " * 50):
        token = BOX.encrypt(text)
        iv, tag, ciphertext = token.split(":")
        assert len(iv) == 24
        assert len(tag) == 32
        assert len(ciphertext) == 2 * len(text.encode())
        assert all(PART.fullmatch(part) for part in (iv, tag, ciphertext))
        assert BOX.decrypt(token) == text
        assert SecretBox("app-secret").decrypt(token) == text  # same derived key


def test_secretbox_key_derivation_follows_the_spec() -> None:
    key = hashlib.sha256(b"naap-oauth-token-encryption-v1:app-secret").digest()
    iv = bytes(range(12))
    sealed = AESGCM(key).encrypt(iv, b"hello", None)
    token = f"{iv.hex()}:{sealed[-16:].hex()}:{sealed[:-16].hex()}"
    assert BOX.decrypt(token) == "hello"
    assert BOX.decrypt(token.upper()) == "hello"  # hex is case-insensitive


def test_secretbox_encryptions_differ() -> None:
    first, second = BOX.encrypt("same text"), BOX.encrypt("same text")
    assert first != second
    assert first.split(":")[0] != second.split(":")[0]  # fresh IV


def _flip_first_byte(hex_text: str) -> str:
    return f"{int(hex_text[:2], 16) ^ 0x01:02x}{hex_text[2:]}"


@pytest.mark.parametrize("index", [0, 1, 2])
def test_secretbox_tampering_is_detected(index: int) -> None:
    parts = BOX.encrypt("the provider key").split(":")
    parts[index] = _flip_first_byte(parts[index])
    assert BOX.decrypt(":".join(parts)) is None


def test_secretbox_wrong_key() -> None:
    token = BOX.encrypt("the provider key")
    assert SecretBox("another-secret").decrypt(token) is None
    assert SecretBox("").decrypt(token) is None


@pytest.mark.parametrize(
    "token",
    [
        "",
        ":",
        "::",
        "not hex at all",
        "00:11",
        f"{'00' * 12}:{'00' * 16}:00:00",  # four parts
        f"{'00' * 11}:{'00' * 16}:00",  # short IV
        f"{'00' * 12}:{'00' * 15}:00",  # short tag
        f"{'00' * 12}:{'00' * 16}:0",  # odd hex
        f"{'00' * 12}:{'00' * 16}:zz",  # not hex
        f"{'00' * 12}:{'00' * 16}:0 0",  # bytes.fromhex would skip the space
        f"{'00' * 12}:{'00' * 16}:",  # well-formed, empty, wrong tag
    ],
)
def test_secretbox_malformed_tokens(token: str) -> None:
    assert BOX.decrypt(token) is None


def test_secretbox_rejects_non_utf8_plaintext() -> None:
    key = hashlib.sha256(b"naap-oauth-token-encryption-v1:app-secret").digest()
    iv = bytes(12)
    sealed = AESGCM(key).encrypt(iv, b"\xff\xfe", None)
    assert BOX.decrypt(f"{iv.hex()}:{sealed[-16:].hex()}:{sealed[:-16].hex()}") is None


# ---------------------------------------------------------------------------
# API keys: hashing and display prefixes.


def test_key_hash_vector() -> None:
    assert key_hash("pmth_AbCdEfGhIjKlMnOp") == (
        "4d2853408a9b5e76de02543d3d6cc100cb3be3cfe6bc2c688d3cfd3def2bd489"
    )


def test_key_hash_uses_the_key_exactly_as_given() -> None:
    assert key_hash(" pmth_AbCdEfGhIjKlMnOp") != key_hash("pmth_AbCdEfGhIjKlMnOp")


@pytest.mark.parametrize(
    ("raw", "prefix"),
    [
        (NATIVE, f"naap_{LOOKUP}..."),
        ("pmth_AbCdEfGhIjKlMnOp", "pmth_AbCd\u2026"),
        ("sk_ab", "sk_ab\u2026"),
        ("abcdefgh", "abcd\u2026"),
        ("abc", "abc"),
        ("  ", "\u2014"),
        # Trimming and the edges of the underscore rule.
        ("", "\u2014"),
        (f"  {NATIVE}\n", f"naap_{LOOKUP}..."),
        ("  pmth_AbCdEf  ", "pmth_AbCd\u2026"),
        ("abcd", "abcd"),
        ("dd_", "dd_"),  # `_` is last: not the underscore rule
        ("dd_x", "dd_x\u2026"),
        ("_abcdef", "_abc\u2026"),  # `_` is first: not the underscore rule
        ("a_b", "a_b\u2026"),
        (NATIVE.upper(), "NAAP_0123\u2026"),  # upper-case hex is not native
        (f"naap_{LOOKUP}_{SECRET_HEX}0", f"naap_{LOOKUP[:4]}\u2026"),
    ],
)
def test_key_prefix(raw: str, prefix: str) -> None:
    assert key_prefix(raw) == prefix


def test_key_lookup_id() -> None:
    assert key_lookup_id(NATIVE) == LOOKUP
    randoms = {key_lookup_id("pmth_AbCdEfGhIjKlMnOp") for _ in range(10)}
    randoms.add(key_lookup_id(f"{NATIVE}\n"))  # as given: not a native key
    assert len(randoms) == 11
    assert all(re.fullmatch(r"[0-9a-f]{16}", value) for value in randoms)
    assert LOOKUP not in randoms
