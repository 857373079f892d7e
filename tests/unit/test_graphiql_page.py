"""The self-hosted GraphiQL page and the install-time asset fetcher (no network)."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import tarfile
from html.parser import HTMLParser
from pathlib import Path
from types import ModuleType

import pytest

from app.graphql.graphiql import (
    ASSET_FILES,
    BOOTSTRAP_SCRIPT_CSP_HASH,
    graphiql_html,
    missing_assets,
)
from app.web.site import VENDOR_FILES
from tests.support.fetcher import load_fetcher

ASSETS = "/graphql/assets/"


class _Page(HTMLParser):
    """Collects every URL-bearing attribute and the text of each <script>."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self._in_script: dict[str, str | None] | None = None
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for name, value in attrs:
            if name in {"src", "href", "action", "srcset", "poster", "data"}:
                self.urls.append(value or "")
        if tag == "script":
            self._in_script = dict(attrs)
            self.scripts.append((self._in_script, ""))

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = None

    def handle_data(self, data: str) -> None:
        if self._in_script is not None:
            attrs, text = self.scripts[-1]
            self.scripts[-1] = (attrs, text + data)
        else:
            self.text += data


def _parse(page: str) -> _Page:
    parser = _Page()
    parser.feed(page)
    parser.close()
    return parser


def _page(**overrides: str) -> str:
    kwargs = {"endpoint": "/graphql", "assets_path": ASSETS, "default_query": "{ a }"}
    kwargs.update(overrides)
    return graphiql_html(**kwargs)


def _config(page: str) -> dict[str, str | None]:
    [(_, text)] = [
        (attrs, text)
        for attrs, text in _parse(page).scripts
        if attrs.get("type") == "application/json"
    ]
    config: dict[str, str | None] = json.loads(text)
    return config


# --- graphiql_html -------------------------------------------------------------


def test_every_asset_is_loaded_from_the_assets_path() -> None:
    parsed = _parse(_page())
    assert parsed.urls
    assert all(url.startswith(ASSETS) for url in parsed.urls), parsed.urls
    assert sorted(url.removeprefix(ASSETS) for url in parsed.urls) == sorted(
        ASSET_FILES
    )


def test_assets_path_without_trailing_slash_is_normalised() -> None:
    assert _parse(_page(assets_path="/graphql/assets")).urls == _parse(_page()).urls


def test_page_has_no_external_url_at_all() -> None:
    page = _page(title="T", default_query="query Q { __typename }")
    lowered = page.lower()
    assert "http://" not in lowered
    assert "https://" not in lowered
    assert "//" not in "".join(_parse(page).urls)


@pytest.mark.parametrize(
    "assets_path", ["https://cdn.example/graphiql/", "//cdn.example/graphiql/"]
)
def test_remote_assets_path_is_refused(assets_path: str) -> None:
    with pytest.raises(ValueError, match="local path"):
        _page(assets_path=assets_path)


def test_page_boots_graphiql_full_window_with_fetcher_and_headers() -> None:
    page = _page()
    [bootstrap] = [t for a, t in _parse(page).scripts if not a and t.strip()]
    assert "url: config.endpoint," in bootstrap
    # Subscriptions over graphql-transport-ws, on the page's own host.
    assert "subscriptionUrl: ws + config.endpoint" in bootstrap
    assert "ReactDOM.createRoot" in bootstrap
    assert "isHeadersEditorEnabled: true" in bootstrap
    assert "defaultQuery: config.defaultQuery" in bootstrap
    assert "#graphiql { height: 100%" in page
    assert "<noscript>" in page


def test_inline_bootstrap_matches_published_csp_hash() -> None:
    [bootstrap] = [t for a, t in _parse(_page()).scripts if not a and t.strip()]
    digest = base64.b64encode(hashlib.sha256(bootstrap.encode()).digest()).decode()
    assert f"'sha256-{digest}'" == BOOTSTRAP_SCRIPT_CSP_HASH


def test_endpoint_and_default_query_round_trip_through_the_json_block() -> None:
    query = 'query Q { a(s: "x") }\n# comment \u2028 é'
    page = _page(endpoint="/graph ql?x=1&y=2", default_query=query)
    assert _config(page) == {
        "endpoint": "/graph ql?x=1&y=2",
        "defaultQuery": query,
        "docs": None,
    }


def test_logo_links_the_api_reference_only_when_given() -> None:
    assert _config(_page(docs_url="/docs"))["docs"] == "/docs"
    [bootstrap] = [t for a, t in _parse(_page()).scripts if not a and t.strip()]
    assert "config.docs" in bootstrap
    assert "GraphiQL.Logo" in bootstrap


def test_default_query_cannot_break_out_of_the_script_tag() -> None:
    evil = '</script><script>alert(1)</script><!-- "'
    page = _page(default_query=evil, endpoint="</script><b>x</b>")
    baseline = _page()
    # Same number of script elements as a harmless page: nothing was injected.
    assert page.lower().count("<script") == baseline.lower().count("<script")
    assert page.lower().count("</script") == baseline.lower().count("</script")
    assert "<!--" not in page
    assert "alert(1)</script>" not in page
    assert _config(page) == {
        "endpoint": "</script><b>x</b>",
        "defaultQuery": evil,
        "docs": None,
    }


def test_title_and_noscript_text_are_html_escaped() -> None:
    page = _page(title="<img src=x onerror=alert(1)>", endpoint="/g?<b>")
    parsed = _parse(page)
    assert "<img" not in page
    assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert parsed.urls == _parse(_page()).urls
    assert "/g?<b>" in parsed.text  # shown as text, not markup


# --- missing_assets ------------------------------------------------------------


def test_missing_assets_lists_absent_files_in_order(tmp_path: Path) -> None:
    assert missing_assets(tmp_path) == list(ASSET_FILES)
    (tmp_path / "graphiql.min.js").write_text("x")
    (tmp_path / "graphiql.min.css").mkdir()  # a directory is not an asset
    assert missing_assets(tmp_path) == [
        "react.production.min.js",
        "react-dom.production.min.js",
        "graphiql.min.css",
    ]


def test_missing_assets_empty_when_all_present(tmp_path: Path) -> None:
    for name in ASSET_FILES:
        (tmp_path / name).write_text("x")
    assert missing_assets(tmp_path) == []


def test_missing_assets_of_nonexistent_directory(tmp_path: Path) -> None:
    assert missing_assets(tmp_path / "nope") == list(ASSET_FILES)


# --- scripts/fetch_graphiql.py (no network) ---------------------------------------


@pytest.fixture(scope="module")
def fetcher() -> ModuleType:
    return load_fetcher()


def _tarball(path: Path, files: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _integrity(path: Path) -> str:
    return (
        "sha512-"
        + base64.b64encode(hashlib.sha512(path.read_bytes()).digest()).decode()
    )


def test_pins_cover_exactly_the_assets_the_pages_load(fetcher: ModuleType) -> None:
    flat = sorted(name for pin in fetcher.PINS for name in pin.files.values())
    assert flat == sorted([*ASSET_FILES, *VENDOR_FILES])
    for pin in fetcher.PINS:
        assert pin.integrity.startswith("sha512-")
        assert len(base64.b64decode(pin.integrity.removeprefix("sha512-"))) == 64


def test_verify_integrity_accepts_matching_tarball(
    fetcher: ModuleType, tmp_path: Path
) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/a.js": b"ok"})
    fetcher.verify_integrity(tgz, _integrity(tgz))


def test_verify_integrity_rejects_tampered_tarball(
    fetcher: ModuleType, tmp_path: Path
) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/a.js": b"ok"})
    pinned = _integrity(tgz)
    _tarball(tgz, {"package/a.js": b"evil"})
    with pytest.raises(fetcher.IntegrityError, match="INTEGRITY MISMATCH"):
        fetcher.verify_integrity(tgz, pinned)


@pytest.mark.parametrize(
    "integrity", ["sha1-AAAA", "sha512-", "not-an-integrity", "md5-abc"]
)
def test_verify_integrity_rejects_non_sha512(
    fetcher: ModuleType, tmp_path: Path, integrity: str
) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/a.js": b"ok"})
    with pytest.raises(fetcher.IntegrityError):
        fetcher.verify_integrity(tgz, integrity)


def test_extract_writes_only_requested_members_under_flat_names(
    fetcher: ModuleType, tmp_path: Path
) -> None:
    tgz = _tarball(
        tmp_path / "p.tgz",
        {
            "package/umd/react.production.min.js": b"react",
            "package/umd/react.development.js": b"dev",
            "package/package.json": b"{}",
        },
    )
    dest = tmp_path / "out"
    written = fetcher.extract(
        tgz, {"package/umd/react.production.min.js": "react.production.min.js"}, dest
    )
    assert written == [dest / "react.production.min.js"]
    assert sorted(p.name for p in dest.iterdir()) == ["react.production.min.js"]
    assert (dest / "react.production.min.js").read_bytes() == b"react"


def test_extract_refuses_path_traversal(fetcher: ModuleType, tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"../evil.js": b"evil"})
    dest = tmp_path / "a" / "out"
    with pytest.raises(fetcher.FetchError, match="unsafe"):
        fetcher.extract(tgz, {"../evil.js": "evil.js"}, dest)
    assert not (tmp_path / "a" / "evil.js").exists()
    assert not (dest / "evil.js").exists()


def test_extract_refuses_unsafe_flat_name(fetcher: ModuleType, tmp_path: Path) -> None:
    tgz = _tarball(tmp_path / "p.tgz", {"package/a.js": b"x"})
    with pytest.raises(fetcher.FetchError, match="unsafe destination"):
        fetcher.extract(tgz, {"package/a.js": "../a.js"}, tmp_path / "out")


def test_extract_refuses_links_and_missing_members(
    fetcher: ModuleType, tmp_path: Path
) -> None:
    tgz = tmp_path / "p.tgz"
    with tarfile.open(tgz, "w:gz") as tar:
        link = tarfile.TarInfo("package/a.js")
        link.type = tarfile.SYMTYPE
        link.linkname = "/etc/passwd"
        tar.addfile(link)
    with pytest.raises(fetcher.FetchError, match="not a regular file"):
        fetcher.extract(tgz, {"package/a.js": "a.js"}, tmp_path / "out")
    with pytest.raises(fetcher.FetchError, match="has no"):
        fetcher.extract(tgz, {"package/b.js": "b.js"}, tmp_path / "out")


def test_remote_load_check(fetcher: ModuleType, tmp_path: Path) -> None:
    ok_js = tmp_path / "ok.js"
    ok_js.write_text('// see https://example.com\na.href = "https://docs.example";')
    fetcher.check_no_remote_loads(ok_js)  # doc links: warning only
    bad_js = tmp_path / "bad.js"
    bad_js.write_text('s.src = "https://cdn.example/x.js";')
    bad_css = tmp_path / "bad.css"
    bad_css.write_text("@import url('https://fonts.example/f.css');")
    ok_css = tmp_path / "ok.css"
    ok_css.write_text("a{background:url(data:image/png;base64,AAAA)}")
    fetcher.check_no_remote_loads(ok_css)
    for bad in (bad_js, bad_css):
        with pytest.raises(fetcher.FetchError, match="remote resource"):
            fetcher.check_no_remote_loads(bad)


def test_fetch_is_a_no_op_when_up_to_date(
    fetcher: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {}
    for name in (*ASSET_FILES, *VENDOR_FILES):
        (tmp_path / name).write_text(name)
        files[name] = fetcher.file_sha256(tmp_path / name)
    manifest = {"packages": fetcher.pinned_packages(), "files": files}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    def no_npm(*_: object) -> None:
        raise AssertionError("npm must not be called")

    monkeypatch.setattr(fetcher, "npm_pack", no_npm)
    assert fetcher.fetch(tmp_path) is False
    assert fetcher.main([str(tmp_path)]) == 0

    # A corrupted file makes it stale again (and then npm would be needed).
    (tmp_path / "graphiql.min.js").write_text("truncated")
    assert fetcher.is_up_to_date(tmp_path) is False


def test_missing_npm_fails_with_instructions(
    fetcher: ModuleType,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("NPM", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert fetcher.main([str(tmp_path / "dest")]) == 1
    assert "npm was not found" in caplog.text
