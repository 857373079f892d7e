"""`/graphql`: Strawberry's ASGI app, with a shared cache in front for public queries.

A query whose every root field is public (`PUBLIC_ROOT_FIELDS`) is answered through
the response cache, like the REST routes: same keys (normalised document,
operation, canonical variables), same fresh/stale windows (the strictest of its
root fields), `X-Cache`, ETag/304, gzip. Anything else — a mutation, a developer
field, a request Strawberry must judge (a syntax error, a limit) — goes to
Strawberry untouched and leaves with `Cache-Control: private, no-store`.

Before any of that, the front refuses what `/graphql` does not take, as GraphQL
errors (`{"errors": [{"message", "extensions": {"code"}}]}`) rather than text:
a POST that is not `application/json` (415: form and multipart posts are what a
browser sends cross-site without a CORS preflight, i.e. CSRF), a body that is not
JSON or not one JSON object (400; a JSON array is a batch, and batching is off).
Strawberry's own refusals (a mutation by GET: 405) get the same shape.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from cross_web import HTTPException
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationType,
    parse,
    print_ast,
)
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.types import Message, Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.schema.exceptions import InvalidOperationTypeError

from app.cache import DASHBOARD_UNAVAILABLE, CachePolicy
from app.cache_backends import FlightFailed
from app.context import Context, Services
from app.graphql.graphiql import graphiql_html, missing_assets
from app.graphql.limits import selected_operation
from app.response_cache import Entry, Freshness, cache_key, to_response
from app.schema import PUBLIC_ROOT_FIELDS
from app.upstream._http import track_data_sources

# Documents longer than this are not considered for the shared cache (they go to
# Strawberry as they are): the plan cache below is keyed by the document text, so
# its memory must stay bounded by size as well as by count.
MAX_CACHEABLE_QUERY = 16 * 1024

# What a CDN or browser may do with a cached public GraphQL answer, by class.
GRAPHQL_CACHE_CONTROL = {
    "dashboard": CachePolicy.public(60, 3600, 7200).header,
    "job_feed": CachePolicy.public(5, 5, 10).header,
}


ERROR_CODES = {
    400: "BAD_REQUEST",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    415: "UNSUPPORTED_MEDIA_TYPE",
}
MUTATION_BY_GET = "Mutations are not allowed over GET; POST them as application/json."
NOT_JSON = (
    "POST /graphql takes application/json only (form and multipart posts are "
    "refused: browsers send them cross-site without a CORS preflight)."
)
BATCH = "Batching is not supported: send one operation per request."
NOT_AN_OBJECT = "The body must be one JSON object: {query, variables, operationName}."
BAD_JSON = "The body is not valid JSON."


def refusal(status: int, message: str) -> JSONResponse:
    """A request `/graphql` does not take, as a GraphQL-style error."""
    headers = {"cache-control": "no-store"}
    if status == 405:
        headers["allow"] = "POST"
    return JSONResponse(
        {"errors": [{"message": message, "extensions": {"code": ERROR_CODES[status]}}]},
        status_code=status,
        headers=headers,
    )


class StrawberryApp(GraphQL[Context, None]):
    """Strawberry's ASGI app with our context, orjson, a self-hosted GraphiQL and
    refusals as GraphQL errors. Queries may come by GET (read-only, so a CDN may
    cache them); multipart uploads stay off."""

    def __init__(
        self,
        schema: strawberry.Schema,
        services: Services,
        *,
        assets_dir: Any,
        assets_path: str,
        default_query: str,
    ) -> None:
        enabled = services.settings.graphiql
        super().__init__(
            schema,
            graphql_ide="graphiql" if enabled else None,
            allow_queries_via_get=True,
            multipart_uploads_enabled=False,
        )
        self._services = services
        self._assets_dir = assets_dir
        self._assets_path = assets_path
        self._default_query = default_query

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":  # pragma: no cover  (only routed for HTTP)
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
            # Strawberry answers 400; it is the method that is wrong.
            if isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, MUTATION_BY_GET) from exc
            raise

    async def get_context(self, request: Any, response: Any) -> Context:
        return Context.for_request(self._services, request)

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
            )
        )


@dataclass(frozen=True, slots=True)
class Plan:
    """What caching a public query needs, computed once per document text."""

    normalized: str
    freshness_class: str


@functools.lru_cache(maxsize=512)
def plan_for(query: str, operation_name: str | None, max_tokens: int) -> Plan | None:
    """A plan when the operation is a query of public root fields only.

    Parsed with the schema's token limit: a document over it is Strawberry's to
    refuse, not this planner's to parse in full first."""
    try:
        document: DocumentNode = parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None  # Strawberry reports the syntax error
    selected = selected_operation(document, operation_name)
    if selected is None or selected[0].operation != OperationType.QUERY:
        return None
    fields = selected[1]
    classes = {PUBLIC_ROOT_FIELDS.get(name) for name in fields}
    if not fields or None in classes:
        return None
    # The strictest class: the one kept fresh for the shortest time.
    strictest = "job_feed" if "job_feed" in classes else "dashboard"
    return Plan(print_ast(document), strictest)


def _key(plan: Plan, payload: dict[str, Any]) -> str:
    variables = payload.get("variables") or {}
    return cache_key(
        "graphql", plan.normalized, payload.get("operationName"), variables
    )


# Raw JSON body -> (plan, payload, key) for public queries already seen: the
# dashboard repeats the same few bodies. Bounded; cleared when full.
_BODY_MEMO: dict[bytes, tuple[Plan, dict[str, Any], str]] = {}
_BODY_MEMO_SIZE = 1024
_BODY_MEMO_MAX_BODY = 16 * 1024  # so the memo stays under ~16 MiB


class CachedGraphQL:
    """ASGI front for `/graphql`: public queries through the response cache."""

    def __init__(
        self, app: StrawberryApp, schema: strawberry.Schema, services: Services
    ) -> None:
        self.app = app
        self.schema = schema
        self.services = services
        self.max_tokens = services.settings.graphql_max_tokens

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        body = b""
        payload: Any = None
        is_json = False
        if scope["method"] == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0]
            if content_type.strip().lower() != "application/json":
                # Refused unread: nothing of a cross-site form post is parsed.
                await refusal(415, NOT_JSON)(scope, receive, send)
                return
            is_json = True
            body = await request.body()
            known = _BODY_MEMO.get(body)
            if known is not None:
                # A body seen before: its plan, key and variables are known.
                response = await self._cached(request, *known)
                await response(scope, receive, send)
                return
            try:
                payload = orjson.loads(body)
            except orjson.JSONDecodeError:
                await refusal(400, BAD_JSON)(scope, receive, send)
                return
            if not isinstance(payload, dict):
                message = BATCH if isinstance(payload, list) else NOT_AN_OBJECT
                await refusal(400, message)(scope, receive, send)
                return
        elif "query" in request.query_params:
            payload = dict(request.query_params)
            raw_variables = payload.get("variables")
            if raw_variables:
                try:
                    payload["variables"] = orjson.loads(raw_variables)
                except orjson.JSONDecodeError:
                    payload = None

        plan = self._plan(payload)
        if plan is None or payload is None:
            await self._pass_through(
                scope, body, receive, send, has_query=bool(payload)
            )
            return
        known = (plan, payload, _key(plan, payload))
        if is_json and len(body) <= _BODY_MEMO_MAX_BODY:
            if len(_BODY_MEMO) >= _BODY_MEMO_SIZE:
                _BODY_MEMO.clear()
            _BODY_MEMO[body] = known
        response = await self._cached(request, *known)
        await response(scope, receive, send)

    def _plan(self, payload: Any) -> Plan | None:
        if not isinstance(payload, dict):
            return None
        query = payload.get("query")
        operation = payload.get("operationName")
        variables = payload.get("variables")
        if not isinstance(query, str) or len(query) > MAX_CACHEABLE_QUERY:
            return None
        if operation is not None and not isinstance(operation, str):
            return None
        if variables is not None and not isinstance(variables, dict):
            return None
        return plan_for(query, operation, self.max_tokens)

    async def _cached(
        self, request: Request, plan: Plan, payload: dict[str, Any], key: str
    ) -> Any:
        services = self.services
        variables = payload.get("variables") or {}
        operation = payload.get("operationName")
        freshness: Freshness = services.freshness[plan.freshness_class]
        bypass = request.headers.get("cache-control", "").lower() == "no-cache"

        async def fetch() -> Entry:
            sources = track_data_sources()
            context = Context.for_request(services, request)
            result = await self.schema.execute(
                payload["query"],
                variable_values=variables,
                context_value=context,
                operation_name=operation,
            )
            document: dict[str, Any] = {"data": result.data}
            if result.errors:
                document["errors"] = [e.formatted for e in result.errors]
            headers = {"content-type": "application/json"}
            if "simulator" in sources:
                headers["x-data-source"] = "simulator"
            return Entry.build(
                status=200,
                body=orjson.dumps(document),
                headers=headers,
                freshness=freshness,
                cacheable=not result.errors and not context.degraded,
                now=services.responses.clock(),
            )

        try:
            entry, x_cache = await services.responses.serve(
                key, fetch, bypass=bypass, surface="graphql"
            )
        except FlightFailed:
            return JSONResponse(
                {
                    "data": None,
                    "errors": [
                        {
                            "message": "Service unavailable",
                            "extensions": {"code": "SERVICE_UNAVAILABLE"},
                        }
                    ],
                },
                status_code=503,
                headers={"cache-control": DASHBOARD_UNAVAILABLE.header},
            )
        cache_control = (
            GRAPHQL_CACHE_CONTROL[plan.freshness_class]
            if entry.cacheable
            else DASHBOARD_UNAVAILABLE.header
        )
        return to_response(
            entry,
            x_cache,
            request.headers,
            cache_control=cache_control,
            now=services.responses.clock(),
        )

    async def _pass_through(
        self,
        scope: Scope,
        body: bytes,
        receive: Receive,
        send: Send,
        *,
        has_query: bool,
    ) -> None:
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if scope["method"] == "POST" and not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        async def send_private(message: Message) -> None:
            if message["type"] == "http.response.start" and has_query:
                headers = list(message.get("headers", []))
                if not any(name == b"cache-control" for name, _ in headers):
                    headers.append((b"cache-control", b"private, no-store"))
                message["headers"] = headers
            await send(message)

        await self.app(scope, replay, send_private)
