"""scripts/fetch_graphiql.py loaded as a module (scripts/ is not a package the
tests import from), for the tests of its pins and steps."""

from __future__ import annotations

import importlib.util
import sys
from types import ModuleType

from tests.support.app import ROOT

SCRIPT_PATH = ROOT / "scripts" / "fetch_graphiql.py"


def load_fetcher() -> ModuleType:
    spec = importlib.util.spec_from_file_location("fetch_graphiql", SCRIPT_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up here
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[spec.name]
    return module
