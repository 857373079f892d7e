"""The simulator as one ASGI app: every route, and the bookkeeping they share.

    GET  /v1/<key>                 the NAAP Analytics endpoints (analytics.py)
    GET  /healthz                  {"status":"ok"}
    POST /subgraph                 GraphQL against a subgraph-like schema (subgraph.py)
    POST /rpc                      Ethereum JSON-RPC (rpc.py)
    GET  /oauth/<slug>/authorize   a billing provider's OAuth 2.0 endpoints (oauth.py)
    POST /oauth/<slug>/token
    GET|PUT|DELETE /faults         fault control for a running server (control.py)

Responses are computed from `clock()` when answered (same seed and clock, same
bytes). `app.state.faults` (endpoint key -> Fault) may be mutated by tests;
`app.state.calls` counts requests per endpoint key as they arrive.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from simulator.analytics import ANALYTICS_ENDPOINTS, Builder
from simulator.control import faults_endpoint
from simulator.encoding import json_response
from simulator.faults import Fault, apply_fault
from simulator.oauth import DEFAULT_OAUTH_CLIENTS, OAuthProvider
from simulator.rpc import rpc_answer
from simulator.subgraph import graphql_errors, subgraph_answer
from simulator.world import SimWorld

ENDPOINT_KEYS: Final = (*ANALYTICS_ENDPOINTS, "healthz", "subgraph", "rpc")

Answer = Callable[[Request, datetime], Awaitable[Response]]


def _utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Simulator:
    world: SimWorld
    clock: Callable[[], datetime]
    faults: dict[str, Fault]
    calls: Counter[str]
    oauth: OAuthProvider

    def now(self) -> datetime:
        moment = self.clock()
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment

    def fault_for(self, key: str) -> Fault | None:
        return self.faults.get(key, self.faults.get("*"))

    async def serve(self, key: str, request: Request, answer: Answer) -> Response:
        self.calls[key] += 1
        fault = self.fault_for(key)
        if fault is None:
            return await answer(request, self.now())
        return await apply_fault(fault, key, lambda: answer(request, self.now()))

    def endpoint(
        self, key: str, answer: Answer
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            return await self.serve(key, request, answer)

        return handle

    def oauth_endpoint(
        self, action: str, answer: Answer
    ) -> Callable[[Request], Awaitable[Response]]:
        """Key `oauth/<slug>/<action>`; a slug with no configured client is 404."""

        async def handle(request: Request) -> Response:
            slug = request.path_params["slug"]
            if slug not in self.oauth.clients:
                return _page_not_found()
            return await self.serve(f"oauth/{slug}/{action}", request, answer)

        return handle

    def analytics(self, build: Builder) -> Answer:
        async def answer(request: Request, now: datetime) -> Response:
            return json_response(build(self.world, now, request.query_params))

        return answer

    async def healthz(self, _request: Request, _now: datetime) -> Response:
        return json_response({"status": "ok"})

    async def subgraph(self, request: Request, now: datetime) -> Response:
        try:
            payload = json.loads(await request.body())
        except ValueError:
            return graphql_errors("the body is not valid JSON")
        return subgraph_answer(self.world, now, payload)

    async def rpc(self, request: Request, now: datetime) -> Response:
        return rpc_answer(self.world, now, await request.body())


def _page_not_found() -> Response:
    return PlainTextResponse("404 page not found\n", status_code=404)  # chi's text


async def _not_found(_request: Request, _exc: Exception) -> Response:
    return _page_not_found()


def create_simulator(
    *,
    seed: int = 1,
    clock: Callable[[], datetime] | None = None,
    faults: Mapping[str, Fault] | None = None,
    oauth_clients: Mapping[str, tuple[str, str]] | None = None,
    oauth_deny: Iterable[str] = (),
) -> Starlette:
    """The simulator app. `clock` returns an aware UTC datetime (default: now).

    `oauth_clients` maps a billing provider slug to its (client_id, client_secret)
    (default `DEFAULT_OAUTH_CLIENTS`); the simulated user refuses consent for the
    slugs in `oauth_deny`. `app.state.oauth_clients`, `.oauth_deny` and
    `.oauth_codes` (code -> OAuthCode) are the live, mutable state."""
    oauth = OAuthProvider(
        clients=dict(DEFAULT_OAUTH_CLIENTS if oauth_clients is None else oauth_clients),
        deny=set(oauth_deny),
    )
    sim = _Simulator(
        SimWorld(seed), clock or _utc_now, dict(faults or {}), Counter(), oauth
    )
    routes = [
        Route(f"/v1/{key}", sim.endpoint(key, sim.analytics(build)), methods=["GET"])
        for key, build in ANALYTICS_ENDPOINTS.items()
    ]
    routes += [
        Route("/healthz", sim.endpoint("healthz", sim.healthz), methods=["GET"]),
        Route("/subgraph", sim.endpoint("subgraph", sim.subgraph), methods=["POST"]),
        Route("/rpc", sim.endpoint("rpc", sim.rpc), methods=["POST"]),
        Route(
            "/oauth/{slug}/authorize",
            sim.oauth_endpoint("authorize", oauth.authorize),
            methods=["GET"],
        ),
        Route(
            "/oauth/{slug}/token",
            sim.oauth_endpoint("token", oauth.token),
            methods=["POST"],
        ),
        Route("/faults", faults_endpoint(sim.faults), methods=["GET", "PUT", "DELETE"]),
    ]
    app = Starlette(routes=routes, exception_handlers={404: _not_found})
    app.state.world = sim.world
    app.state.calls = sim.calls
    app.state.faults = sim.faults
    app.state.oauth_clients = oauth.clients
    app.state.oauth_codes = oauth.codes
    app.state.oauth_deny = oauth.deny
    return app
