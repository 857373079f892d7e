"""Client for billing providers' OAuth 2.0 token endpoints (code + PKCE -> API key).

Each provider is configured in settings (`OAUTH_PROVIDERS`); in development a
provider without settings is the simulator's. The exchange is one form-encoded
POST with the client's credentials; the provider's key is the first string among
`api_key`, `apiKey` and `key`. Failures are the usual upstream errors; the key is
never part of an error message or a log line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass

import httpx
import orjson

from app.errors import UpstreamBadPayload, UpstreamStatusError, UpstreamTimeout
from app.settings import OAuthProvider, Settings


@dataclass(frozen=True, slots=True)
class ProviderEndpoints:
    config: OAuthProvider
    simulated: bool


def provider_endpoints(
    settings: Settings,
    *,
    simulated_clients: Mapping[str, tuple[str, str]],
    simulator_authorize: str,
    simulator_token: str,
) -> dict[str, ProviderEndpoints]:
    """The configured providers, plus a simulated one for each slug of
    `simulated_clients` (slug -> client id and secret). A simulated provider's
    authorize page is under `simulator_authorize` on this server (a browser must
    reach it); its token endpoint under `simulator_token`, reached in process."""
    providers = {
        slug: ProviderEndpoints(config, simulated=False)
        for slug, config in settings.oauth_providers.items()
    }
    base = settings.public_base_url.rstrip("/")
    for slug, (client_id, client_secret) in simulated_clients.items():
        providers[slug] = ProviderEndpoints(
            OAuthProvider(
                authorize_url=f"{simulator_authorize}/oauth/{slug}/authorize",
                token_url=f"{simulator_token}/oauth/{slug}/token",
                client_id=client_id,
                client_secret=client_secret,
                redirect_uri=f"{base}/api/v1/auth/providers/{slug}/callback",
            ),
            simulated=True,
        )
    return providers


class OAuthClient:
    def __init__(
        self,
        providers: Mapping[str, ProviderEndpoints],
        *,
        timeout: float = 10.0,
        transport: httpx.AsyncBaseTransport | None = None,
        simulator_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.providers = dict(providers)
        self.timeout = timeout
        self._transport = transport
        self._real_client: httpx.AsyncClient | None = None
        self._simulated = self._client(simulator_transport)

    def _client(self, transport: httpx.AsyncBaseTransport | None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(self.timeout),
            follow_redirects=False,
        )

    @property
    def _real(self) -> httpx.AsyncClient:
        # Built on first use: a network client loads httpcore and the CA bundle
        # (~40 ms of every cold start), which development's simulated providers and
        # a server that never sees a login do not need.
        if self._real_client is None:
            self._real_client = self._client(self._transport)
        return self._real_client

    async def aclose(self) -> None:
        if self._real_client is not None:
            await self._real_client.aclose()
        await self._simulated.aclose()

    def endpoints(self, slug: str) -> ProviderEndpoints | None:
        return self.providers.get(slug)

    async def exchange_code(self, slug: str, *, code: str, verifier: str) -> str:
        """Trade an authorization code (and its PKCE verifier) for the provider key."""
        endpoints = self.providers[slug]
        config = endpoints.config
        client = self._simulated if endpoints.simulated else self._real
        upstream = f"oauth:{slug}"
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": config.redirect_uri,
            "client_id": config.client_id,
            "client_secret": config.client_secret,
            "code_verifier": verifier,
        }
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.post(
                    config.token_url, data=form, headers={"accept": "application/json"}
                )
        except (TimeoutError, httpx.TimeoutException) as exc:
            raise UpstreamTimeout(
                f"{upstream} token call timed out", upstream=upstream
            ) from exc
        except httpx.TransportError as exc:
            raise UpstreamTimeout(
                f"{upstream} token call failed: {type(exc).__name__}", upstream=upstream
            ) from exc
        if not response.is_success:
            raise UpstreamStatusError(
                f"{upstream} token call returned HTTP {response.status_code}",
                upstream=upstream,
            )
        try:
            body = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            raise UpstreamBadPayload(
                f"{upstream}: token body is not JSON", upstream=upstream
            ) from exc
        key = None
        if isinstance(body, Mapping):
            key = next(
                (
                    body[k]
                    for k in ("api_key", "apiKey", "key")
                    if isinstance(body.get(k), str)
                ),
                None,
            )
        if not key or not key.strip():
            raise UpstreamBadPayload(
                f"{upstream}: no API key in the token response", upstream=upstream
            )
        return str(key)
