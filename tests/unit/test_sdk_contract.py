"""The schema matches the plugin SDK's contract field for field (sdk-contract.json)."""

from __future__ import annotations

import json

import pytest
from graphql import GraphQLObjectType

from app.schema import schema
from tests.support.app import REFERENCE

CONTRACT = REFERENCE / "sdk-contract.json"


@pytest.fixture(scope="module")
def contract() -> dict[str, dict[str, object]]:
    if not CONTRACT.exists():
        pytest.skip(f"{CONTRACT} is absent (shared/reference is not beside the repo)")
    data: dict[str, dict[str, object]] = json.loads(CONTRACT.read_text())
    return data


def _object(name: str) -> GraphQLObjectType:
    gql_type = schema._schema.get_type(name)
    assert isinstance(gql_type, GraphQLObjectType), f"type {name} is missing"
    return gql_type


def test_every_sdk_type_and_field_has_the_contract_type(
    contract: dict[str, dict[str, object]],
) -> None:
    mismatches = []
    for type_name, fields in contract["types"].items():
        gql_type = _object(type_name)
        assert isinstance(fields, dict)
        for field_name, expected in fields.items():
            field = gql_type.fields.get(field_name)
            actual = None if field is None else str(field.type)
            if actual != expected:
                mismatches.append(f"{type_name}.{field_name}: {actual} != {expected}")
    assert mismatches == []


def test_every_sdk_root_field_has_the_contract_type_and_arguments(
    contract: dict[str, dict[str, object]],
) -> None:
    query = _object("Query")
    mismatches = []
    for field_name, spec in contract["query"].items():
        assert isinstance(spec, dict)
        field = query.fields.get(field_name)
        if field is None:
            mismatches.append(f"Query.{field_name} is missing")
            continue
        if str(field.type) != spec["type"]:
            mismatches.append(f"Query.{field_name}: {field.type} != {spec['type']}")
        actual_args = {name: str(arg.type) for name, arg in field.args.items()}
        if actual_args != spec["args"]:
            mismatches.append(f"Query.{field_name}({actual_args}) != {spec['args']}")
    assert mismatches == []


def test_the_comparison_can_fail(contract: dict[str, dict[str, object]]) -> None:
    """Guard against a vacuous check: a wrong expectation must be caught."""
    kpi = _object("KPI")
    assert str(kpi.fields["timeframeHours"].type) == "Int!"
    assert str(kpi.fields["timeframeHours"].type) != "Int"
