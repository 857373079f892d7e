"""Persisted operations in tests: the operation files' bytes, hashes, the
`extensions` that name one, and reading error codes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import httpx

from rest_facade.prepare import OPERATIONS_DIR

# Each operation file's exact bytes, read once (tests compare them, hash them).
SOURCE = {
    path.stem: path.read_bytes() for path in sorted(OPERATIONS_DIR.glob("*.graphql"))
}
PUBLIC_CACHE = "public, max-age=60, s-maxage=3600, stale-while-revalidate=7200"
# A document no file registers.
APQ_QUERY = "query Round { protocol { currentRound } }"


def sha256(text: str | bytes) -> str:
    raw = text.encode() if isinstance(text, str) else text
    return hashlib.sha256(raw).hexdigest()


def persisted(digest: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": digest}}


def hashed_get(digest: str, variables: dict[str, Any] | None = None) -> str:
    params = {"extensions": json.dumps(persisted(digest))}
    if variables:
        params["variables"] = json.dumps(variables)
    return "/graphql?" + str(httpx.QueryParams(params))


def errors_of(response: httpx.Response) -> list[str]:
    errors = response.json().get("errors") or ()
    return [(e.get("extensions") or {}).get("code", "") for e in errors]
