"""GraphQL abuse limits, checked before any resolver runs.

`GraphQLLimits` is one Strawberry extension, built from settings and added by
`app.main` to the one schema, so `/graphql` and the REST facade (which runs its
named operations through that schema) are held to the same limits: tokens at
parse time; depth, aliases, repeated fields and repeated directives in one walk
over the document (`check_limits`), each broken limit reported once; and, with
`GRAPHQL_INTROSPECTION=false`, no introspection and no "Did you mean ...?"
suggestions, which would leak the schema one name at a time.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    Node,
    OperationDefinitionNode,
    SelectionSetNode,
    validate,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule
from strawberry.extensions import SchemaExtension
from strawberry.schema.validation_rules.maybe_null import MaybeNullValidationRule
from strawberry.schema.validation_rules.one_of import OneOfInputValidationRule

from app.errors import AppError
from app.schema import graphql_schema
from app.settings import Settings

# Fields whose subtrees graphql-core's MaxIntrospectionDepthRule measures; the
# depth limit stops at them, so GraphiQL's introspection query (nine `ofType`
# levels) stays within a depth limit meant for data.
INTROSPECTION_FIELDS = frozenset({"__schema", "__type"})
# A document within the limits can still be wrong in many places; a client needs
# the first few errors, not graphql-core's default of 100.
MAX_VALIDATION_ERRORS = 20
# graphql-core's suggestion suffixes: " Did you mean 'x'?", " Did you mean the
# enum value 'X' or 'Y'?", " Did you mean 'kpi { ... }'?". Only for errors raised
# inside Strawberry's execute call, which has no way to pass `hide_suggestions`.
_SUGGESTION = re.compile(r" ?Did you mean [^?]*\?")


@dataclass(frozen=True, slots=True)
class Limits:
    """The GraphQL limits of one server, hashable (it is part of a cache key)."""

    max_depth: int
    max_aliases: int
    max_tokens: int
    max_repeated_fields: int
    max_directives: int
    introspection: bool

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_depth=settings.graphql_max_depth,
            max_aliases=settings.graphql_max_aliases,
            max_tokens=settings.graphql_max_tokens,
            max_repeated_fields=settings.graphql_max_repeated_fields,
            max_directives=settings.graphql_max_directives,
            introspection=settings.graphql_introspection,
        )


# --- the walk ----------------------------------------------------------------------
@dataclass(slots=True)
class _Measure:
    """Depth and alias count of a selection set, fragments expanded."""

    depth: int = 0
    aliases: int = 0


class _Walk:
    """Depth and aliases per operation, counting what fragment spreads bring in.

    Each fragment is measured once and its measure reused at every spread, so the
    walk is linear in the document even when spreads multiply (fragment A spreads
    B twice, B spreads C twice...): the alias count is what execution would
    expand, the work is not. A fragment cycle or an unknown fragment counts as
    empty; the spec rules report those once the limits pass.
    """

    def __init__(self, fragments: Mapping[str, FragmentDefinitionNode]) -> None:
        self.fragments = fragments
        self.measured: dict[str, _Measure] = {}
        self.entered: set[str] = set()

    def selection_set(self, selection_set: SelectionSetNode) -> _Measure:
        total = _Measure()
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                inner = _Measure()
                if selection.selection_set is not None:
                    inner = self.selection_set(selection.selection_set)
                if selection.name.value in INTROSPECTION_FIELDS:
                    inner.depth = 0
                total.depth = max(total.depth, 1 + inner.depth)
                total.aliases += inner.aliases + (selection.alias is not None)
            elif isinstance(selection, InlineFragmentNode):
                inner = self.selection_set(selection.selection_set)
                total.depth = max(total.depth, inner.depth)
                total.aliases += inner.aliases
            elif isinstance(selection, FragmentSpreadNode):
                inner = self.fragment(selection.name.value)
                total.depth = max(total.depth, inner.depth)
                total.aliases += inner.aliases
        return total

    def fragment(self, name: str) -> _Measure:
        known = self.measured.get(name)
        if known is not None:
            return known
        definition = self.fragments.get(name)
        if definition is None or name in self.entered:
            return _Measure()
        self.entered.add(name)
        measure = self.selection_set(definition.selection_set)
        self.entered.discard(name)
        self.measured[name] = measure
        return measure


def _selection_keys(
    selection_set: SelectionSetNode, on: str = ""
) -> Iterator[tuple[str, str]]:
    """What a selection set selects, one key per selection: a field's response key
    (with the inline fragment's type, so `... on A { id } ... on B { id }` are
    different fields), `...Name` for a fragment spread."""
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.alias or selection.name
            yield on, name.value
        elif isinstance(selection, FragmentSpreadNode):
            yield on, f"...{selection.name.value}"
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            inner = on if condition is None else condition.name.value
            yield from _selection_keys(selection.selection_set, inner)


def _nodes(document: DocumentNode) -> Iterator[Node]:
    """Every definition, selection and variable definition, without recursion
    (fragment chains are not bounded by the parser's nesting limit)."""
    stack: list[Node] = list(document.definitions)
    while stack:
        node = stack.pop()
        yield node
        if isinstance(node, OperationDefinitionNode):
            stack.extend(node.variable_definitions or ())
        selection_set = getattr(node, "selection_set", None)
        if selection_set is not None:
            yield selection_set
            stack.extend(selection_set.selections)


def check_limits(document: DocumentNode, limits: Limits) -> list[GraphQLError]:
    """At most one error per broken limit; [] when the document is within them."""
    errors: list[GraphQLError] = []

    repeated: tuple[str, Node] | None = None
    directives: Node | None = None
    for node in _nodes(document):
        if directives is None and len(getattr(node, "directives", None) or ()) > (
            limits.max_directives
        ):
            directives = node
        if repeated is None and isinstance(node, SelectionSetNode):
            counts = Counter(_selection_keys(node))
            [(key, count)] = counts.most_common(1) or [(("", ""), 0)]
            if count > limits.max_repeated_fields:
                repeated = (key[1], node)
    if repeated is not None:
        name, node = repeated
        errors.append(
            GraphQLError(
                f"'{name}' is selected more than {limits.max_repeated_fields} "
                "times in one selection set.",
                node,
            )
        )
    if directives is not None:
        errors.append(
            GraphQLError(
                f"More than {limits.max_directives} directives in one place.",
                directives,
            )
        )

    fragments = {
        d.name.value: d
        for d in document.definitions
        if isinstance(d, FragmentDefinitionNode)
    }
    walk = _Walk(fragments)
    operations = [
        d for d in document.definitions if isinstance(d, OperationDefinitionNode)
    ]
    try:
        measures = [(o, walk.selection_set(o.selection_set)) for o in operations]
    except RecursionError:
        # Only a chain of hundreds of fragments gets here (the parser bounds
        # nesting); such a document is refused as too deep.
        errors.append(GraphQLError("The document nests fragments too deeply."))
        return errors
    deepest = max(measures, key=lambda m: m[1].depth, default=None)
    if deepest is not None and deepest[1].depth > limits.max_depth:
        errors.append(
            GraphQLError(
                f"The operation is {deepest[1].depth} fields deep; at most "
                f"{limits.max_depth} are allowed.",
                deepest[0],
            )
        )
    most = max(measures, key=lambda m: m[1].aliases, default=None)
    if most is not None and most[1].aliases > limits.max_aliases:
        errors.append(
            GraphQLError(
                f"The operation uses {most[1].aliases} aliases (fragments "
                f"included); at most {limits.max_aliases} are allowed.",
                most[0],
            )
        )
    return errors


# --- validation and the extension ------------------------------------------------
STRAWBERRY_RULES: tuple[type[ASTValidationRule], ...] = (
    MaybeNullValidationRule,
    OneOfInputValidationRule,
)


@functools.lru_cache(maxsize=256)
def validate_with_limits(
    schema: GraphQLSchema,
    document: DocumentNode,
    rules: tuple[type[ASTValidationRule], ...],
    limits: Limits,
) -> list[GraphQLError]:
    """Our limits first; the spec's rules only for documents within them.

    The limits are not one more rule among the spec's: those run together in one
    visitor, so 500 unknown directives would still collect 100 `KnownDirectives`
    errors (and `OverlappingFieldsCanBeMerged` compare 500 copies of a field
    pairwise) next to our single error. Cached like Strawberry's ValidationCache,
    which this replaces (parsed documents come from the ParserCache, so a repeated
    query text hashes to the same entry)."""
    errors = check_limits(document, limits)
    if errors:
        return errors
    return validate(
        schema,
        document,
        (*rules, *STRAWBERRY_RULES),
        max_errors=MAX_VALIDATION_ERRORS,
        hide_suggestions=not limits.introspection,
    )


def strip_suggestion(message: str) -> str:
    return _SUGGESTION.sub("", message)


class GraphQLLimits(SchemaExtension):
    """Tokens at parse time, the other limits and the spec rules at validation
    (graphql-core's `hide_suggestions` there), suggestions stripped from what
    execution adds (variable coercion)."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits

    def on_operation(self) -> Iterator[None]:
        context = self.execution_context
        context.parse_options["max_tokens"] = self.limits.max_tokens
        if not self.limits.introspection:
            context.validation_rules = (
                *context.validation_rules,
                NoSchemaIntrospectionCustomRule,
            )
        yield
        result = context.result
        errors = getattr(result, "errors", None)
        if self.limits.introspection or not errors:
            return
        for error in errors:
            # Our own errors (AppError) carry messages we wrote; graphql-core's
            # (variable coercion) may carry a suggestion.
            if not isinstance(error.original_error, AppError):
                error.message = strip_suggestion(error.message)

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        document = context.graphql_document
        if document is not None and context.pre_execution_errors is None:
            context.pre_execution_errors = validate_with_limits(
                graphql_schema(context.schema),
                document,
                tuple(context.validation_rules),
                self.limits,
            )
        yield


def limits_extension(settings: Settings) -> Callable[[], GraphQLLimits]:
    """The schema extension factory holding this server's limits; it also runs
    the spec's validation (cached), in place of Strawberry's ValidationCache."""
    limits = Limits.from_settings(settings)
    return lambda: GraphQLLimits(limits)
