"""The rows' operations: read and parsed once at startup (`prepare`: a syntax error,
a missing operation or body variable fails startup), validated against the schema
by `check_operations` (~30 ms, off the startup path: app/main.py's lifespan runs it
once the server is up, logging a failure as critical and turning readiness off;
`make test` runs it too). Strawberry validates each execution as well.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLInputType,
    GraphQLSchema,
    OperationDefinitionNode,
    is_input_type,
    parse,
    print_ast,
    type_from_ast,
    validate,
)

from app.schema import graphql_schema
from rest_facade.routes import ROUTES, RestRoute

OPERATIONS_DIR = Path(__file__).parent / "operations"


class OperationError(RuntimeError):
    """An operation file is missing or does not validate against the schema."""


@dataclass(frozen=True, slots=True)
class Prepared:
    row: RestRoute
    document: str
    ast: DocumentNode
    body_type: GraphQLInputType | None
    normalized: str  # the document as printed from its AST: part of a render key


def prepare(
    schema: strawberry.Schema, rows: tuple[RestRoute, ...] = ROUTES
) -> list[Prepared]:
    built = graphql_schema(schema)
    return [Prepared(row, *_operation(built, row.operation, row.body)) for row in rows]


def check_operations(
    schema: strawberry.Schema, rows: tuple[RestRoute, ...] = ROUTES
) -> None:
    """Validate every row's operation against the schema; `OperationError` names
    the first file that does not validate."""
    built = graphql_schema(schema)
    for prepared in prepare(schema, rows):
        errors = validate(built, prepared.ast)
        if errors:
            name = prepared.row.operation
            raise OperationError(f"{name}.graphql: {errors[0].message}")


@functools.lru_cache(maxsize=256)
def _operation(
    schema: GraphQLSchema, name: str, body: str | None
) -> tuple[str, DocumentNode, GraphQLInputType | None, str]:
    """(source, document, body type, normalised source) of one operation; cached,
    so apps sharing a schema read and parse each operation once."""
    path = OPERATIONS_DIR / f"{name}.graphql"
    try:
        source = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise OperationError(f"{name}: cannot read {path}") from exc
    try:
        document = parse(source)
    except GraphQLError as exc:
        raise OperationError(f"{path.name}: {exc.message}") from exc
    operations = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode) and d.name is not None
    }
    operation = operations.get(name)
    if operation is None:
        raise OperationError(f"{path.name} does not define {name}")
    body_type = None
    if body is not None:
        definitions = {
            v.variable.name.value: v for v in operation.variable_definitions or ()
        }
        if body not in definitions:
            raise OperationError(f"{path.name} has no ${body} for the body")
        found = type_from_ast(schema, definitions[body].type)
        if not is_input_type(found):
            raise OperationError(f"{path.name}: ${body} is not an input")
        body_type = found
    return source, document, body_type, print_ast(document)


def load_operations(schema: strawberry.Schema) -> dict[str, str]:
    """Operation name -> document text, for every row (tests use it)."""
    return {p.row.operation: p.document for p in prepare(schema)}
