"""`GET /openapi.json`: a valid OpenAPI 3.1 document with every route of the app,
parameters typed from the parsers, and response schemas that the live answers of
every row (and its errors) validate against, so the document cannot drift."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
from graphql import build_schema, parse
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator
from starlette.applications import Starlette
from starlette.routing import Route

from app.developer.broker import check_session_id
from app.errors import AppError
from app.main import create_app
from app.settings import Settings
from rest_facade.envelope import STANDARD
from rest_facade.openapi import OpenApiError, _Builder, nullable
from rest_facade.params import WHITESPACE
from rest_facade.routes import ROUTES, RestRoute
from tests.support.app import Clock, auth, serve

Document = dict[str, Any]
KEYS = "/api/v1/developer/keys"
LOGIN = "/api/v1/auth/providers/daydream"


@pytest.fixture
async def document(client: httpx.AsyncClient) -> Document:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: Document = response.json()
    return body


def operation(document: Document, path: str, method: str = "get") -> Document:
    found: Document = document["paths"][path][method]
    return found


def param(document: Document, path: str, name: str, method: str = "get") -> Document:
    params = operation(document, path, method)["parameters"]
    found: Document = next(p for p in params if p["name"] == name)
    return found


def response_schema(
    document: Document, path: str, method: str, status: int, media: str = ""
) -> Document:
    response = operation(document, path, method.lower())["responses"][str(status)]
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].split("/")[-1]]
    content = response["content"]
    schema: Document = resolved(
        document, content[media or "application/json"]["schema"]
    )
    return schema


def resolved(document: Document, schema: Any) -> Any:
    """`schema` with every `$ref` into the document replaced by what it names."""
    if isinstance(schema, list):
        return [resolved(document, item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    if "$ref" in schema:
        target: Any = document
        for part in schema["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        return resolved(document, target)
    return {key: resolved(document, value) for key, value in schema.items()}


def assert_matches(schema: Document, body: Any) -> None:
    errors = sorted(
        Draft202012Validator(schema).iter_errors(body), key=lambda e: list(e.path)
    )
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors[:5]]


# --- the document ------------------------------------------------------------------
async def test_openapi_is_a_valid_openapi_31_document(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["cache-control"] == "public, max-age=300"
    body = response.json()
    assert body["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(body).validate()
    assert (await client.get("/openapi.json")).content == response.content


async def test_openapi_lists_every_row_of_the_route_table(document: Document) -> None:
    for row in ROUTES:
        for method in row.methods:
            entry = operation(document, row.path, method.lower())
            assert entry["summary"] == row.summary
            names = {p["name"] for p in entry["parameters"]}
            assert set(row.params) <= names, row.path
            assert {"refresh", "nocache"} <= names
            assert ("requestBody" in entry) == (row.body is not None)
            assert ("security" in entry) == row.auth


async def test_openapi_lists_every_route_the_app_answers(
    app: Starlette, document: Document
) -> None:
    routes = [r for r in app.routes if isinstance(r, Route)]
    assert len(routes) > len(ROUTES)
    for route in routes:
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in document["paths"][route.path], route.path
    assert set(document["paths"]) == {r.path for r in routes}


async def test_openapi_operation_ids_are_unique(document: Document) -> None:
    ids = [
        op["operationId"] for ops in document["paths"].values() for op in ops.values()
    ]
    assert len(ids) == len(set(ids))


async def test_openapi_documents_lenient_parameters_as_any_text_with_their_rule(
    document: Document,
) -> None:
    dashboard = "/api/v1/dashboard/"
    for path, name, words in [
        (dashboard + "kpi", "timeframe", "clamped to 1-168"),
        (dashboard + "pipelines", "limit", "clamped to 1-200; anything else means 5"),
        (dashboard + "orchestrators", "period", "`N`, `Nh` or `Nd`"),
        (dashboard + "gpu-capacity", "timeframe", "ignored"),
        (dashboard + "job-feed", "pollMs", "max-age"),
        (KEYS, "pageSize", "clamped to 1-100"),
        ("/api/v1/developer/models", "featured", "`true` filters"),
        ("/api/v1/developer/network-models", "limit", "`all`"),
        (dashboard + "fees", "refresh", "`1` loads the data again"),
    ]:
        found = param(document, path, name)
        assert found["schema"] == {"type": "string"}, (path, name)
        assert words in found["description"], (path, name)


async def test_openapi_documents_strict_parameters_exactly(
    document: Document,
) -> None:
    dashboard = "/api/v1/dashboard/"
    assert param(document, dashboard + "kpi", "pipeline")["schema"] == {
        "type": "string",
        "maxLength": 128,
        "pattern": "^[A-Za-z0-9._:/-]{0,128}$",
    }
    days = param(document, dashboard + "fees", "days")["schema"]
    assert (days["type"], days["default"]) == ("string", "180")
    usage = param(document, "/api/v1/developer/usage", "from")["schema"]
    assert [branch.get("format") for branch in usage["anyOf"]] == [
        "date",
        "date-time",
        None,
    ]
    session = param(
        document, LOGIN.replace("daydream", "{slug}") + "/result", "login_session_id"
    )
    assert session["required"] is True
    assert session["schema"]["maxLength"] == 128
    key_id = param(document, KEYS + "/{id}", "id")
    assert (key_id["in"], key_id["required"], key_id["schema"]) == (
        "path",
        True,
        {"type": "string", "minLength": 1, "pattern": "^[^/\\x00]+$"},
    )
    slug = param(document, "/api/v1/auth/providers/{slug}/start", "slug", "post")
    assert slug["schema"] == {"type": "string", "enum": ["daydream", "pymthouse"]}
    query = param(document, "/graphql", "query")
    assert query["schema"] == {"type": "string", "minLength": 1}
    variables = param(document, "/graphql", "variables")
    assert variables["content"]["application/json"]["schema"]["type"] == [
        "object",
        "null",
    ]


# Values near each strict parser's edges: the documented pattern must accept
# exactly those the parser takes.
EDGES = [
    "",
    " ",
    "7",
    "6",
    "007",
    " 30 ",
    "\u3000365\u2029",
    "366",
    "+30",
    "7.5",
    "1e2",
    "٣٠",
    "30x",
    "\x0030",
    "a" * 64,
    " " + "A" * 64 + "\t",
    "a" * 63,
    "g" * 64,
    "a" * 64 + "\x00",
    "live-video-to-video",
    "a/b:c.d_e",
    "a b",
    "x" * 129,
    "é",
    "\x1c30\x1f",
    "\ufeff30",
]


@pytest.mark.parametrize(
    ("path", "name"),
    [
        ("/api/v1/dashboard/fees", "days"),
        ("/api/v1/dashboard/kpi", "pipeline"),
        ("/api/v1/developer/models", "type"),
        ("/api/v1/auth/providers/{slug}/result", "login_session_id"),
    ],
)
async def test_a_strict_parameters_pattern_is_exactly_what_its_parser_takes(
    document: Document, path: str, name: str
) -> None:
    schema = param(document, path, name)["schema"]
    row = next(r for r in ROUTES if r.path == path)
    parse = row.params[name].parse
    for value in [*EDGES, "x" * 32, "x" * 33, " " + "a" * 64 + " " * 64]:
        documented = not list(Draft202012Validator(schema).iter_errors(value))
        try:
            parse(value)
            accepted = "\x00" not in value or name in ("days", "pipeline")
        except AppError:
            accepted = False
        if name == "login_session_id" and accepted:
            try:
                check_session_id(parse(value))
            except AppError:
                accepted = False
        assert documented == accepted, (name, value)


def test_the_whitespace_class_is_what_str_strip_removes() -> None:
    every = "".join(map(chr, range(0x110000)))
    assert set(re.findall(f"[{WHITESPACE}]", every)) == set(filter(str.isspace, every))


async def test_openapi_documents_auth_and_error_envelopes(document: Document) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": schemes["bearerAuth"]["description"],
    }
    assert schemes["cookieAuth"]["in"] == "cookie"
    keys = operation(document, KEYS)
    assert keys["security"] == [{"bearerAuth": []}, {"cookieAuth": []}]
    assert {"400", "401", "429", "413", "414", "431"} <= set(keys["responses"])
    assert "403" not in keys["responses"]  # CSRF guards writes only
    assert {"403", "409"} <= set(operation(document, KEYS, "post")["responses"])
    assert "404" in operation(document, KEYS + "/{id}")["responses"]
    start = operation(document, "/api/v1/auth/providers/{slug}/start", "post")
    assert "404" not in start["responses"]  # an unknown provider is a 400
    fees = operation(document, "/api/v1/dashboard/fees")["responses"]
    assert {"200", "304", "400", "503"} <= set(fees)
    assert "401" not in fees
    protocol = operation(document, "/api/v1/dashboard/protocol")["responses"]
    assert "400" not in protocol  # no input to get wrong
    unavailable = response_schema(document, "/api/v1/dashboard/fees", "GET", 503)
    assert_matches(
        unavailable,
        {"error": {"code": "SERVICE_UNAVAILABLE", "message": "Fees unavailable"}},
    )


def test_nullable_widens_every_kind_of_schema() -> None:
    assert nullable({"type": "string"}) == {"type": ["string", "null"]}
    assert nullable({"type": ["string", "null"]}) == {"type": ["string", "null"]}
    assert nullable({"type": "string", "enum": ["a"]}) == {
        "type": ["string", "null"],
        "enum": ["a", None],
    }
    assert nullable({"const": 1}) == {"anyOf": [{"const": 1}, {"type": "null"}]}
    assert nullable({}) == {}


# --- live answers validate against the document ------------------------------------
async def test_every_row_answers_as_documented(
    client: httpx.AsyncClient, document: Document
) -> None:
    """One happy request per row, in an order that creates what later rows read."""
    seen: set[tuple[str, str]] = set()

    async def call(method: str, path: str, template: str = "", **kwargs: Any) -> Any:
        response = await client.request(method, path, **kwargs)
        assert response.status_code == 200, (path, response.text)
        template = template or path.split("?")[0]
        assert_matches(
            response_schema(document, template, method, 200), response.json()
        )
        seen.add((method, template))
        return response.json()

    for row in ROUTES:
        if row.path.startswith("/api/v1/dashboard/"):
            await call("GET", row.path)
    await call("GET", "/api/v1/dashboard/kpi?timeframe=12&pipeline=live-video-to-video")
    await call("GET", "/api/v1/developer/network-models?limit=all")
    providers = await call("GET", "/api/v1/billing-providers")
    provider = providers["data"]["providers"][0]["id"]
    await call(
        "POST",
        "/api/v1/developer/projects",
        headers=auth(),
        json={"name": "OpenAPI"},
    )
    await call("GET", "/api/v1/developer/projects", headers=auth())
    created = await call(
        "POST",
        KEYS,
        headers=auth(),
        json={
            "billingProviderId": provider,
            "rawApiKey": "dd_openapiKey1234567890",
            "label": "doc",
        },
    )
    key_id = created["data"]["key"]["id"]
    await call("GET", KEYS + "?page=1&pageSize=5", KEYS, headers=auth())
    await call("GET", f"{KEYS}/{key_id}", KEYS + "/{id}", headers=auth())
    await call("DELETE", f"{KEYS}/{key_id}", KEYS + "/{id}", headers=auth())
    models = await call("GET", "/api/v1/developer/models", headers=auth())
    model_id = models["data"]["models"][0]["id"]
    await call(
        "GET",
        f"/api/v1/developer/models/{model_id}",
        "/api/v1/developer/models/{id}",
        headers=auth(),
    )
    await call(
        "GET",
        "/api/v1/developer/usage?from=2026-11-01&to=2026-11-30",
        "/api/v1/developer/usage",
        headers=auth(),
    )
    started = await call(
        "POST", LOGIN + "/start", "/api/v1/auth/providers/{slug}/start", headers=auth()
    )
    session = started["data"]["login_session_id"]
    await call(
        "GET",
        f"{LOGIN}/result?login_session_id={session}",
        "/api/v1/auth/providers/{slug}/result",
        headers=auth(),
    )
    await call("GET", "/healthz")
    await call("GET", "/api/v1/auth/csrf")

    assert {(m, row.path) for row in ROUTES for m in row.methods} <= seen


@pytest.mark.parametrize(
    ("method", "path", "template", "status", "headers"),
    [
        ("GET", "/api/v1/dashboard/fees?days=3", "", 400, {}),
        ("GET", "/api/v1/dashboard/kpi?pipeline=%20", "/api/v1/dashboard/kpi", 400, {}),
        ("GET", KEYS, "", 401, {}),
        ("GET", KEYS + "/nope", KEYS + "/{id}", 404, auth()),
        ("GET", KEYS + "?pageSize=x", KEYS, 401, {"authorization": "Bearer x"}),
        ("POST", KEYS, "", 400, auth()),
        (
            "POST",
            LOGIN + "/start",
            "/api/v1/auth/providers/{slug}/start",
            403,
            {"cookie": "naap_auth_token=x"},
        ),
        ("GET", LOGIN + "/redirect", "/api/v1/auth/providers/{slug}/redirect", 400, {}),
    ],
)
async def test_errors_answer_as_documented(
    client: httpx.AsyncClient,
    document: Document,
    method: str,
    path: str,
    template: str,
    status: int,
    headers: dict[str, str],
) -> None:
    template = template or path.split("?")[0]
    response = await client.request(method, path, headers=headers)
    assert response.status_code == status, response.text
    assert_matches(response_schema(document, template, method, status), response.json())


async def test_callback_page_is_documented_as_html(
    client: httpx.AsyncClient, document: Document
) -> None:
    template = "/api/v1/auth/providers/{slug}/callback"
    response = await client.get("/api/v1/auth/providers/daydream/callback")
    assert response.status_code == 400
    media = response.headers["content-type"].split(";")[0]
    assert_matches(
        response_schema(document, template, "GET", 400, media), response.text
    )


# --- the selection-set walker, on a small inline schema ------------------------------
SDL = """
scalar JSON
enum Color { RED GREEN }
interface Named { name: String! }
type Dog implements Named { name: String! barks: Boolean! }
type Cat implements Named { name: String! lives: Int }
union Pet = Dog | Cat
type Page { total: Int! }
type Result { items: [Pet!]! page: Page! extra: JSON color: Color }
input Filter { colors: [Color!] limit: Int! = 10 name: String! tag: String }
type Query { pets(filter: Filter!): Result! named: [Named] }
"""
DOC = """
query Pets($filter: Filter!, $flag: Boolean!) {
  pets(filter: $filter) {
    items {
      __typename
      ... on Dog { name barks }
      ... on Cat { name lives }
    }
    page @include(if: $flag) { total }
    meta: page { total }
    extra
    color
  }
  named { name ... on Dog { barks } }
}
"""


def test_walker_maps_abstract_types_enums_scalars_and_inputs() -> None:
    row = RestRoute(
        "/pets", "Pets", "pets", body="filter", meta="meta", envelope=STANDARD
    )
    found = _Builder(build_schema(SDL)).route(row, parse(DOC), "POST")
    success = found["responses"]["200"]["content"]["application/json"]["schema"]
    data = success["properties"]["data"]
    item = data["properties"]["items"]["items"]
    # A union's members' fields are each conditional; __typename always there.
    assert item["required"] == ["__typename"]
    assert item["properties"]["lives"] == {
        "type": ["integer", "null"],
        "minimum": -(2**31),
        "maximum": 2**31 - 1,
    }
    # @include makes a field optional; the aliased `meta` moved to the envelope.
    assert "page" not in data["required"]
    assert "meta" not in data["properties"]
    assert success["properties"]["meta"]["required"] == ["total", "timestamp"]
    assert data["properties"]["extra"] == {"description": "JSON"}  # any value
    assert data["properties"]["color"] == {
        "type": ["string", "null"],
        "enum": ["RED", "GREEN", None],
    }
    body = found["requestBody"]["content"]["application/json"]["schema"]
    assert body["required"] == ["name"]  # non-null with a default is optional
    assert body["properties"]["colors"] == {
        "type": ["array", "null"],
        "items": {"type": "string", "enum": ["RED", "GREEN"]},
    }
    assert "security" not in found  # auth=False


def test_a_bare_row_cannot_have_meta() -> None:
    row = RestRoute("/pets", "Pets", "pets", body="filter", meta="meta")
    with pytest.raises(OpenApiError, match="no meta"):
        _Builder(build_schema(SDL)).route(row, parse(DOC), "POST")


@pytest.mark.parametrize(
    "path", ["/graphql", "/openapi.json", "/api/v1/auth/csrf", "/api/v1/dashboard/kpi"]
)
async def test_a_size_cap_refusal_answers_as_documented(
    settings: Settings,
    simulator: Starlette,
    clock: Clock,
    document: Document,
    path: str,
) -> None:
    capped = settings.model_copy(update={"max_query_string_bytes": 256})
    async with serve(create_app(capped, simulator=simulator, clock=clock)) as http:
        response = await http.get(path, params={"x": "y" * 300})
    assert response.status_code == 414
    assert_matches(response_schema(document, path, "GET", 414), response.json())
    body = response.json()
    error = body["error"] if "error" in body else body["errors"][0]["extensions"]
    assert error["code"] == "URI_TOO_LONG"
