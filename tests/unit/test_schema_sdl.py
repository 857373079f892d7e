"""schema.graphql is generated from the code and committed; it must not drift."""

from __future__ import annotations

from scripts.export_schema import sdl
from tests.support.app import ROOT


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql is stale: run `make schema`"
