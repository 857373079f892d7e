"""The billing providers' OAuth 2.0 endpoints: authorization code (RFC 6749) with
PKCE S256 (RFC 7636), one provider per slug with its own client credentials.

    GET  /oauth/<slug>/authorize   consent: 302 back to `redirect_uri` with a code
    POST /oauth/<slug>/token       the code (+ verifier) for a token and an API key

The simulated user always consents, unless the slug is in `OAuthProvider.deny`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from types import MappingProxyType
from typing import Final
from urllib.parse import parse_qsl, unquote_plus, urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import Response

from simulator.encoding import JSON_TYPE, encode_json

DEFAULT_OAUTH_CLIENTS: Final[Mapping[str, tuple[str, str]]] = MappingProxyType(
    {
        "daydream": ("naap-dev-daydream", "naap-dev-daydream-secret"),
        "pymthouse": ("naap-dev-pymthouse", "naap-dev-pymthouse-secret"),
    }
)
OAUTH_CODE_TTL: Final = timedelta(seconds=60)
OAUTH_MAX_CODES: Final = 10_000  # oldest dropped first beyond this
OAUTH_TOKEN_EXPIRES_IN: Final = 3600
OAUTH_FORM_TYPE: Final = "application/x-www-form-urlencoded"
# slug -> (prefix, number of base62 characters), as the real providers' keys look.
PROVIDER_KEY_SHAPES: Final[Mapping[str, tuple[str, int]]] = MappingProxyType(
    {"daydream": ("dd_", 40), "pymthouse": ("pmth_", 32)}
)
DEFAULT_PROVIDER_KEY_SHAPE: Final = ("sk_", 40)

_BASE62: Final = string.digits + string.ascii_letters
_CODE_CHALLENGE: Final = re.compile(r"[A-Za-z0-9_-]{43,128}")  # base64url
_CODE_VERIFIER: Final = re.compile(r"[A-Za-z0-9._~-]{43,128}")  # unreserved chars
_NO_STORE: Final = {"cache-control": "no-store", "pragma": "no-cache"}


def provider_api_key(slug: str) -> str:
    """A fresh key shaped like the provider's real ones, from `secrets`."""
    prefix, length = PROVIDER_KEY_SHAPES.get(slug, DEFAULT_PROVIDER_KEY_SHAPE)
    return prefix + "".join(secrets.choice(_BASE62) for _ in range(length))


def _s256(verifier: str) -> str:
    # Deliberately not app.developer.crypto.pkce_challenge: the provider is
    # independent of the client, so a bug on one side cannot hide behind the
    # same bug on the other.
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass(slots=True)
class OAuthCode:
    """An issued authorization code, kept until it expires (used ones too, so a
    replay is recognised)."""

    slug: str
    client_id: str
    redirect_uri: str
    code_challenge: str
    scope: str | None
    issued_at: datetime
    used: bool = False


class OAuthError(Exception):
    """An OAuth error answer: `error`, `error_description`, and its status."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status

    def response(self) -> Response:
        headers = dict(_NO_STORE)
        if self.status == 401:
            headers["www-authenticate"] = 'Basic realm="oauth"'
        body = {"error": self.error, "error_description": self.description}
        return Response(
            encode_json(body),
            status_code=self.status,
            media_type=JSON_TYPE,
            headers=headers,
        )


def _invalid_request(description: str) -> OAuthError:
    return OAuthError("invalid_request", description)


def _single(params: Sequence[tuple[str, str]], name: str) -> str | None:
    """A parameter's value; empty counts as absent and a repeated parameter is an
    error, at both endpoints."""
    values = [value for key, value in params if key == name]
    if len(values) > 1:
        raise _invalid_request(f"`{name}` must not be repeated")
    return values[0] if values and values[0] else None


def _required(params: Sequence[tuple[str, str]], name: str) -> str:
    value = _single(params, name)
    if value is None:
        raise _invalid_request(f"`{name}` is required")
    return value


def _is_redirect_uri(uri: str) -> bool:
    """An absolute http(s) URL without a fragment, in printable ASCII."""
    if not uri.isascii() or any(ch <= " " or ch == "\x7f" for ch in uri):
        return False
    try:
        parts = urlsplit(uri)
        _ = parts.port  # raises on a malformed port
    except ValueError:
        return False
    return parts.scheme in ("http", "https") and bool(parts.hostname) and "#" not in uri


def _with_query(uri: str, params: Mapping[str, str]) -> str:
    """`uri` with `params` appended to its query, which is otherwise kept."""
    parts = urlsplit(uri)
    extra = urlencode(params)
    query = f"{parts.query}&{extra}" if parts.query else extra
    return urlunsplit(parts._replace(query=query))


def _basic_credentials(header: str) -> tuple[str, str]:
    """HTTP Basic client credentials; the id and secret were form-urlencoded
    before Basic encoding, so they are decoded twice."""
    scheme, _, encoded = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise OAuthError("invalid_client", "unsupported authentication scheme", 401)
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
    client_id, colon, secret = decoded.partition(":")
    if not colon:
        raise OAuthError("invalid_client", "malformed Basic credentials", 401)
    return unquote_plus(client_id), unquote_plus(secret)


@dataclass(slots=True)
class OAuthProvider:
    """Every provider's live state: slug -> (client_id, client_secret), the codes
    issued (code -> OAuthCode) and the slugs whose user refuses consent."""

    clients: dict[str, tuple[str, str]] = field(default_factory=dict)
    codes: dict[str, OAuthCode] = field(default_factory=dict)
    deny: set[str] = field(default_factory=set)

    def purge_codes(self, now: datetime) -> None:
        expired = [
            code
            for code, issued in self.codes.items()
            if now - issued.issued_at > OAUTH_CODE_TTL
        ]
        for code in expired:
            del self.codes[code]

    async def authorize(self, request: Request, now: datetime) -> Response:
        self.purge_codes(now)
        try:
            return self._authorize(request, now)
        except OAuthError as error:
            return error.response()

    def _authorize(self, request: Request, now: datetime) -> Response:
        # Every check fails with 400 and no redirect: in particular a bad client_id
        # or redirect_uri must never redirect, as the target is not yet trusted.
        slug = request.path_params["slug"]
        params = request.query_params.multi_items()
        client_id = _required(params, "client_id")
        if client_id != self.clients[slug][0]:
            raise _invalid_request("unknown `client_id`")
        redirect_uri = _required(params, "redirect_uri")
        if not _is_redirect_uri(redirect_uri):
            raise _invalid_request("`redirect_uri` must be an absolute http(s) URL")
        if _required(params, "response_type") != "code":
            raise _invalid_request("`response_type` must be `code`")
        state = _required(params, "state")
        if _required(params, "code_challenge_method") != "S256":
            raise _invalid_request("`code_challenge_method` must be `S256`")
        challenge = _required(params, "code_challenge")
        if not _CODE_CHALLENGE.fullmatch(challenge):
            raise _invalid_request("`code_challenge` must be 43-128 base64url chars")
        scope = _single(params, "scope")
        if slug in self.deny:
            answer = {"error": "access_denied", "state": state}
        else:
            while len(self.codes) >= OAUTH_MAX_CODES:
                del self.codes[next(iter(self.codes))]
            code = secrets.token_urlsafe(32)
            self.codes[code] = OAuthCode(
                slug, client_id, redirect_uri, challenge, scope, now
            )
            answer = {"code": code, "state": state}
        location = _with_query(redirect_uri, answer)
        return Response(status_code=302, headers={"location": location, **_NO_STORE})

    async def token(self, request: Request, now: datetime) -> Response:
        self.purge_codes(now)
        try:
            return self._token(request, await request.body())
        except OAuthError as error:
            return error.response()

    def _client(
        self, request: Request, params: Sequence[tuple[str, str]]
    ) -> tuple[str, str]:
        """The authenticated client (id, secret): Basic auth or the form body."""
        header = request.headers.get("authorization")
        body_id = _single(params, "client_id")
        if header is None:
            client_id, secret = body_id, _single(params, "client_secret")
            if client_id is None or secret is None:
                raise OAuthError("invalid_client", "client credentials missing", 401)
        else:
            client_id, secret = _basic_credentials(header)
            if _single(params, "client_secret") is not None:
                raise _invalid_request("use one client authentication method")
            if body_id is not None and body_id != client_id:
                raise _invalid_request("`client_id` differs from the Basic user")
        expected_id, expected_secret = self.clients[request.path_params["slug"]]
        id_ok = hmac.compare_digest(client_id.encode(), expected_id.encode())
        secret_ok = hmac.compare_digest(secret.encode(), expected_secret.encode())
        if not (id_ok and secret_ok):
            raise OAuthError("invalid_client", "client authentication failed", 401)
        return client_id, secret

    def _token(self, request: Request, body: bytes) -> Response:
        media_type = request.headers.get("content-type", "").partition(";")[0]
        if media_type.strip().lower() != OAUTH_FORM_TYPE:
            raise _invalid_request(f"the body must be {OAUTH_FORM_TYPE}")
        try:
            params = parse_qsl(body.decode(), keep_blank_values=True)
        except (UnicodeDecodeError, ValueError):
            raise _invalid_request("the body is not a valid form") from None
        slug = request.path_params["slug"]
        client_id, _secret = self._client(request, params)
        grant_type = _required(params, "grant_type")
        if grant_type != "authorization_code":
            raise OAuthError(
                "unsupported_grant_type", f"grant type `{grant_type}` not supported"
            )
        code = _required(params, "code")
        redirect_uri = _required(params, "redirect_uri")
        verifier = _required(params, "code_verifier")
        issued = self.codes.get(code)
        if issued is None or (issued.slug, issued.client_id) != (slug, client_id):
            raise OAuthError("invalid_grant", "the code is unknown or has expired")
        if issued.used:  # a replay; nothing issued earlier is revoked
            raise OAuthError("invalid_grant", "the code has already been used")
        issued.used = True  # one attempt per code, successful or not
        if redirect_uri != issued.redirect_uri:
            raise OAuthError("invalid_grant", "`redirect_uri` does not match")
        if not _CODE_VERIFIER.fullmatch(verifier) or not hmac.compare_digest(
            _s256(verifier), issued.code_challenge
        ):
            raise OAuthError("invalid_grant", "PKCE verification failed")
        body_out = {
            "access_token": secrets.token_urlsafe(32),
            "token_type": "Bearer",
            "api_key": provider_api_key(slug),
            "expires_in": OAUTH_TOKEN_EXPIRES_IN,
        }
        return Response(
            encode_json(body_out), media_type=JSON_TYPE, headers=dict(_NO_STORE)
        )
