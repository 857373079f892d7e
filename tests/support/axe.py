"""axe-core for the browser tests: fetched from npm like the page's own assets
(`scripts/fetch_graphiql.py`'s pack, integrity check and extraction), but into
`var/test-assets/` and never served; run inside a page against WCAG 2 A/AA and
best practices.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from scripts.fetch_graphiql import Pin, extract, file_sha256, npm_pack, verify_integrity
from tests.support.app import ROOT

AXE = Pin(
    name="axe-core",
    version="4.14.1",
    integrity=(
        "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNt"
        "uFooJpZe37OgudVGtQ=="
    ),
    files={"package/axe.min.js": "axe.min.js"},
)
DEST = ROOT / "var" / "test-assets" / f"{AXE.name}-{AXE.version}"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def axe_script() -> Path:
    """axe.min.js, fetched and verified on first use (idempotent)."""
    script = DEST / "axe.min.js"
    stamp = DEST / "sha256"
    if (
        script.is_file()
        and stamp.is_file()
        and stamp.read_text() == file_sha256(script)
    ):
        return script
    with tempfile.TemporaryDirectory(prefix="fetch-axe-") as tmp:
        tarball = npm_pack(AXE, Path(tmp))
        verify_integrity(tarball, AXE.integrity)
        extract(tarball, AXE.files, DEST)
    stamp.write_text(file_sha256(script))
    return script


def run_axe(page: Any, script: Path) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (rule id, impact, targets).

    Evaluated through the DevTools protocol, which the page's CSP does not
    govern (a `<script>` tag with axe's source would be blocked, as it should).
    """
    page.evaluate(script.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(
        "async (tags) => {"
        "  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        "  return r.violations.map(v => ({id: v.id, impact: v.impact,"
        "    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));"
        "}",
        TAGS,
    )
    return violations
