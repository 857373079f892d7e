"""JSON Schema for the OpenAPI document: small helpers, and GraphQL types to schemas.

`SchemaWalker` turns an operation's selection set into the schema of its `data`
(non-null -> required and not null, lists -> arrays, aliases and fragments
followed) and an input type into the schema of a request body. Objects are
closed (`additionalProperties: false`), so drift between the document and the
answers shows.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInputType,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    SelectionSetNode,
)
from graphql.pyutils import Undefined

JsonSchema = dict[str, Any]

STRING: JsonSchema = {"type": "string"}
SCALARS: Mapping[str, JsonSchema] = {
    "String": STRING,
    "ID": STRING,
    "Int": {"type": "integer", "minimum": -(2**31), "maximum": 2**31 - 1},
    "Float": {"type": "number"},
    "Boolean": {"type": "boolean"},
}


class OpenApiError(RuntimeError):
    """The route table cannot be described (e.g. an envelope without a schema)."""


def closed(
    properties: Mapping[str, JsonSchema], required: list[str] | None = None
) -> JsonSchema:
    """An object with exactly these keys (all required unless `required` says)."""
    return {
        "type": "object",
        "properties": dict(properties),
        "required": list(properties) if required is None else required,
        "additionalProperties": False,
    }


def array(items: JsonSchema) -> JsonSchema:
    return {"type": "array", "items": items}


def nullable(schema: JsonSchema) -> JsonSchema:
    """The same schema, also allowing null."""
    kind = schema.get("type")
    if kind is None:
        constrained = any(k in schema for k in ("const", "enum", "anyOf", "$ref"))
        return {"anyOf": [schema, {"type": "null"}]} if constrained else schema
    kinds = [kind] if isinstance(kind, str) else list(kind)
    if "null" in kinds:
        return schema
    result = {**schema, "type": [*kinds, "null"]}
    if "enum" in schema:
        result["enum"] = [*schema["enum"], None]
    return result


def is_nullable(schema: JsonSchema) -> bool:
    kind = schema.get("type")
    return isinstance(kind, list) and "null" in kind


class SchemaWalker:
    """GraphQL types of one schema, as JSON Schema. Input strings also get `text`
    (what every string of a request body must be) and each input field its entry
    of `rules` (by input type and field name: what its resolver refuses)."""

    def __init__(
        self,
        schema: GraphQLSchema,
        *,
        text: Mapping[str, Any] | None = None,
        rules: Mapping[tuple[str, str], Mapping[str, Any]] | None = None,
    ) -> None:
        self.schema = schema
        self.text = dict(text or {})
        self.rules = dict(rules or {})

    # --- output: what a selection set puts in `data` ------------------------------
    def output(
        self,
        type_: GraphQLOutputType,
        selection: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._output_value(type_.of_type, selection, fragments)
        return nullable(self._output_value(type_, selection, fragments))

    def _output_value(
        self,
        type_: GraphQLOutputType,
        selection: SelectionSetNode | None,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return array(self.output(type_.of_type, selection, fragments))
        if isinstance(type_, GraphQLScalarType | GraphQLEnumType):
            return _leaf(type_)
        if selection is None:  # pragma: no cover  (validation requires one)
            raise OpenApiError(f"{type_} without a selection")
        assert isinstance(type_, GraphQLNamedType)  # noqa: S101  (object-like)
        return self.selection(type_, selection, fragments)

    def selection(
        self,
        parent: GraphQLNamedType,
        selection: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
    ) -> JsonSchema:
        properties: dict[str, JsonSchema] = {}
        required: list[str] = []
        for node, owner, conditional in self._fields(
            parent, selection, fragments, False
        ):
            key = node.alias.value if node.alias else node.name.value
            if node.name.value == "__typename":
                schema = STRING
            else:
                assert isinstance(  # noqa: S101  (validated document)
                    owner, GraphQLObjectType | GraphQLInterfaceType
                )
                definition = owner.fields[node.name.value]
                schema = self.output(definition.type, node.selection_set, fragments)
            properties.setdefault(key, schema)
            if not conditional and key not in required:
                required.append(key)
        return closed(properties, required)

    def _fields(
        self,
        parent: GraphQLNamedType,
        selection: SelectionSetNode,
        fragments: Mapping[str, FragmentDefinitionNode],
        conditional: bool,
    ) -> Iterator[tuple[FieldNode, GraphQLNamedType, bool]]:
        """Every field a selection set can put in the response, following fragments;
        `conditional` when it may be absent (a narrower type, @skip/@include)."""
        for node in selection.selections:
            maybe = conditional or bool(node.directives)
            if isinstance(node, FieldNode):
                yield node, parent, maybe
                continue
            if isinstance(node, FragmentSpreadNode):
                fragment = fragments[node.name.value]
                condition: Any = fragment.type_condition
                inner = fragment.selection_set
            else:
                assert isinstance(node, InlineFragmentNode)  # noqa: S101
                condition = node.type_condition
                inner = node.selection_set
            owner = parent
            if condition is not None:
                named = self.schema.get_type(condition.name.value)
                assert named is not None  # noqa: S101  (validated document)
                owner = named
            yield from self._fields(owner, inner, fragments, maybe or owner != parent)

    # --- input: variables and request bodies ------------------------------------
    def input(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLNonNull):
            return self._input_value(type_.of_type)
        return nullable(self._input_value(type_))

    def _input_value(self, type_: GraphQLInputType) -> JsonSchema:
        if isinstance(type_, GraphQLList):
            return array(self.input(type_.of_type))
        if isinstance(type_, GraphQLInputObjectType):
            properties = {}
            required = []
            for name, input_field in type_.fields.items():
                schema = self.input(input_field.type)
                rule = self.rules.get((type_.name, name))
                if rule:
                    schema = {**schema, **rule}
                if input_field.description:
                    schema = {**schema, "description": input_field.description}
                properties[name] = schema
                # An SDL default is kept in `default`, the one Strawberry sets in
                # `default_value`: with either, a non-null field may be left out.
                has_default = (
                    input_field.default_value is not Undefined
                    or input_field.default is not None
                )
                if isinstance(input_field.type, GraphQLNonNull) and not has_default:
                    required.append(name)
            return closed(properties, required)
        assert isinstance(type_, GraphQLScalarType | GraphQLEnumType)  # noqa: S101
        leaf = _leaf(type_)
        if leaf.get("type") == "string" and "enum" not in leaf:
            leaf.update(self.text)
        return leaf


def _leaf(type_: GraphQLScalarType | GraphQLEnumType) -> JsonSchema:
    if isinstance(type_, GraphQLEnumType):
        return {"type": "string", "enum": list(type_.values)}
    known = SCALARS.get(type_.name)
    if known is not None:
        return dict(known)
    # A custom scalar: any JSON value, described by the scalar's own text.
    return {"description": type_.description or type_.name}
