"""The API reference page's markup and CSP, and the fetcher's pin sets (no
network)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from types import ModuleType

import pytest

from rest_facade import docs
from tests.support.fetcher import load_fetcher


@pytest.fixture(scope="module")
def fetcher() -> ModuleType:
    return load_fetcher()


def test_page_loads_only_its_own_files_and_no_inline_code() -> None:
    body, _ = docs.page(graphiql=True)
    text = body.decode()
    assert "<style" not in text
    assert " style=" not in text
    for line in text.splitlines():
        if "<script" in line:
            assert ' src="/docs/' in line, line
    assert "//" not in text


def test_page_links_graphiql_only_when_served() -> None:
    with_graphiql, etag = docs.page(graphiql=True)
    without, other_etag = docs.page(graphiql=False)
    assert b'href="/graphql"' in with_graphiql
    assert b'href="/graphql"' not in without
    assert etag != other_etag
    assert docs.page(graphiql=True) == (with_graphiql, etag)


def test_csp_allows_nothing_inline_and_no_other_host() -> None:
    directives = dict(d.split(" ", 1) for d in docs.CSP.split("; "))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["img-src"] == "'self' data:"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in docs.CSP


def test_missing_vendor_names_absent_files(tmp_path: Path) -> None:
    assert docs.missing_vendor(tmp_path) == list(docs.VENDOR_FILES)
    for name in docs.VENDOR_FILES:
        (tmp_path / name).write_text("x")
    assert docs.missing_vendor(tmp_path) == []


def test_docs_pins_cover_exactly_the_files_the_page_loads(
    fetcher: ModuleType,
) -> None:
    flat = sorted(name for pin in fetcher.DOCS_PINS for name in pin.files.values())
    assert flat == sorted(docs.VENDOR_FILES)
    assert [p.files for p in fetcher.AXE_PINS] == [{"package/axe.min.js": "axe.min.js"}]
    for pin in (*fetcher.DOCS_PINS, *fetcher.AXE_PINS):
        assert len(base64.b64decode(pin.integrity.removeprefix("sha512-"))) == 64
    assert fetcher.PIN_SETS["graphiql"] is fetcher.PINS


def test_a_pin_set_is_up_to_date_only_with_its_own_manifest(
    fetcher: ModuleType, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    files = {}
    for name in docs.VENDOR_FILES:
        (tmp_path / name).write_text(name)
        files[name] = fetcher.file_sha256(tmp_path / name)
    manifest = {"packages": fetcher.pinned_packages(fetcher.DOCS_PINS), "files": files}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))

    def no_npm(*_: object) -> None:
        raise AssertionError("npm must not be called")

    monkeypatch.setattr(fetcher, "npm_pack", no_npm)
    assert fetcher.main(["--set", "docs", str(tmp_path)]) == 0
    assert fetcher.is_up_to_date(tmp_path, fetcher.DOCS_PINS)
    assert not fetcher.is_up_to_date(tmp_path)  # GraphiQL's set is another


@pytest.mark.parametrize(
    "argv", [["--set", "nope", "x"], ["--set", "docs"], ["a", "b"], ["--set"]]
)
def test_fetcher_usage_errors(
    fetcher: ModuleType, argv: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert fetcher.main(argv) == 2
    assert "usage: fetch_graphiql.py [--set graphiql|docs|axe] DEST_DIR" in (
        capsys.readouterr().err
    )


def test_swagger_ui_is_started_with_nothing_that_reaches_another_host() -> None:
    script = (docs.ASSETS_DIR / "docs.js").read_text()
    assert "validatorUrl: null" in script  # no badge from validator.swagger.io
    assert "queryConfigEnabled: false" in script  # no ?url=... from the address
    assert "url: root.dataset.openapi" in script
