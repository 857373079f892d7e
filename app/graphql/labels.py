"""Bounded metric labels for /graphql requests: `query:kpi,protocol`, never the
client's own operation name. A registered operation sent by hash is labelled by
its document."""

from __future__ import annotations

from urllib.parse import parse_qs

import orjson
from graphql import GraphQLError, parse
from starlette.types import Scope

from app.caching.plan import selected_operation
from app.graphql.persisted import Registry
from app.graphql.policy import BadExtension, requested_hash

MAX_LABEL_FIELDS = 3
# GraphQL documents larger than this are labelled without being parsed.
_MAX_LABELLED_DOCUMENT = 16 * 1024
_OPERATION_MEMO_SIZE = 1024


class OperationLabels:
    """A GraphQL request's bounded metric label, memoised by document bytes."""

    def __init__(
        self, fields: dict[str, frozenset[str]], registry: Registry | None = None
    ) -> None:
        self.fields = fields  # operation type ("query", "mutation") -> root fields
        self.registry = registry
        self._memo: dict[bytes, str] = {}

    def __call__(self, scope: Scope, body_parts: list[bytes] | None) -> str:
        if scope["method"] == "POST":
            raw = b"".join(body_parts or ())
        else:
            raw = scope["query_string"]
        if not raw:
            return ""  # GraphiQL's page, or nothing asked
        if len(raw) > _MAX_LABELLED_DOCUMENT:
            return "other"
        known = self._memo.get(raw)
        if known is None:
            known = self._compute(raw, post=scope["method"] == "POST")
            if len(self._memo) >= _OPERATION_MEMO_SIZE:
                self._memo.clear()
            self._memo[raw] = known
        return known

    def _compute(self, raw: bytes, *, post: bool) -> str:
        try:
            if post:
                payload = orjson.loads(raw)
            else:
                payload = {k: v[0] for k, v in parse_qs(raw.decode("latin-1")).items()}
        except (orjson.JSONDecodeError, UnicodeDecodeError):
            return "invalid"
        if isinstance(payload, dict) and payload.get("query") is None:
            extensions = payload.get("extensions")
            if extensions is not None:
                payload["query"] = self._persisted(extensions, post=post)
                if payload["query"] is None:
                    return "persisted"  # a hash this registry does not hold
        if not isinstance(payload, dict) or not isinstance(payload.get("query"), str):
            return "invalid"
        name = payload.get("operationName")
        try:
            document = parse(payload["query"])
        except GraphQLError:
            return "invalid"
        selected = selected_operation(document, name if isinstance(name, str) else None)
        if selected is None:
            return "invalid"
        kind = selected[0].operation.value
        names = {field.name.value for field in selected[1]}
        if names and all(n.startswith("__") for n in names):
            return "introspection"
        names.discard("__typename")
        allowed = self.fields.get(kind, frozenset())
        if not names or len(names) > MAX_LABEL_FIELDS or not names <= allowed:
            return f"{kind}:other"
        return f"{kind}:{','.join(sorted(names))}"

    def _persisted(self, extensions: object, *, post: bool) -> str | None:
        """The document of a registered operation the request names by hash."""
        if self.registry is None:
            return None
        try:
            if not post and isinstance(extensions, str):
                extensions = orjson.loads(extensions)
            sha256 = requested_hash(extensions)
        except (orjson.JSONDecodeError, BadExtension):
            return None
        operation = self.registry.get(sha256) if sha256 is not None else None
        return operation.body if operation is not None else None
