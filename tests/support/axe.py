"""axe-core in a Playwright page: the checker `make test` fetches from npm
(pinned, integrity-checked: scripts/fetch_graphiql.py --set axe var/axe).

`run_axe` evaluates axe's source through the DevTools protocol, which the page's
CSP does not govern; `violations` injects a script tag, so its context must
bypass the CSP.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from tests.support.browser import ROOT

AXE_SCRIPT = ROOT / "var" / "axe" / "axe.min.js"
SERIOUS = ("serious", "critical")
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]


def require_axe() -> None:
    """Skip (fail under CI=true) when axe-core is not installed."""
    if AXE_SCRIPT.is_file():
        return
    reason = f"{AXE_SCRIPT} is absent: make var/axe/manifest.json (make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def axe_script() -> Path:
    """axe.min.js, once `require_axe` found it."""
    require_axe()
    return AXE_SCRIPT


def run_axe(page: Any, script: Path) -> list[dict[str, Any]]:
    """axe's violations on the page as it is now (rule id, impact, targets),
    against WCAG 2 A/AA and best practices."""
    page.evaluate(script.read_text(encoding="utf-8"))
    found: list[dict[str, Any]] = page.evaluate(
        "async (tags) => {"
        "  const r = await axe.run(document, {runOnly: {type: 'tag', values: tags}});"
        "  return r.violations.map(v => ({id: v.id, impact: v.impact,"
        "    nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));"
        "}",
        TAGS,
    )
    return found


def violations(page: Any, impacts: tuple[str, ...] = SERIOUS) -> list[str]:
    """axe's violations of the page as it is now, of the given impacts, one line
    each: impact, rule, and the first few elements."""
    if not page.evaluate("typeof window.axe === 'object'"):
        page.add_script_tag(path=str(AXE_SCRIPT))
    result = page.evaluate("() => axe.run(document, {resultTypes: ['violations']})")
    return [
        f"{v['impact']} {v['id']}: {[n['target'] for n in v['nodes'][:3]]}"
        for v in result["violations"]
        if v["impact"] in impacts
    ]
