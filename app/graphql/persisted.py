"""Persisted operations: the documents this server knows by the SHA-256 of their text.

`Registry` is the safelist: every file of a folder (the REST facade's named
operations, hashed over their exact bytes) and every operation of the
Apollo-format manifests PERSISTED_OPERATIONS_FILES lists. Each is parsed and
validated once, with the server's limits: manifests at startup (a bad one stops
the server with `PersistedOperationsError`), files on first use (the REST facade
validates them too, a second after startup). `manifest()` is the server's own
Apollo-format list, served at /graphql/persisted-operations.json.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
import strawberry
from graphql import (
    DocumentNode,
    GraphQLError,
    OperationDefinitionNode,
    parse,
    specified_rules,
)
from graphql.validation import ASTValidationRule, NoSchemaIntrospectionCustomRule

from app.graphql.limits import Limits, validate_with_limits
from app.schema import graphql_schema
from app.settings import SettingsError

MANIFEST_FORMAT = "apollo-persisted-query-manifest"
MANIFEST_VERSION = 1
OPERATION_TYPES = ("query", "mutation", "subscription")


class PersistedOperationsError(SettingsError):
    """A manifest cannot be used: the message names the file, the operation and
    what is wrong with it."""


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@functools.lru_cache(maxsize=1024)
def text_hash(text: str) -> str:
    """The id a document's text would have; memoised (clients repeat documents)."""
    return sha256_hex(text)


@dataclass(frozen=True, slots=True)
class Checked:
    """A registered operation as it runs: parsed, and validated against the schema
    with the server's limits (`errors` is empty for every operation a manifest
    brought: those that fail stop the server)."""

    document: DocumentNode
    errors: list[GraphQLError]
    name: str | None
    type: str


@dataclass(slots=True)
class Operation:
    id: str
    body: str
    origin: str  # the file or manifest it came from, for messages
    checked: Checked | None = None


@dataclass(slots=True)
class Registry:
    """Registered operations by id, and how to check one."""

    schema: strawberry.Schema
    limits: Limits
    operations: dict[str, Operation] = field(default_factory=dict)
    counts: dict[str, int] = field(default_factory=dict)  # origin kind -> operations

    @classmethod
    def load(
        cls,
        schema: strawberry.Schema,
        limits: Limits,
        *,
        folders: Iterable[Path] = (),
        manifests: Sequence[str] = (),
    ) -> Registry:
        registry = cls(schema, limits)
        for folder in folders:
            for path in sorted(folder.glob("*.graphql")):
                registry._add(path.read_bytes(), str(path), "files")
        for manifest in manifests:
            for operation in read_manifest(Path(manifest)):
                registry._add_checked(operation, manifest)
        return registry

    def __len__(self) -> int:
        return len(self.operations)

    def __contains__(self, operation_id: object) -> bool:
        return operation_id in self.operations

    def has_text(self, text: str) -> bool:
        return text_hash(text) in self.operations

    def get(self, operation_id: str) -> Operation | None:
        return self.operations.get(operation_id)

    def checked(self, operation: Operation) -> Checked:
        """The operation parsed and validated, once."""
        if operation.checked is None:
            operation.checked = self._check(operation.body)
        return operation.checked

    def manifest(self) -> dict[str, Any]:
        """Every operation, in Apollo's persisted-query manifest format."""
        entries = []
        for operation in self.operations.values():
            checked = self.checked(operation)
            entries.append(
                {
                    "id": operation.id,
                    "name": checked.name,
                    "type": checked.type,
                    "body": operation.body,
                }
            )
        entries.sort(key=lambda e: (e["name"] or "", e["id"]))
        return {
            "format": MANIFEST_FORMAT,
            "version": MANIFEST_VERSION,
            "operations": entries,
        }

    # --- loading ------------------------------------------------------------------
    def _add(self, raw: bytes, origin: str, kind: str) -> Operation:
        try:
            body = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise PersistedOperationsError(f"{origin}: not UTF-8 text") from exc
        operation = Operation(hashlib.sha256(raw).hexdigest(), body, origin)
        if operation.id not in self.operations:
            self.operations[operation.id] = operation
            self.counts[kind] = self.counts.get(kind, 0) + 1
        return self.operations[operation.id]

    def _add_checked(self, entry: ManifestEntry, manifest: str) -> None:
        where = f"{manifest}: operation {entry.label}"
        if sha256_hex(entry.body) != entry.id:
            raise PersistedOperationsError(
                f"{where}: its id is not the SHA-256 of its body "
                f"(expected {sha256_hex(entry.body)})"
            )
        checked = self._check(entry.body)
        if checked.errors:
            raise PersistedOperationsError(
                f"{where} does not validate against the schema: "
                f"{checked.errors[0].message}"
            )
        if entry.type is not None and entry.type != checked.type:
            raise PersistedOperationsError(
                f"{where}: its type is {entry.type!r} but its body is a {checked.type}"
            )
        operation = self._add(entry.body.encode("utf-8"), manifest, "manifests")
        operation.checked = checked

    def _check(self, body: str) -> Checked:
        try:
            document = parse(body, max_tokens=self.limits.max_tokens)
        except GraphQLError as error:
            empty = DocumentNode(definitions=())
            return Checked(empty, [error], None, "query")
        errors = validate_with_limits(
            graphql_schema(self.schema), document, self._rules(), self.limits
        )
        operations = [
            d for d in document.definitions if isinstance(d, OperationDefinitionNode)
        ]
        first = operations[0] if operations else None
        if len(operations) != 1 and not errors:
            errors = [GraphQLError("A persisted operation is one operation.")]
        name = first.name.value if first is not None and first.name else None
        kind = first.operation.value if first is not None else "query"
        return Checked(document, list(errors), name, kind)

    def _rules(self) -> tuple[type[ASTValidationRule], ...]:
        # What Strawberry validates every execution with (validate_with_limits adds
        # its own two rules), and the introspection switch.
        if self.limits.introspection:
            return tuple(specified_rules)
        return (*specified_rules, NoSchemaIntrospectionCustomRule)


# --- Apollo-format manifests --------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ManifestEntry:
    id: str
    body: str
    name: str | None
    type: str | None
    index: int

    @property
    def label(self) -> str:
        return f"#{self.index}" + (f" ({self.name})" if self.name else "")


def read_manifest(path: Path) -> list[ManifestEntry]:
    """The operations of one manifest, in its order; `PersistedOperationsError`
    for a file that cannot be read or is not a version-1 Apollo manifest."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PersistedOperationsError(
            f"PERSISTED_OPERATIONS_FILES: cannot read {path} ({exc.strerror})"
        ) from exc
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise PersistedOperationsError(f"{path}: not valid JSON ({exc})") from exc
    if (
        not isinstance(data, dict)
        or data.get("format") != MANIFEST_FORMAT
        or data.get("version") != MANIFEST_VERSION
        or not isinstance(data.get("operations"), list)
    ):
        raise PersistedOperationsError(
            f'{path}: not an Apollo persisted-query manifest (expected {{"format": '
            f'"{MANIFEST_FORMAT}", "version": {MANIFEST_VERSION}, "operations": '
            "[...]})"
        )
    entries = []
    for index, item in enumerate(data["operations"]):
        if not isinstance(item, dict):
            raise PersistedOperationsError(
                f"{path}: operation #{index} is not an object"
            )
        id_, body = item.get("id"), item.get("body")
        name, kind = item.get("name"), item.get("type")
        if not isinstance(id_, str) or not isinstance(body, str):
            raise PersistedOperationsError(
                f"{path}: operation #{index} needs a string `id` and `body`"
            )
        if name is not None and not isinstance(name, str):
            raise PersistedOperationsError(
                f"{path}: operation #{index}: `name` is not a string"
            )
        if kind is not None and kind not in OPERATION_TYPES:
            raise PersistedOperationsError(
                f"{path}: operation #{index}: `type` is not one of "
                + ", ".join(OPERATION_TYPES)
            )
        entries.append(ManifestEntry(id_, body, name, kind, index))
    return entries
