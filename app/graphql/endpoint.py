"""`/graphql`: public queries through the cached read, everything else to Strawberry.

A query whose every root field is public is planned (which snapshots it needs)
and answered by the same cached read as the REST rows, so a query and a route of
the same data agree. Anything else (a mutation, a developer field, a document
Strawberry must judge) goes to Strawberry untouched and leaves `private, no-store`.
Before that, the front refuses what `/graphql` does not take, as GraphQL errors: a
POST that is not `application/json` (415: forms are what browsers send cross-site
without a preflight), a body that is not one JSON object (400: no batching).

A request naming a known persisted operation by hash (`extensions.persistedQuery`,
by POST or GET) is planned as its document, so a hashed GET of a public operation
is cached like the text; anything the policy must judge (an unknown hash, a
registration, an unregistered document under `enforce-anonymous`) goes to
Strawberry, where the policy's extension answers it (policy.py).
WebSockets and requests for an event stream (subscriptions) hold a stream slot
while open (streams.py).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
import strawberry
from graphql import DocumentNode, GraphQLError, parse, print_ast
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.caching.plan import ReadPlan, plan_read
from app.caching.policy import (
    DASHBOARD_SUCCESS,
    DASHBOARD_UNAVAILABLE,
    JOB_FEED_SUCCESS,
)
from app.caching.read import Found, Rendered
from app.caching.render import render_key, to_response
from app.context import Context, Services
from app.graphql import streams
from app.graphql.persisted import text_hash
from app.graphql.policy import (
    PERSISTED_QUERY_SHAPE,
    RESULTS,
    BadExtension,
    Policy,
    has_token,
    requested_hash,
)
from app.graphql.refusals import BAD_JSON, BATCH, NOT_AN_OBJECT, NOT_JSON, refusal
from app.schema import PUBLIC_FIELDS, graphql_schema

# Longer documents are answered but not planned (they go to Strawberry as they
# are): the plan memo is keyed by the request's bytes, so it stays bounded.
MAX_CACHEABLE_QUERY = 16 * 1024
_MEMO_SIZE = 1024

# What a CDN or browser may do with a public GraphQL answer, by freshness class.
CACHE_CONTROL = {
    "dashboard": DASHBOARD_SUCCESS.header,
    "job_feed": JOB_FEED_SUCCESS.header,
}


@dataclass(frozen=True, slots=True)
class PlannedQuery:
    """What a public query's bytes determine, computed once per distinct request."""

    plan: ReadPlan
    render_key: str
    query: str
    variables: dict[str, Any]
    operation: str | None
    # `audit`: the document is not registered, so requests without a token count.
    unregistered: bool = False
    # A hashed request: counted as a registered operation or an APQ hit.
    result: Any = None


@functools.lru_cache(maxsize=512)
def _parsed(query: str, max_tokens: int) -> DocumentNode | None:
    """Parsed with the schema's token limit: a document over it is Strawberry's
    to refuse, not this planner's to parse in full first."""
    try:
        return parse(query, max_tokens=max_tokens)
    except GraphQLError:
        return None  # Strawberry reports the syntax error


class GraphQLEndpoint:
    """ASGI front of `/graphql`."""

    def __init__(
        self,
        make_app: Callable[[], ASGIApp],
        schema: strawberry.Schema,
        services: Services,
        policy: Policy,
    ) -> None:
        self._make_app = make_app
        self._app: ASGIApp | None = None
        self.schema = schema
        self.services = services
        self.policy = policy
        self.max_tokens = services.settings.graphql_max_tokens
        # Raw request (body, or GET query string) -> its plan, or None: private.
        self._memo: dict[bytes, PlannedQuery | None] = {}

    @property
    def app(self) -> ASGIApp:
        """Strawberry's app, made for the first request it must judge: a server
        that answers only public queries never imports strawberry.asgi."""
        if self._app is None:
            self._app = self._make_app()
        return self._app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket":
            await streams.websocket(self.app, self.services, scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] not in ("GET", "POST"):
            await self.app(scope, receive, send)
            return
        request = Request(scope, receive)
        body = b""
        if scope["method"] == "POST":
            content_type = request.headers.get("content-type", "").split(";")[0]
            if content_type.strip().lower() != "application/json":
                # Refused unread: nothing of a cross-site form post is parsed.
                await refusal(415, NOT_JSON)(scope, receive, send)
                return
            body = await request.body()
            raw = body
        else:
            raw = scope["query_string"]
        if raw in self._memo:
            planned = self._memo[raw]
        else:
            payload: Any = None
            if scope["method"] == "POST":
                try:
                    payload = orjson.loads(body)
                except orjson.JSONDecodeError:
                    await refusal(400, BAD_JSON)(scope, receive, send)
                    return
                if not isinstance(payload, dict):
                    message = BATCH if isinstance(payload, list) else NOT_AN_OBJECT
                    await refusal(400, message)(scope, receive, send)
                    return
            else:
                payload = _get_payload(request)
            problem = _malformed(payload)
            if problem is not None:
                await refusal(400, problem)(scope, receive, send)
                return
            if scope["method"] == "GET" and not _asks(payload):
                payload = None  # GraphiQL's page
            payload, lasting = await self._persisted(payload)
            planned = self._plan(payload)
            if lasting and payload is not None and len(raw) <= MAX_CACHEABLE_QUERY:
                if len(self._memo) >= _MEMO_SIZE:
                    self._memo.clear()
                self._memo[raw] = planned
        if planned is None:
            has_query = scope["method"] == "POST" or _asks(_get_payload(request))
            await self._pass_through(scope, body, receive, send, has_query=has_query)
            return
        if planned.result is not None:
            planned.result.inc()
        if planned.unregistered and not has_token(scope):
            self.policy.audit(planned.query)
        response = await self._cached(request, planned)
        await response(scope, receive, send)

    async def _persisted(self, payload: Any) -> tuple[Any, bool]:
        """The payload to plan, with the document of the persisted operation it
        names by hash; and whether that verdict lasts (may be memoised). None:
        Strawberry and the policy's extension answer it."""
        if not isinstance(payload, dict):
            return payload, True
        policy = self.policy
        sha256 = requested_hash(payload.get("extensions"))  # checked: _malformed
        if sha256 is None:
            query = payload.get("query")
            if policy.enforcing and isinstance(query, str):
                # An unregistered document is judged per request (the caller's
                # token decides), so it is never answered from here.
                return (
                    (payload, True) if policy.registry.has_text(query) else (None, True)
                )
            return payload, True
        query = payload.get("query")
        if policy.mode == "off":
            return None, True  # refused: hashes are not taken
        if query is not None:
            # The text of a registered operation runs like the text alone; anything
            # else is a registration or a mismatch, for the extension.
            if sha256 in policy.registry and text_hash(query) == sha256:
                return payload, True
            return None, False
        found = await policy.lookup(sha256)
        if found is None:
            return None, False  # a miss now; maybe registered by the next request
        document, registered = found
        result = RESULTS["operation" if registered else "apq_hit"]
        return {**payload, "query": document, "_result": result}, True

    def _plan(self, payload: Any) -> PlannedQuery | None:
        if not isinstance(payload, dict):
            return None
        query = payload.get("query")
        operation = payload.get("operationName")
        variables = payload.get("variables") or {}
        if not isinstance(query, str) or len(query) > MAX_CACHEABLE_QUERY:
            return None
        if operation is not None and not isinstance(operation, str):
            return None
        if not isinstance(variables, dict):
            return None
        document = _parsed(query, self.max_tokens)
        if document is None:
            return None
        plan = plan_read(
            graphql_schema(self.schema), document, operation, variables, PUBLIC_FIELDS
        )
        if plan is None:
            return None
        key = render_key("graphql", print_ast(document), operation, variables)
        result = payload.get("_result")
        return PlannedQuery(
            plan,
            key,
            query,
            variables,
            operation,
            unregistered=self.policy.unregistered(query),
            result=result,
        )

    async def _cached(self, request: Request, planned: PlannedQuery) -> Any:
        services = self.services

        async def render(found: Found) -> Rendered:
            context = Context.for_request(services, request, found=found)
            result = await self.schema.execute(
                planned.query,
                variable_values=planned.variables,
                context_value=context,
                operation_name=planned.operation,
            )
            document: dict[str, Any] = {"data": result.data}
            if result.errors:
                document["errors"] = [e.formatted for e in result.errors]
            complete = not result.errors and not context.degraded
            return Rendered(200, orjson.dumps(document), complete)

        bypass = request.headers.get("cache-control", "").lower() == "no-cache"
        served = await services.reads.read(
            planned.plan, planned.render_key, render, bypass=bypass, surface="graphql"
        )
        cache_control = (
            CACHE_CONTROL[planned.plan.freshness]
            if served.complete
            else DASHBOARD_UNAVAILABLE.header
        )
        return to_response(
            served.entry,
            served.x_cache,
            request.scope["headers"],
            cache_control=cache_control,
            age=served.age,
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

        if streams.accepts_event_stream(scope):
            await streams.event_stream(
                self.app, self.services, scope, replay, send_private
            )
            return
        await self.app(scope, replay, send_private)


def _asks(payload: dict[str, Any]) -> bool:
    """A GET that is a GraphQL request (not GraphiQL's page): a query, or a hash."""
    if "query" in payload:
        return True
    try:
        return requested_hash(payload.get("extensions")) is not None
    except BadExtension:
        return True


def _get_payload(request: Request) -> dict[str, Any]:
    """The GET parameters, `variables` and `extensions` read as JSON (a value that
    is not JSON is left as text, for `_malformed` to name)."""
    payload: dict[str, Any] = dict(request.query_params)
    for name in ("variables", "extensions"):
        if name in payload:
            try:
                payload[name] = orjson.loads(payload[name])
            except orjson.JSONDecodeError:
                payload[name] = _NotJson()
    return payload


class _NotJson:
    """A GET parameter that should have been JSON text and is not."""


_FIELD_TYPES: tuple[tuple[str, type, str], ...] = (
    ("query", str, "a string"),
    ("operationName", str, "a string"),
    ("variables", dict, "an object"),
    ("extensions", dict, "an object"),
)


def _malformed(payload: dict[str, Any]) -> str | None:
    """What makes a request no GraphQL request, in Strawberry's words; None when
    it is one. Checked here so the cached path refuses what Strawberry would."""
    for name, kind, words in _FIELD_TYPES:
        value = payload.get(name)
        if isinstance(value, _NotJson):
            return f"The GraphQL operation's `{name}` is not valid JSON."
        if value is not None and not isinstance(value, kind):
            return (
                f"The GraphQL operation's `{name}` must be {words} or null, "
                "if provided."
            )
    try:
        requested_hash(payload.get("extensions"))
    except BadExtension:
        return PERSISTED_QUERY_SHAPE
    return None
