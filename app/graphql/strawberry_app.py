"""Strawberry's ASGI app as this server runs it: our context, orjson, a
self-hosted GraphiQL, and refusals as GraphQL errors rather than text. Queries
may come by GET (read-only, so a CDN may cache them); multipart uploads are off.
Subscriptions: graphql-transport-ws and GraphQL over SSE only, at most
`MAX_SUBSCRIPTIONS` per WebSocket, persisted operations over both (see
transport_ws.py), `connection_init` within
GRAPHQL_WS_INIT_TIMEOUT (else 4408), cross-site WebSockets from CORS_ORIGINS only.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final

import orjson
import strawberry
from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.subscriptions import GRAPHQL_SSE_PROTOCOL, GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.types.graphql import OperationType

from app.context import Context, Services
from app.graphql.graphiql import graphiql_html, missing_assets
from app.graphql.policy import (
    NOT_FOUND,
    NOT_FOUND_CACHE_CONTROL,
    BadExtension,
    requested_hash,
)
from app.graphql.refusals import refusal
from app.graphql.transport_ws import TransportWSHandler

MUTATION_BY_GET = "Mutations are not allowed over GET; POST them as application/json."
SUBSCRIPTION_WITHOUT_STREAM = (
    "Subscriptions need a stream: a WebSocket (graphql-transport-ws) or a request "
    "with Accept: text/event-stream."
)
MAX_SUBSCRIPTIONS: Final = 5  # operations in flight on one WebSocket


class StrawberryApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, orjson, a self-hosted GraphiQL and
    refusals as GraphQL errors. Queries may come by GET (read-only, so a CDN may
    cache them); multipart uploads stay off."""

    # Keeps `payload.extensions`, so persisted operations work over WebSockets.
    graphql_transport_ws_handler_class = TransportWSHandler

    def __init__(
        self,
        schema: strawberry.Schema,
        services: Services,
        *,
        assets_dir: Any,
        assets_path: str,
        default_query: str,
    ) -> None:
        settings = services.settings
        super().__init__(
            schema,
            graphql_ide="graphiql" if settings.graphiql else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
            subscription_protocols=(
                GRAPHQL_TRANSPORT_WS_PROTOCOL,
                GRAPHQL_SSE_PROTOCOL,
            ),
            connection_init_wait_timeout=timedelta(
                seconds=settings.graphql_ws_init_timeout
            ),
            max_subscriptions_per_connection=MAX_SUBSCRIPTIONS,
            allowed_origins=settings.cors_origins,
        )
        self._services = services
        self._assets_dir = assets_dir
        self._assets_path = assets_path
        self._default_query = default_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # WebSockets (the front checked them)
            await super().__call__(scope, receive, send)
            return
        try:
            response = await self.run(Request(scope, receive))
        except HTTPException as exc:
            response = refusal(exc.status_code, exc.reason)
        await response(scope, receive, send)

    async def execute_single(self, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(*args, **kwargs)
        except HTTPException as exc:
            cause = exc.__cause__
            if isinstance(cause, InvalidOperationTypeError):
                if cause.operation_type == OperationType.SUBSCRIPTION:
                    raise HTTPException(400, SUBSCRIPTION_WITHOUT_STREAM) from exc
                # Strawberry answers 400; it is the method that is wrong.
                raise HTTPException(405, MUTATION_BY_GET) from exc
            raise

    async def get_context(self, request: Any, response: Any) -> Context:
        context = Context.for_request(self._services, request)
        context.persisted_policy = True
        return context

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET naming a persisted operation has no `query`, like GraphiQL's own
        # page; it is a request all the same, from curl (`*/*`) or a browser.
        extensions = request.query_params.get("extensions")
        if extensions:
            try:
                if requested_hash(orjson.loads(extensions)) is not None:
                    return False
            except (orjson.JSONDecodeError, BadExtension):
                return False
        return bool(super().should_render_graphql_ide(request))

    def create_response(self, response_data: Any, sub_response: Any) -> Any:
        response = super().create_response(response_data, sub_response)
        errors = (
            response_data.get("errors") if isinstance(response_data, dict) else None
        )
        if errors and any(_code(e) == NOT_FOUND for e in errors):
            response.headers["cache-control"] = NOT_FOUND_CACHE_CONTROL
        return response

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> object:
        # orjson reports a body that is not UTF-8 as a JSONDecodeError, which
        # Strawberry answers with a 400; json.loads raised UnicodeDecodeError: a 500.
        return orjson.loads(data)

    async def render_graphql_ide(self, request: Any) -> HTMLResponse:
        missing = missing_assets(self._assets_dir)
        if missing:
            return HTMLResponse(
                "<!doctype html><title>GraphiQL assets missing</title><p>GraphiQL's "
                "files are not installed (missing: " + ", ".join(missing) + "). "
                "Run <code>make install</code>; POST /graphql works meanwhile.</p>",
                status_code=503,
            )
        return HTMLResponse(
            graphiql_html(
                endpoint="/graphql",
                assets_path=self._assets_path,
                default_query=self._default_query,
                docs_url="/docs" if self._services.settings.docs else None,
            )
        )


def _code(error: Any) -> Any:
    extensions = error.get("extensions") if isinstance(error, dict) else None
    return extensions.get("code") if isinstance(extensions, dict) else None
