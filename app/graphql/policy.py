"""What `/graphql` runs: registered operations by hash, APQ, and the policy for
documents that are not registered (`PERSISTED_OPERATIONS`): `audit` runs all and
counts (and logs the hash of) unregistered documents sent without a token;
`enforce-anonymous` runs only registered operations without a valid developer
token, and registers nothing; `off` takes no hashes.

`PersistedOperations`, a schema extension, applies it to what Strawberry runs for
`/graphql` and refuses through pre-execution errors (never by raising), so every
transport answers a refusal as a GraphQL result; the front (endpoint.py) asks the
same `Policy` about the public queries it answers from the cache.
"""

from __future__ import annotations

import logging
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    DocumentNode,
    FieldNode,
    GraphQLError,
    NameNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from strawberry.extensions import SchemaExtension
from strawberry.types import ExecutionContext

from app.context import Context
from app.errors import AppError, RateLimited
from app.graphql.apq import AutomaticPersistedQueries
from app.graphql.persisted import Registry, text_hash
from app.metrics import PERSISTED_RESULTS
from app.ratelimit import RateLimiter, client_address

log = logging.getLogger("naap.graphql.persisted")

Mode = Literal["audit", "enforce-anonymous", "off"]

NOT_FOUND = "PERSISTED_QUERY_NOT_FOUND"
HASH_MISMATCH = "PERSISTED_QUERY_HASH_MISMATCH"
NOT_SUPPORTED = "PERSISTED_QUERY_NOT_SUPPORTED"
REQUIRED = "PERSISTED_OPERATION_REQUIRED"
# Apollo's rule for a miss: the client registers next, so nothing may keep it.
NOT_FOUND_CACHE_CONTROL = "private, no-cache, must-revalidate"
MANIFEST_PATH = "/graphql/persisted-operations.json"
REQUIRED_MESSAGE = (
    "This server runs only registered operations for requests without a developer "
    "token (PERSISTED_OPERATIONS=enforce-anonymous), and registers no new ones. "
    "Send extensions.persistedQuery.sha256Hash of an operation listed at "
    f"{MANIFEST_PATH} (or its exact text), or send Authorization: Bearer <token>."
)
PERSISTED_QUERY_SHAPE = (
    'extensions.persistedQuery must be {"version": 1, "sha256Hash": "<64 hex digits>"}.'
)
_HASH = re.compile(r"[0-9a-fA-F]{64}")
_LOGGED_MAX = 4096  # hashes remembered as logged; then the set starts over

RESULTS = {
    result: PERSISTED_RESULTS.labels(result)
    for result in (
        "operation",
        "apq_hit",
        "apq_miss",
        "apq_registered",
        "hash_mismatch",
        "not_supported",
        "unregistered",
        "refused",
    )
}


class BadExtension(ValueError):
    """`extensions.persistedQuery` is not `{"version": 1, "sha256Hash": <hex>}`."""


def requested_hash(extensions: object) -> str | None:
    """The hash a request names (lowercase), None when it names none; BadExtension
    when it tries and gets the shape wrong."""
    if not isinstance(extensions, dict):
        return None
    persisted = extensions.get("persistedQuery")
    if persisted is None:
        return None
    if not isinstance(persisted, dict):
        raise BadExtension
    value, version = persisted.get("sha256Hash"), persisted.get("version")
    # `true == 1` in Python; JSON's true is no version number.
    if type(version) is not int or version != 1 or not isinstance(value, str):
        raise BadExtension
    if not _HASH.fullmatch(value):
        raise BadExtension
    return value.lower()


def has_token(scope: Any) -> bool:
    """Whether a request carries a token (bearer or the session cookie), unverified:
    what `audit` counts by, cheaply, on the cached path."""
    for name, value in scope["headers"]:
        if name == b"authorization" or (
            name == b"cookie" and b"naap_auth_token=" in value
        ):
            return True
    return False


@dataclass(slots=True)
class Policy:
    mode: Mode
    registry: Registry
    apq: AutomaticPersistedQueries | None  # None: APQ off (not `audit`)
    limiter: RateLimiter
    _logged: set[str] | None = None

    @property
    def enforcing(self) -> bool:
        return self.mode == "enforce-anonymous"

    def extension(self) -> Callable[[], SchemaExtension]:
        return lambda: PersistedOperations(self)

    def unregistered(self, query: str) -> bool:
        """Whether `audit` counts anonymous requests of this text."""
        return self.mode == "audit" and not self.registry.has_text(query)

    async def lookup(self, sha256: str) -> tuple[str, bool] | None:
        """(document, registered) for a known hash: the registry's operations,
        then (in `audit`) what clients registered; None when unknown."""
        operation = self.registry.get(sha256)
        if operation is not None:
            return operation.body, True
        if self.apq is not None:
            text = await self.apq.get(sha256)
            if text is not None:
                return text, False
        return None

    def audit(self, query: str) -> None:
        """Count one anonymous request of an unregistered document; log its hash
        the first time this process sees it."""
        RESULTS["unregistered"].inc()
        logged = self._logged
        if logged is None:
            logged = self._logged = set()
        digest = text_hash(query)
        if digest not in logged:
            if len(logged) >= _LOGGED_MAX:
                logged.clear()
            logged.add(digest)
            log.info("unregistered GraphQL document without a token: sha256 %s", digest)

    async def registration_allowed(self) -> RateLimited | None:
        """A registration counts against the client's `upstream` budget."""
        address = client_address.get()
        if address is None:
            return None
        try:
            await self.limiter.hit("upstream", address)
        except RateLimited as exc:
            return exc
        return None


class PersistedOperations(SchemaExtension):
    """The policy, applied to one execution before it is parsed."""

    def __init__(self, policy: Policy) -> None:
        self.policy = policy
        self._register: tuple[str, str] | None = None

    async def on_operation(self) -> AsyncIterator[None]:
        execution = self.execution_context
        request = execution.context
        if isinstance(request, Context) and request.persisted_policy:
            refusal = await self._judge(execution, request)
            if refusal is not None:
                _refuse(execution, refusal)
        yield

    async def on_execute(self) -> AsyncIterator[None]:
        # Reached only by documents that validated: those alone are registered.
        if self._register is not None and self.policy.apq is not None:
            sha256, text = self._register
            if await self.policy.apq.put(sha256, text):
                RESULTS["apq_registered"].inc()
        yield

    async def _judge(
        self, execution: ExecutionContext, request: Context
    ) -> GraphQLError | None:
        policy = self.policy
        try:
            sha256 = requested_hash(execution.operation_extensions)
        except BadExtension:
            return _error("BAD_REQUEST", PERSISTED_QUERY_SHAPE)
        query = execution.query
        if sha256 is not None:
            if policy.mode == "off":
                RESULTS["not_supported"].inc()
                return _error(
                    NOT_SUPPORTED,
                    "Persisted queries are off on this server: send the document.",
                )
            if query:
                if text_hash(query) != sha256:
                    RESULTS["hash_mismatch"].inc()
                    return _error(
                        HASH_MISMATCH,
                        "extensions.persistedQuery.sha256Hash is not the SHA-256 "
                        "of the query's text.",
                    )
                if sha256 not in policy.registry and policy.apq is not None:
                    refused = await policy.registration_allowed()
                    if refused is not None:
                        return _error(
                            refused.code,
                            refused.message,
                            retryAfter=refused.retry_after,
                        )
                    self._register = (sha256, query)
            else:
                operation = policy.registry.get(sha256)
                if operation is not None:
                    checked = policy.registry.checked(operation)
                    execution.query = operation.body
                    execution.graphql_document = checked.document
                    execution.pre_execution_errors = list(checked.errors)
                    RESULTS["operation"].inc()
                    return None
                text = await policy.apq.get(sha256) if policy.apq else None
                if text is None:
                    RESULTS["apq_miss"].inc()
                    return _error(NOT_FOUND, "PersistedQueryNotFound")
                RESULTS["apq_hit"].inc()
                execution.query = query = text
        if not query or policy.mode == "off" or policy.registry.has_text(query):
            return None
        if policy.enforcing:
            if await _verified(request):
                return None
            RESULTS["refused"].inc()
            return _error(REQUIRED, REQUIRED_MESSAGE)
        if request.credentials is None:
            policy.audit(query)
        return None


async def _verified(request: Context) -> bool:
    """Whether the request carries a developer token that verifies."""
    if request.credentials is None:
        return False
    try:
        await request.user()
    except AppError:
        return False
    return True


def _error(code: str, message: str, **extensions: Any) -> GraphQLError:
    return GraphQLError(message, extensions={"code": code, **extensions})


def _refuse(execution: ExecutionContext, error: GraphQLError) -> None:
    """Answer `error` before anything is parsed or run: a stand-in document (so
    Strawberry neither parses nor asks for a query) and the error as the one
    pre-execution error, which every transport reports as a GraphQL result."""
    name = execution.operation_name
    execution.graphql_document = DocumentNode(
        definitions=(
            OperationDefinitionNode(
                operation=OperationType.QUERY,
                name=NameNode(value=name) if name is not None else None,
                variable_definitions=(),
                directives=(),
                selection_set=SelectionSetNode(
                    selections=(
                        FieldNode(
                            name=NameNode(value="__typename"),
                            arguments=(),
                            directives=(),
                        ),
                    )
                ),
            ),
        )
    )
    execution.pre_execution_errors = [error]
