"""Which snapshots a read needs: a query's public root fields and their canonical
arguments, from the document and its variables, before anything runs.

REST rows and GraphQL queries are planned by the same function, so a route and
any query of the same data name the same snapshot. A document that selects
anything else (a developer field, introspection) or whose variables or arguments
do not coerce has no plan: it runs uncached, and execution reports its errors.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLIncludeDirective,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionNode,
)
from graphql.execution import (
    VariableValues,
    get_argument_values,
    get_directive_values,
    get_variable_values,
)

from app.caching.snapshots import Need, SnapshotSpec
from app.errors import AppError


@dataclass(frozen=True, slots=True)
class PublicField:
    """A public root field: the snapshot it reads, and its arguments (by their
    GraphQL names) made canonical, the same function its resolver calls."""

    spec: SnapshotSpec
    args: Callable[..., Any]


@dataclass(frozen=True, slots=True)
class ReadPlan:
    needs: tuple[Need, ...]  # one per distinct snapshot key
    freshness: str  # the strictest class among them ("job_feed" beats "dashboard")


def selected_operation(
    document: DocumentNode,
    operation_name: str | None,
    include: Callable[[SelectionNode], bool] | None = None,
) -> tuple[OperationDefinitionNode, list[FieldNode]] | None:
    """The operation a request runs and its root field nodes, through inline
    fragments and fragment spreads (each fragment expanded once, so a cycle ends);
    `include` drops selections (@skip/@include). None unless exactly one
    operation matches and every spread fragment exists. Safe on any parsed
    document: it runs before validation.
    """
    operations = [
        d for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    if operation_name is not None:
        operations = [
            o for o in operations if o.name and o.name.value == operation_name
        ]
    if len(operations) != 1:
        return None
    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    fields: list[FieldNode] = []
    expanded: set[str] = set()
    pending = [operations[0].selection_set]
    while pending:
        for selection in pending.pop().selections:
            if include is not None and not include(selection):
                continue
            if isinstance(selection, FieldNode):
                fields.append(selection)
            elif isinstance(selection, InlineFragmentNode):
                pending.append(selection.selection_set)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name not in fragments:
                    return None
                if name not in expanded:
                    expanded.add(name)
                    pending.append(fragments[name].selection_set)
    return operations[0], fields


def plan_read(
    schema: GraphQLSchema,
    document: DocumentNode,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    fields: Mapping[str, PublicField],
) -> ReadPlan | None:
    """The snapshots a query of public root fields needs; None for anything else."""
    query_type = schema.query_type
    operation = _operation(document, operation_name)
    if operation is None or query_type is None:
        return None
    coerced = get_variable_values(
        schema, operation.variable_definitions or (), dict(variables or {})
    )
    if not isinstance(coerced, VariableValues):
        return None  # variable errors: execution reports them

    def include(node: SelectionNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, node, coerced)
        if skip is not None and skip.get("if") is True:
            return False
        keep = get_directive_values(GraphQLIncludeDirective, node, coerced)
        return keep is None or keep.get("if") is not False

    try:
        selected = selected_operation(document, operation_name, include)
    except GraphQLError:
        return None
    if selected is None:
        return None
    needs: dict[str, Need] = {}
    for node in selected[1]:
        name = node.name.value
        if name == "__typename":
            continue
        public = fields.get(name)
        definition = query_type.fields.get(name)
        if public is None or definition is None:
            return None
        try:
            args = public.args(**get_argument_values(definition, node, coerced))
        except (GraphQLError, AppError, TypeError):
            return None  # execution reports the argument's error
        need = Need.of(public.spec, args)
        needs.setdefault(need.key, need)
    classes = {need.spec.freshness for need in needs.values()}
    strictest = "job_feed" if "job_feed" in classes else "dashboard"
    return ReadPlan(tuple(needs.values()), strictest)


def _operation(
    document: DocumentNode, operation_name: str | None
) -> OperationDefinitionNode | None:
    found = [
        d
        for d in document.definitions
        if isinstance(d, OperationDefinitionNode)
        and (operation_name is None or (d.name and d.name.value == operation_name))
    ]
    if len(found) != 1 or found[0].operation != OperationType.QUERY:
        return None
    return found[0]
