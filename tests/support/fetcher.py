"""Scripts under scripts/ loaded as modules (scripts/ is not a package the tests
import from): fetch_graphiql.py for the tests of its pins and steps, page_types.py
for the page's type check."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.app import ROOT


def load_script(name: str) -> ModuleType:
    """scripts/{name}.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module


def load_fetcher() -> ModuleType:
    return load_script("fetch_graphiql")
