"""The landing page's serving: `/`, `/favicon.ico` and `/static/*` as plain
routes, revalidated by ETag, gzipped, under a strict CSP; LANDING_PAGE=false
removes them; APP_ENV=production serves them too."""

from __future__ import annotations

import base64
import gzip
import logging
from html.parser import HTMLParser
from pathlib import Path

import httpx
import pytest
from starlette.applications import Starlette

from app.main import create_app
from app.settings import Settings
from app.web.site import PAGE_CSP, STATIC, VENDOR_PREFIX, WebSite, load_files
from tests.support.app import serve
from tests.support.production import URLS, production

CSP = (
    "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'none'"
)


class _Refs(HTMLParser):
    """Every URL the page loads, and anything inline that the CSP would block."""

    def __init__(self) -> None:
        super().__init__()
        self.loads: list[str] = []
        self.inline: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "script":
            if found.get("src"):
                self.loads.append(found["src"] or "")
            else:
                self.inline.append("<script> without src")
        if tag == "link" and found.get("href"):
            self.loads.append(found["href"] or "")
        if tag == "style":
            self.inline.append("<style>")
        self.inline.extend(f"{tag} {name}=" for name, _ in attrs if name == "style")
        self.inline.extend(
            f"{tag} {name}=" for name, _ in attrs if name.startswith("on")
        )


def _refs(html: str) -> _Refs:
    parser = _Refs()
    parser.feed(html)
    return parser


async def test_the_page_is_html_under_its_csp_and_revalidated(
    client: httpx.AsyncClient,
) -> None:
    page = await client.get("/", headers={"accept-encoding": "identity"})
    assert page.status_code == 200
    assert page.headers["content-type"] == "text/html; charset=utf-8"
    assert page.headers["content-security-policy"] == CSP == PAGE_CSP
    assert page.headers["cache-control"] == "no-cache"
    assert page.headers["vary"] == "Accept-Encoding"
    assert "<h1>Network Overview</h1>" in page.text
    etag = page.headers["etag"]
    again = await client.get(
        "/", headers={"accept-encoding": "identity", "if-none-match": etag}
    )
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "no-cache"
    head = await client.head("/", headers={"accept-encoding": "identity"})
    assert head.status_code == 200
    assert head.content == b""
    assert head.headers["content-length"] == str(len(page.content))


async def test_files_are_gzipped_with_their_own_etag(
    client: httpx.AsyncClient,
) -> None:
    plain = await client.get(
        "/static/js/main.js", headers={"accept-encoding": "identity"}
    )
    packed = await client.get(
        "/static/js/main.js", headers={"accept-encoding": "br, gzip;q=0.8"}
    )
    assert plain.status_code == packed.status_code == 200
    assert plain.headers["content-type"] == "text/javascript; charset=utf-8"
    assert "content-encoding" not in plain.headers
    assert packed.headers["content-encoding"] == "gzip"
    assert int(packed.headers["content-length"]) < len(plain.content)
    assert packed.content == plain.content  # httpx decodes
    assert packed.headers["etag"] != plain.headers["etag"]
    not_modified = await client.get(
        "/static/js/main.js",
        headers={"accept-encoding": "gzip", "if-none-match": packed.headers["etag"]},
    )
    assert not_modified.status_code == 304
    refused = await client.get(
        "/static/js/main.js", headers={"accept-encoding": "gzip;q=0"}
    )
    assert "content-encoding" not in refused.headers


async def test_every_file_the_page_loads_is_served(client: httpx.AsyncClient) -> None:
    page = await client.get("/")
    refs = _refs(page.text)
    assert refs.inline == []
    assert VENDOR_PREFIX + "uPlot.iife.min.js" in refs.loads
    # The icon is inline (one request fewer); /favicon.ico serves the same image.
    icons = [url for url in refs.loads if url.startswith("data:")]
    icon = (await client.get("/favicon.ico")).content
    assert icons == ["data:image/png;base64," + base64.b64encode(icon[22:]).decode()]
    for url in refs.loads:
        if url in icons:
            continue
        assert url.startswith("/"), url
        assert not url.startswith("//"), url
        answer = await client.get(url)
        assert answer.status_code == 200, url
        assert answer.headers["cache-control"] == "no-cache", url
        assert "etag" in answer.headers, url
    # Every module is named in the page (modulepreload), so none waits for the
    # module that imports it to arrive first.
    modules = {f"/static/js/{p.name}" for p in (STATIC / "js").glob("*.js")}
    assert modules <= set(refs.loads)


async def test_the_favicon_is_an_icon(client: httpx.AsyncClient) -> None:
    icon = await client.get("/favicon.ico")
    assert icon.status_code == 200
    assert icon.headers["content-type"] == "image/x-icon"
    assert icon.content[:4] == b"\x00\x00\x01\x00"


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("GET", "/static/nope.js", 404, "NOT_FOUND"),
        ("GET", "/static/../app/main.py", 404, "NOT_FOUND"),
        ("GET", "/static/", 404, "NOT_FOUND"),
        ("POST", "/", 405, "METHOD_NOT_ALLOWED"),
        ("DELETE", "/static/page.css", 405, "METHOD_NOT_ALLOWED"),
    ],
)
async def test_bad_requests_get_the_error_envelope(
    client: httpx.AsyncClient, method: str, path: str, status: int, code: str
) -> None:
    answer = await client.request(method, path)
    assert answer.status_code == status
    assert answer.json()["error"]["code"] == code


async def test_landing_page_false_removes_page_and_files(
    settings: Settings, simulator: Starlette
) -> None:
    # Exact paths (`/`, `/favicon.ico`) bypass Starlette's exception middleware:
    # a switched-off page once answered them with a 500.
    app = create_app(
        settings.model_copy(update={"landing_page": False}), simulator=simulator
    )
    async with serve(app) as client:
        for path in ("/", "/favicon.ico", "/static/page.css"):
            answer = await client.get(path)
            assert answer.status_code == 404, path
            assert answer.json() == {
                "error": {"code": "NOT_FOUND", "message": "Not Found"}
            }
        assert (await client.get("/healthz")).status_code == 200


def test_landing_page_setting_reads_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LANDING_PAGE", raising=False)
    assert Settings().landing_page is True
    monkeypatch.setenv("LANDING_PAGE", "false")
    assert Settings().landing_page is False


async def test_production_serves_the_page() -> None:
    async with serve(create_app(production(**URLS))) as client:
        page = await client.get("/")
        assert page.status_code == 200
        assert page.headers["content-security-policy"] == CSP
        assert (await client.get("/static/js/api.js")).status_code == 200


def _static_copy(tmp_path: Path) -> Path:
    target = tmp_path / "static"
    for path in STATIC.rglob("*"):
        if path.is_file():
            copy = target / path.relative_to(STATIC)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copy.write_bytes(path.read_bytes())
    return target


def test_without_uplot_the_page_omits_it_and_one_warning_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="naap.web"):
        site = WebSite(_static_copy(tmp_path), tmp_path / "no-vendor")
        files = site.files
        assert site.files is files  # read once
    warnings = [r for r in caplog.records if r.name == "naap.web"]
    assert len(warnings) == 1
    assert "uPlot.iife.min.js" in warnings[0].getMessage()
    html = gzip.decompress(files["/"].gzipped.body).decode()  # type: ignore[union-attr]
    assert "uPlot" not in html
    assert "/static/js/main.js" in html
    assert not any(url.startswith(VENDOR_PREFIX) for url in files)


def test_with_uplot_the_page_loads_it(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    vendor.mkdir()
    (vendor / "uPlot.iife.min.js").write_text("var uPlot = function () {};")
    files = load_files(_static_copy(tmp_path), vendor)
    assert VENDOR_PREFIX + "uPlot.iife.min.js" in files
    assert VENDOR_PREFIX + "uPlot.iife.min.js" in files["/"].identity.body.decode()
    assert "/static/index.html" not in files
