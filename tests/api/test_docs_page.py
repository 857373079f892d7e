"""`/docs`, the API reference: its page (CSP, revalidation), its files (Swagger
UI's from var/docs, the page's own), 503 without Swagger UI, 404 with DOCS=false.
"""

from __future__ import annotations

import asyncio
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.main import DOCS_VENDOR, create_app
from rest_facade.docs import ASSETS_DIR, ASSETS_PATH, VENDOR_FILES, VENDOR_PATH
from tests.support.app import Clock, make_settings, serve

OWN_FILES = ("docs.js", "docs.css")


class _Markup(HTMLParser):
    """The page's URLs, inline scripts and styles, and style attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.urls += [v or "" for k, v in attrs if k in {"src", "href"}]
        if (tag == "script" and "src" not in found) or tag == "style":
            self.inline.append(tag)
        if "style" in found or any(k.startswith("on") for k in found):
            self.inline.append(f"{tag} attribute")


def _markup(text: str) -> _Markup:
    parser = _Markup()
    parser.feed(text)
    parser.close()
    return parser


def _require_vendor() -> None:
    missing = [n for n in VENDOR_FILES if not (DOCS_VENDOR / n).is_file()]
    assert missing == [], f"Swagger UI missing in {DOCS_VENDOR}: run `make install`"


async def test_docs_page_is_strict_csp_html_revalidated_by_etag(
    client: httpx.AsyncClient,
) -> None:
    _require_vendor()
    response = await client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-cache"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self';" in csp
    assert "style-src 'self';" in csp
    assert "unsafe" not in csp
    markup = _markup(response.text)
    assert markup.inline == []
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert set(markup.urls) == {
        *(VENDOR_PATH + name for name in VENDOR_FILES),
        *(ASSETS_PATH + name for name in OWN_FILES),
        "/openapi.json",
        "/graphql",
        "data:,",  # no icon: the browser asks for no /favicon.ico
    }
    etag = response.headers["etag"]
    again = await client.get("/docs", headers={"if-none-match": f'W/{etag}, "x"'})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag


@pytest.mark.parametrize(
    ("path", "source", "kind"),
    [
        *((VENDOR_PATH + n, DOCS_VENDOR / n, n.rsplit(".")[-1]) for n in VENDOR_FILES),
        *((ASSETS_PATH + n, ASSETS_DIR / n, n.rsplit(".")[-1]) for n in OWN_FILES),
    ],
)
async def test_docs_files_are_served_by_this_server(
    client: httpx.AsyncClient, path: str, source: Path, kind: str
) -> None:
    _require_vendor()
    response = await client.get(path)
    assert response.status_code == 200
    assert response.content == await asyncio.to_thread(source.read_bytes)
    assert ("javascript" if kind == "js" else "text/css") in response.headers[
        "content-type"
    ]


async def test_swagger_ui_bundle_is_gzipped_when_accepted(
    client: httpx.AsyncClient,
) -> None:
    _require_vendor()
    name = "swagger-ui-bundle.js"
    response = await client.get(VENDOR_PATH + name, headers={"accept-encoding": "gzip"})
    assert response.headers["content-encoding"] == "gzip"
    assert response.content == (DOCS_VENDOR / name).read_bytes()  # httpx decoded it


async def test_nothing_else_is_served_under_the_docs_paths(
    client: httpx.AsyncClient,
) -> None:
    for path in ("/docs/assets/../docs.py", "/docs/assets/nope.js", "/docs/x"):
        assert (await client.get(path)).status_code == 404, path


async def test_docs_page_says_to_run_make_install_without_swagger_ui(
    clock: Clock,
    simulator: Starlette,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    monkeypatch.setattr("app.main.DOCS_VENDOR", tmp_path)
    app = create_app(make_settings(), simulator=simulator, clock=clock)
    async with serve(app) as client:
        response = await client.get("/docs")
    assert response.status_code == 503
    assert "make install" in response.text
    assert "swagger-ui-bundle.js" in response.text


async def test_docs_off_removes_the_page_its_files_and_graphiqls_link(
    clock: Clock, simulator: Starlette
) -> None:
    app = create_app(make_settings(docs=False), simulator=simulator, clock=clock)
    async with serve(app) as client:
        paths = ("/docs", VENDOR_PATH + VENDOR_FILES[0], ASSETS_PATH + OWN_FILES[0])
        answers = [await client.get(path) for path in paths]
        graphiql = await client.get("/graphql", headers={"accept": "text/html"})
        openapi = await client.get("/openapi.json")
    for answer in answers:
        assert answer.status_code == 404
        assert answer.json()["error"]["code"] == "NOT_FOUND"
    assert graphiql.status_code == 200
    assert '"docs":null' in graphiql.text.replace(" ", "")
    assert openapi.status_code == 200  # the document itself stays


async def test_graphiql_links_the_api_reference(client: httpx.AsyncClient) -> None:
    page = await client.get("/graphql", headers={"accept": "text/html"})
    assert '"docs":"/docs"' in page.text.replace(" ", "")


async def test_docs_page_leaves_out_graphiql_when_it_is_off(
    clock: Clock, simulator: Starlette
) -> None:
    _require_vendor()
    app = create_app(make_settings(graphiql=False), simulator=simulator, clock=clock)
    async with serve(app) as client:
        response = await client.get("/docs")
    assert response.status_code == 200
    assert "/graphql" not in _markup(response.text).urls
