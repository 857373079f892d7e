"""axe-core in a Playwright page: the checker `make test` fetches from npm
(pinned, integrity-checked: scripts/fetch_graphiql.py --set axe var/axe),
injected as a script tag, so the page's CSP must be bypassed by its context."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.support.browser import ROOT

AXE_SCRIPT = ROOT / "var" / "axe" / "axe.min.js"
SERIOUS = ("serious", "critical")


def require_axe() -> None:
    """Skip (fail under CI=true) when axe-core is not installed."""
    if AXE_SCRIPT.is_file():
        return
    reason = f"{AXE_SCRIPT} is absent: make var/axe/manifest.json (make test does)"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


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
