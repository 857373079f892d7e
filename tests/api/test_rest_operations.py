"""The REST rows' operation files: parsed when the app is built, validated against
the schema after startup (rest_facade/prepare.py, app/lifespan.py)."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from starlette.applications import Starlette

import rest_facade.prepare
from app.schema import build_schema
from rest_facade.prepare import OperationError, check_operations, prepare
from rest_facade.routes import RestRoute
from tests.support.app import serve


def test_every_rest_operation_validates_against_the_schema() -> None:
    check_operations(build_schema())


@pytest.fixture
def operations_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(rest_facade.prepare, "OPERATIONS_DIR", tmp_path)
    return tmp_path


def test_a_syntax_error_fails_when_the_app_is_built(operations_dir: Path) -> None:
    (operations_dir / "Broken.graphql").write_text("query Broken { kpi {")

    with pytest.raises(OperationError, match=r"^Broken\.graphql: Syntax Error"):
        prepare(build_schema(), (RestRoute("/broken", "Broken", "kpi"),))


def test_an_unknown_field_fails_the_check_naming_the_file(
    operations_dir: Path,
) -> None:
    (operations_dir / "Typo.graphql").write_text("query Typo { kpi { nosuch } }")
    schema = build_schema()
    rows = (RestRoute("/typo", "Typo", "kpi"),)

    prepare(schema, rows)  # parsed: building the app does not validate
    with pytest.raises(
        OperationError, match=r"^Typo\.graphql: Cannot query field 'nosuch'"
    ):
        check_operations(schema, rows)


async def test_the_server_stops_reporting_ready_when_an_operation_is_invalid(
    app: Starlette, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def invalid(schema: object) -> None:
        raise OperationError("Typo.graphql: Cannot query field 'nosuch'")

    monkeypatch.setattr("app.lifespan.check_operations", invalid)
    monkeypatch.setattr("app.lifespan.OPERATIONS_CHECK_DELAY", 0.0)
    async with serve(app) as http:
        for _ in range(100):  # the check runs on the loop once startup is done
            response = await http.get("/readyz")
            if response.status_code == 503:
                break
            await asyncio.sleep(0.01)
    assert response.status_code == 503
    critical = [r for r in caplog.records if r.levelno == logging.CRITICAL]
    assert [r.getMessage() for r in critical] == [
        "a REST operation does not validate: Typo.graphql: Cannot query field 'nosuch'"
    ]
