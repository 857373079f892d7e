"""Our versions of graphql-cop's 13 probes (github.com/dolevf/graphql-cop,
lib/tests/*.py), against an `APP_ENV=production` app whose upstreams are the
simulator behind a recorder.

Each test sends what graphql-cop sends and asserts the safe answer. The abuse
probes are refused before anything runs: no upstream request, no database
statement, no GraphQL execution and no resolver call (the `Counters`).
Introspection, the IDE and field suggestions are exploration, on by default:
their tests show each following its setting. GET queries are allowed by design
(read-only, cacheable by CDNs; README "GraphQL limits and exploration").
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import event
from starlette.applications import Starlette
from strawberry.extensions import SchemaExtension

from app.main import create_app
from tests.support.app import Clock, make_settings, serve
from tests.support.recorder import Recorder

UPSTREAM = "http://upstream"


class _Execution(SchemaExtension):
    """Counts executions and resolver calls (added to the app's schema by the
    test, not by the server)."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    def on_execute(self) -> Iterator[None]:
        self.counters.executions += 1
        yield

    def resolve(
        self, _next: Callable[..., Any], root: Any, info: Any, *args: Any, **kw: Any
    ) -> Any:
        self.counters.resolvers += 1
        return _next(root, info, *args, **kw)


@dataclass
class Counters:
    upstream: Recorder
    statements: list[str] = field(default_factory=list)
    executions: int = 0
    resolvers: int = 0

    def touched(self) -> dict[str, int]:
        """What ran; {} when the request was refused before anything did."""
        counts = {
            "upstream": len(self.upstream.calls),
            "statements": len(self.statements),
            "executions": self.executions,
            "resolvers": self.resolvers,
        }
        return {name: n for name, n in counts.items() if n}


Probe = Callable[..., Any]


@pytest.fixture
def production(
    database_url: str, simulator: Starlette, clock: Clock
) -> Callable[..., Any]:
    """`async with production(**settings) as (client, counters)`."""

    @asynccontextmanager
    async def start(
        **overrides: Any,
    ) -> AsyncIterator[tuple[httpx.AsyncClient, Counters]]:
        settings = make_settings(
            app_env="production",
            naap_api_server_url=f"{UPSTREAM}/v1",
            subgraph_url=f"{UPSTREAM}/subgraph",
            l1_rpc_url=f"{UPSTREAM}/rpc",
            jwt_secret=secrets.token_urlsafe(32),
            app_secret=secrets.token_urlsafe(32),
            database_url=database_url,
            **overrides,
        )
        counters = Counters(Recorder(simulator))
        upstream = httpx.ASGITransport(app=counters.upstream)
        transports = {"analytics": upstream, "subgraph": upstream, "l1-rpc": upstream}
        app = create_app(settings, transports=transports, clock=clock)
        schema = app.state.schema
        schema.extensions = (*schema.extensions, lambda: _Execution(counters))
        engine = app.state.services.db.engine.sync_engine

        def count(*args: Any) -> None:
            counters.statements.append(args[2])

        event.listen(engine, "before_cursor_execute", count)
        try:
            async with serve(app) as client:
                yield client, counters
        finally:
            event.remove(engine, "before_cursor_execute", count)

    return start


async def graph_query(client: httpx.AsyncClient, query: str) -> httpx.Response:
    """graphql-cop's `graph_query`: POST {"query": ...} as JSON."""
    return await client.post("/graphql", json={"query": query})


def only_message(response: httpx.Response) -> str:
    body = response.json()
    assert body.get("data") is None, body
    assert len(body["errors"]) == 1, body
    message: str = body["errors"][0]["message"]
    return message


async def test_counters_see_a_query_that_runs(production: Probe) -> None:
    """The counters below can fail: a real query moves all four."""
    async with production() as (client, counters):
        response = await graph_query(client, "{ protocol { currentRound } }")
        await client.get("/api/v1/developer/api-keys")  # 401, no statement
        await client.get("/api/v1/billing-providers")  # a database read
    assert response.json()["data"]["protocol"]["currentRound"] > 0
    touched = counters.touched()
    assert set(touched) == {"upstream", "statements", "executions", "resolvers"}


# --- denial of service ------------------------------------------------------------
async def test_alias_overloading(production: Probe) -> None:
    """graphql-cop: `query { alias0:__typename ... alias100:__typename }`; unsafe
    if `data.alias100` comes back. Safe: one error naming the alias limit."""
    aliases = "".join(f"alias{i}:__typename \n" for i in range(101))
    async with production() as (client, counters):
        response = await graph_query(client, "query { " + aliases + " }")
    assert response.status_code == 200
    assert only_message(response) == (
        "The operation uses 101 aliases (fragments included); at most 30 are allowed."
    )
    assert counters.touched() == {}


async def test_array_batching(production: Probe) -> None:
    """graphql-cop: a JSON array of 11 `query { __typename }`; unsafe if 10 or
    more results come back. Safe: 400, batching is off."""
    batch = [{"query": "query { __typename }"}] * 11
    async with production() as (client, counters):
        response = await client.post("/graphql", json=batch)
    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "message": "Batching is not supported: send one operation per request.",
                "extensions": {"code": "BAD_REQUEST"},
            }
        ]
    }
    assert counters.touched() == {}


async def test_field_duplication(production: Probe) -> None:
    """graphql-cop: `query { __typename x500 }`; unsafe if `data.__typename`
    comes back. Safe: one error (not 500), a small answer."""
    async with production() as (client, counters):
        response = await graph_query(client, "query { " + "__typename \n" * 500 + "} ")
    assert response.status_code == 200
    assert only_message(response) == (
        "'__typename' is selected more than 5 times in one selection set."
    )
    assert len(response.content) < 300
    assert counters.touched() == {}


@pytest.mark.parametrize("repeat", [10, 500])
async def test_directive_overloading(production: Probe, repeat: int) -> None:
    """graphql-cop: `query { __typename @aa@aa... }` (10 unknown directives);
    unsafe if 10 errors come back (one per directive: each was processed). Safe:
    one error, at 10 or at 500."""
    async with production() as (client, counters):
        response = await graph_query(
            client, "query { __typename " + "@aa" * repeat + " }"
        )
    assert response.status_code == 200
    assert only_message(response) == "More than 5 directives in one place."
    assert len(response.content) < 300
    assert counters.touched() == {}


async def test_circular_introspection(production: Probe) -> None:
    """graphql-cop: `__schema { types { fields { type { fields { type ... } } } } }`
    four levels deep; unsafe if more than 25 types come back. Safe: refused by
    graphql-core's MaxIntrospectionDepthRule, with introspection on."""
    query = (
        "query { __schema { types { fields { type { fields { type { fields "
        "{ type { fields { type { name } } } } } } } } } } }"
    )
    async with production() as (client, counters):
        response = await graph_query(client, query)
    assert response.status_code == 200
    assert only_message(response) == "Maximum introspection depth exceeded"
    assert counters.touched() == {}


# --- information disclosure ------------------------------------------------------
INTROSPECTION = "query { __schema { types { name fields { name } } } }"


async def test_introspection(production: Probe) -> None:
    """graphql-cop: `query { __schema { types { name fields { name } } } }`;
    flagged if types come back. Ours: on by default (exploration is a use of
    this server), off with GRAPHQL_INTROSPECTION=false."""
    async with production() as (client, _counters):
        on = await graph_query(client, INTROSPECTION)
    async with production(graphql_introspection=False) as (client, counters):
        off = await graph_query(client, INTROSPECTION)
    assert on.json()["data"]["__schema"]["types"]
    assert off.status_code == 200
    assert off.json()["data"] is None
    # graphql-core names each introspection field reached: __schema, types, fields.
    assert off.json()["errors"][0]["message"] == (
        "GraphQL introspection has been disabled, but the requested query "
        "contained the field '__schema'."
    )
    assert counters.touched() == {}


async def test_field_suggestions(production: Probe) -> None:
    """graphql-cop: `query { __schema { directive } }`; flagged if the error says
    "Did you mean". Ours: suggestions follow GRAPHQL_INTROSPECTION."""
    query = "query { __schema { directive } }"
    async with production() as (client, _counters):
        on = await graph_query(client, query)
    async with production(graphql_introspection=False) as (client, counters):
        off = await graph_query(client, query)
        typo = await graph_query(client, "{ kpix }")
    assert on.json()["errors"][0]["message"] == (
        "Cannot query field 'directive' on type '__Schema'. Did you mean 'directives'?"
    )
    assert "Did you mean" not in off.text
    assert "'directive'" in off.text  # still says what is wrong
    assert only_message(typo) == "Cannot query field 'kpix' on type 'Query'."
    assert counters.touched() == {}


IDE_MARKERS = (
    "graphiql.min.css",
    "GraphQL Playground",
    "GraphiQL",
    "graphql-playground",
)
IDE_PATHS = ("/graphiql", "/playground", "/console", "/graphql")


async def test_ide_detection(production: Probe) -> None:
    """graphql-cop: GET /graphiql, /playground, /console, /graphql; flagged if a
    page mentions GraphiQL or Playground. Ours: GraphiQL at /graphql by default,
    nowhere with GRAPHIQL=false."""

    async def pages(client: httpx.AsyncClient) -> dict[str, int]:
        found = {}
        for path in IDE_PATHS:
            response = await client.get(path)
            if any(marker in response.text for marker in IDE_MARKERS):
                found[path] = response.status_code
        return found

    async with production() as (client, _counters):
        assert await pages(client) == {"/graphql": 200}
    async with production(graphiql=False) as (client, counters):
        assert await pages(client) == {}
        response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 404
    assert response.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert counters.touched() == {}


async def test_get_query(production: Probe) -> None:
    """graphql-cop: GET /graphql?query={__typename}; flagged (possible CSRF) if
    data comes back. Ours: allowed by design — queries are read-only, and GET
    lets CDNs and browsers cache public answers (README)."""
    async with production() as (client, _counters):
        response = await client.get("/graphql", params={"query": "{__typename}"})
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert response.headers["cache-control"].startswith("public")


async def test_get_mutation(production: Probe) -> None:
    """graphql-cop: GET /graphql?query=mutation {__typename}; unsafe if data comes
    back (CSRF: a link or an <img> could change state). Safe: 405."""
    async with production() as (client, counters):
        response = await client.get(
            "/graphql", params={"query": "mutation {__typename}"}
        )
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json() == {
        "errors": [
            {
                "message": "Mutations are not allowed over GET; POST them as "
                "application/json.",
                "extensions": {"code": "METHOD_NOT_ALLOWED"},
            }
        ]
    }
    assert counters.touched() == {}


@pytest.mark.parametrize(
    "send",
    [
        {"data": {"query": "query {__typename}"}},  # application/x-www-form-urlencoded
        {"params": {"query": "query {__typename}"}},  # no body, query in the URL
        {"files": {"query": (None, "query {__typename}")}},  # multipart/form-data
        {
            "content": b'{"query": "query {__typename}"}',
            "headers": {"content-type": "text/plain"},  # a form's third enctype
        },
    ],
    ids=["urlencoded", "query-string", "multipart", "text-plain"],
)
async def test_url_encoded_post(production: Probe, send: dict[str, Any]) -> None:
    """graphql-cop: POST `query {__typename}` not as JSON; unsafe if data comes
    back (CSRF: an HTML form posts these cross-site without a CORS preflight).
    Safe: 415 before anything reads the body."""
    async with production() as (client, counters):
        response = await client.post("/graphql", **send)
    assert response.status_code == 415
    [error] = response.json()["errors"]
    assert error["extensions"] == {"code": "UNSUPPORTED_MEDIA_TYPE"}
    assert "application/json" in error["message"]
    assert counters.touched() == {}


async def test_trace_mode(production: Probe) -> None:
    """graphql-cop: `query { __typename }`; flagged if the answer carries
    `extensions.tracing`, `extensions.exception` or a stack trace. Safe: the bare
    answer, no extensions (no Apollo tracing)."""
    async with production() as (client, _counters):
        response = await graph_query(client, "query { __typename }")
    assert response.status_code == 200
    assert response.json() == {"data": {"__typename": "Query"}}
    assert "stacktrace" not in response.text.lower()


@pytest.mark.parametrize("query", ["qwerty cop { abc }", "query { __typename {}"])
async def test_unhandled_errors(production: Probe, query: str) -> None:
    """graphql-cop: a malformed document; flagged if an error carries
    `extensions.exception` (a stack trace). Safe: a plain syntax error."""
    async with production() as (client, counters):
        response = await graph_query(client, query)
    assert response.status_code == 200
    body = response.json()
    [error] = body["errors"]
    assert error["message"].startswith("Syntax Error: ")
    assert set(error) == {"message", "locations"}
    assert "traceback" not in response.text.lower()
    assert body["data"] is None
    assert counters.touched() == {}
