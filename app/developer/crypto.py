"""Small cryptographic helpers for the Developer API (no I/O, no app imports).

pkce_pair / pkce_challenge   RFC 7636 PKCE, method S256
random_hex                   random identifiers from `secrets`
SecretBox                    AES-256-GCM for values held at rest (brokered keys);
                             cryptography is imported when it first seals or opens
key_hash / key_prefix / key_lookup_id
                             API keys: scrypt hash, display prefix, lookup id
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

# ---------------------------------------------------------------------------
# PKCE (RFC 7636) and random identifiers.

PKCE_VERIFIER_BYTES: Final = 48  # 48 random bytes -> 64 base64url characters


def pkce_challenge(verifier: str) -> str:
    """BASE64URL(SHA256(ASCII(verifier))) without padding (method S256)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def pkce_pair() -> tuple[str, str]:
    """A fresh (code_verifier, code_challenge): 64 url-safe characters and their
    S256 challenge."""
    verifier = secrets.token_urlsafe(PKCE_VERIFIER_BYTES)
    return verifier, pkce_challenge(verifier)


def random_hex(nbytes: int) -> str:
    """`nbytes` random bytes from `secrets`, as lowercase hex (2 * nbytes chars)."""
    return secrets.token_hex(nbytes)


# ---------------------------------------------------------------------------
# AES-256-GCM, stored as "hex(iv):hex(tag):hex(ciphertext)".

SECRETBOX_KEY_CONTEXT: Final = b"naap-oauth-token-encryption-v1:"
GCM_IV_BYTES: Final = 12
GCM_TAG_BYTES: Final = 16
_HEX: Final = re.compile(r"(?:[0-9a-fA-F]{2})*")


def _unhex(text: str) -> bytes | None:
    # bytes.fromhex would also accept spaces; the stored format has none.
    return bytes.fromhex(text) if _HEX.fullmatch(text) else None


class SecretBox:
    """Authenticated encryption under a key derived from the app secret."""

    __slots__ = ("_aead", "_key")

    def __init__(self, app_secret: str) -> None:
        self._key = hashlib.sha256(SECRETBOX_KEY_CONTEXT + app_secret.encode()).digest()
        self._aead: AESGCM | None = None

    def _cipher(self) -> AESGCM:
        if self._aead is None:
            from cryptography.hazmat.primitives.ciphers.aead import AESGCM

            self._aead = AESGCM(self._key)
        return self._aead

    def encrypt(self, plaintext: str) -> str:
        """A fresh random IV every call, so equal plaintexts encrypt differently."""
        iv = secrets.token_bytes(GCM_IV_BYTES)
        sealed = self._cipher().encrypt(iv, plaintext.encode(), None)
        ciphertext, tag = sealed[:-GCM_TAG_BYTES], sealed[-GCM_TAG_BYTES:]
        return f"{iv.hex()}:{tag.hex()}:{ciphertext.hex()}"

    def decrypt(self, token: str) -> str | None:
        """The plaintext, or None when the token is malformed, was tampered with or
        was sealed under another key."""
        parts = token.split(":")
        if len(parts) != 3:
            return None
        iv, tag, ciphertext = (_unhex(part) for part in parts)
        if iv is None or tag is None or ciphertext is None:
            return None
        if len(iv) != GCM_IV_BYTES or len(tag) != GCM_TAG_BYTES:
            return None
        from cryptography.exceptions import InvalidTag

        try:
            plain = self._cipher().decrypt(iv, ciphertext + tag, None)
            return plain.decode()
        except (InvalidTag, UnicodeDecodeError):
            return None


# ---------------------------------------------------------------------------
# API keys: the original's scrypt parameters and prefix rules, so the hashes and
# prefixes it stored still match.

KEY_HASH_SALT: Final = b"naap-api-key-v1"
NATIVE_KEY: Final = re.compile(r"naap_([0-9a-f]{16})_([0-9a-f]{48})")
NO_KEY: Final = "\u2014"  # em dash
ELLIPSIS: Final = "\u2026"


def key_hash(raw_key: str) -> str:
    """scrypt(N=16384, r=8, p=1, 32 bytes) of the key exactly as given, as hex.
    Costs tens of milliseconds by design: call it off the event loop when hot."""
    digest = hashlib.scrypt(
        raw_key.encode(), salt=KEY_HASH_SALT, n=16384, r=8, p=1, dklen=32
    )
    return digest.hex()


def key_prefix(raw_key: str) -> str:
    """The displayable start of a key (never enough of it to use)."""
    key = raw_key.strip()
    if not key:
        return NO_KEY
    native = NATIVE_KEY.fullmatch(key)
    if native:
        return f"naap_{native.group(1)}..."
    underscore = key.find("_")
    if 0 < underscore < len(key) - 1:
        return key[: underscore + 5] + ELLIPSIS
    return key if len(key) <= 4 else key[:4] + ELLIPSIS


def key_lookup_id(raw_key: str) -> str:
    """A native key's embedded lookup id; for any other key 16 random hex chars."""
    native = NATIVE_KEY.fullmatch(raw_key)
    return native.group(1) if native else random_hex(8)
