"""schema.graphql is generated from the code and committed; it must not drift."""

from __future__ import annotations

from pathlib import Path

from scripts.export_schema import sdl

ROOT = Path(__file__).resolve().parents[1]


def test_committed_schema_matches_the_code() -> None:
    committed = (ROOT / "schema.graphql").read_text(encoding="utf-8")
    assert committed == sdl(), "schema.graphql is stale: run `make schema`"
