"""The GraphQL schema: the Query, Mutation and Subscription roots and `build_schema`.

`schema` is a default instance for `make schema` (SDL export) and tooling, built
on first access (the server builds its own with its limits).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncGenerator, Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

import orjson
import strawberry
from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import GraphQLError, GraphQLSchema
from strawberry.extensions import MaskErrors, ParserCache, SchemaExtension
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.graphql import OperationType

# Imported as modules under the package name: the Query fields below are named
# like the modules and would shadow them inside the class body.
import resolvers.ai_models
import resolvers.billing
import resolvers.catalog
import resolvers.fees
import resolvers.gpu
import resolvers.jobs
import resolvers.keys
import resolvers.kpi
import resolvers.network_models
import resolvers.oauth
import resolvers.orchestrators
import resolvers.pipelines
import resolvers.pricing
import resolvers.projects
import resolvers.protocol
import resolvers.usage
from app.caching.plan import PublicField
from app.errors import AppError
from app.types.dashboard import (
    KPI,
    FeesInfo,
    GPUCapacity,
    JobFeed,
    NetworkModels,
    OrchestratorRow,
    PipelineCatalogEntry,
    PipelinePricing,
    PipelinesOverview,
    PipelineUsage,
    Protocol,
)
from app.types.developer import (
    AIModel,
    AIModelList,
    ApiKey,
    ApiKeyPage,
    BillingProviderType,
    CreateApiKeyPayload,
    CreateProjectPayload,
    Project,
    ProviderLoginResult,
    ProviderLoginStart,
    RevokeApiKeyPayload,
    Usage,
    UsageRecord,
)
from app.types.live import JobFeedEvent


@strawberry.type
class Query:
    kpi: KPI | None = strawberry.field(
        resolver=resolvers.kpi.kpi,
        description="KPI tiles and hourly charts. `timeframe` (hours, 1-168) wins "
        "over `window` (`N`, `Nh` or `Nd`); default 24 h.",
    )
    protocol: Protocol | None = strawberry.field(
        resolver=resolvers.protocol.protocol,
        description="Round progress and total stake.",
    )
    fees: FeesInfo | None = strawberry.field(
        resolver=resolvers.fees.fees,
        description="Fee volume history; `days` 7-365, default 180.",
    )
    pipelines: list[PipelineUsage] | None = strawberry.field(
        resolver=resolvers.pipelines.pipelines,
        description="Pipeline usage rows (`limit` 1-200, default 5).",
    )
    pipelines_overview: PipelinesOverview | None = strawberry.field(
        resolver=resolvers.pipelines.pipelines_overview,
        description="Pipeline usage plus AI-batch/BYOC job totals (the REST body).",
    )
    pipeline_catalog: list[PipelineCatalogEntry] | None = strawberry.field(
        resolver=resolvers.catalog.pipeline_catalog
    )
    gpu_capacity: GPUCapacity | None = strawberry.field(
        resolver=resolvers.gpu.gpu_capacity
    )
    pricing: list[PipelinePricing] | None = strawberry.field(
        resolver=resolvers.pricing.pricing
    )
    orchestrators: list[OrchestratorRow] | None = strawberry.field(
        resolver=resolvers.orchestrators.orchestrators,
        description="`period`: `N`, `Nh` or `Nd` (bare N = hours), 1-168 h; "
        "default 24h.",
    )
    job_feed: JobFeed | None = strawberry.field(
        resolver=resolvers.jobs.job_feed,
        description="Live streams, most recently active first.",
    )
    network_models: NetworkModels | None = strawberry.field(
        resolver=resolvers.network_models.network_models,
        description="Pipeline/model pairs with capacity and prices. Public.",
    )

    # --- Developer API ------------------------------------------------------------
    billing_providers: list[BillingProviderType] = strawberry.field(
        resolver=resolvers.billing.billing_providers,
        description="Enabled billing providers. Public.",
    )
    api_keys: ApiKeyPage = strawberry.field(
        resolver=resolvers.keys.api_keys,
        description="Your keys, newest first (`page` from 1, `pageSize` 1-100).",
    )
    api_key: ApiKey = strawberry.field(resolver=resolvers.keys.api_key)
    projects: list[Project] = strawberry.field(resolver=resolvers.projects.projects)
    models: AIModelList = strawberry.field(resolver=resolvers.ai_models.models)
    model: AIModel = strawberry.field(resolver=resolvers.ai_models.model)
    usage: Usage = strawberry.field(resolver=resolvers.usage.usage)
    provider_login_result: ProviderLoginResult = strawberry.field(
        resolver=resolvers.oauth.provider_login_result,
        description="Poll a provider login; `complete` returns the key once.",
    )


@strawberry.type
class Mutation:
    create_api_key: CreateApiKeyPayload = strawberry.field(
        resolver=resolvers.keys.create_api_key,
        description="Register a provider-issued key; the raw key is returned once.",
    )
    revoke_api_key: RevokeApiKeyPayload = strawberry.field(
        resolver=resolvers.keys.revoke_api_key
    )
    create_project: CreateProjectPayload = strawberry.field(
        resolver=resolvers.projects.create_project
    )
    start_provider_login: ProviderLoginStart = strawberry.field(
        resolver=resolvers.oauth.start_provider_login,
        description="Begin a billing provider's OAuth login (open `auth_url`).",
    )
    record_usage: UsageRecord = strawberry.field(
        resolver=resolvers.usage.record_usage,
        description="Write a usage row (metering service; needs role usage:write).",
    )


@strawberry.type
class Subscription:
    job_feed: AsyncGenerator[JobFeedEvent, None] = strawberry.subscription(
        resolver=resolvers.jobs.job_feed_events,
        description="The job feed pushed: a snapshot, then deltas and statuses "
        "(`limit` 1-200, default 50). Over graphql-transport-ws or GraphQL over SSE.",
    )


log = logging.getLogger("naap.graphql")


def _request_id(execution_context: ExecutionContext | None) -> str | None:
    context = execution_context.context if execution_context is not None else None
    request_id = getattr(context, "request_id", None)
    return request_id if isinstance(request_id, str) else None


class MaskUnexpectedErrors(MaskErrors):
    """MaskErrors whose generic error says `INTERNAL_ERROR` (so clients and the REST
    facade can tell it from a bad request) and carries the request id, which
    finds the traceback in the server log; the exception itself stays there."""

    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        request_id = _request_id(self.execution_context)
        masked.extensions = {"code": "INTERNAL_ERROR"}
        if request_id is not None:
            masked.message = f"Internal server error (request id {request_id})"
            masked.extensions["requestId"] = request_id
        return masked


# Root fields whose answers are the same for everyone: each reads one snapshot
# (app/caching), which REST rows and GraphQL queries share. A query selecting any
# other root field is private and runs uncached.
PUBLIC_FIELDS: dict[str, PublicField] = {
    "kpi": resolvers.kpi.KPI_FIELD,
    "protocol": resolvers.protocol.PROTOCOL_FIELD,
    "fees": resolvers.fees.FEES_FIELD,
    "pipelines": resolvers.pipelines.PIPELINES_FIELD,
    "pipelinesOverview": resolvers.pipelines.PIPELINES_FIELD,
    "pipelineCatalog": resolvers.catalog.CATALOG_FIELD,
    "gpuCapacity": resolvers.gpu.GPU_CAPACITY_FIELD,
    "pricing": resolvers.pricing.PRICING_FIELD,
    "orchestrators": resolvers.orchestrators.ORCHESTRATORS_FIELD,
    "networkModels": resolvers.network_models.NETWORK_MODELS_FIELD,
    "billingProviders": resolvers.billing.BILLING_PROVIDERS_FIELD,
    "jobFeed": resolvers.jobs.JOB_FEED_FIELD,
}


def graphql_schema(schema: strawberry.Schema) -> GraphQLSchema:
    """The graphql-core schema Strawberry built, for graphql-core's own functions
    (validation, argument coercion). Strawberry offers no public accessor; this is
    the one place that reads its attribute."""
    built: GraphQLSchema = schema._schema
    return built


def _should_mask(error: GraphQLError) -> bool:
    # Parse/validation errors (no original error) and our own AppErrors reach the
    # client as they are; anything else is an unexpected exception: masked here,
    # logged with its traceback by Strawberry.
    original = error.original_error
    return original is not None and not isinstance(original, AppError | GraphQLError)


# What `execute` runs: one result per request. Subscriptions go through
# `stream` (a WebSocket, or a request that accepts text/event-stream).
SINGLE_RESULT = frozenset({OperationType.QUERY, OperationType.MUTATION})


class CachedParse(ParserCache):
    """Strawberry's ParserCache, except for a document an earlier extension already
    supplied (a persisted operation, parsed once when it was registered), and a
    document that does not parse (a syntax error, past GRAPHQL_MAX_TOKENS), left
    to Strawberry's own parse, which reports it as the operation's error: raised
    from this hook, it escaped Strawberry's streaming path, and a subscription
    ended with no error at all."""

    def on_parse(self) -> Iterator[None]:
        context = self.execution_context
        if context.graphql_document is None:
            with contextlib.suppress(GraphQLError):
                context.graphql_document = self.cached_parse_document(
                    context.query, **context.parse_options
                )
        yield


class SharedEventExecution(StrawberryGraphQLCoreExecutionContext):
    """Executes a pushed event once per selection: every subscriber of the job
    feed asking for the same fields (the same parsed document, the same
    variables) gets the result the first one's execution made, instead of
    executing it again (the selection resolves the event's own fields only, the
    same for everyone). Other root values execute as usual."""

    def execute_operation(self, serially: bool | None = None) -> Any:
        executed = getattr(self.root_value, "executed", None)
        if not isinstance(executed, dict):
            return super().execute_operation(serially)
        try:
            variables = orjson.dumps(
                self.variable_values.coerced, option=orjson.OPT_SORT_KEYS
            )
        except TypeError:
            return super().execute_operation(serially)
        key = (id(self.operation), variables)
        found = executed.get(key)
        if found is not None and found[0] is self.operation:
            return found[1]
        result = super().execute_operation(serially)
        if isinstance(result, GraphQLExecutionResult) and not result.errors:
            executed[key] = (self.operation, result)
        return result


class Schema(strawberry.Schema):
    """Logs unexpected errors only, with their traceback and the request id: a 401
    or a 404 is an answer, not an incident. A subscription asked for with one
    answer expected is refused (InvalidOperationTypeError) rather than run."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        allowed = (
            SINGLE_RESULT
            if allowed_operation_types is None
            else SINGLE_RESULT.intersection(allowed_operation_types)
        )
        return await super().execute(
            query,
            variable_values,
            context_value,
            root_value,
            operation_name,
            allowed,
            operation_extensions,
        )

    def process_errors(
        self,
        errors: list[GraphQLError],
        execution_context: ExecutionContext | None = None,
    ) -> None:
        # Parse/validation errors (no original error) are the client's; their text
        # may echo its input, so they are not logged either.
        unexpected = [
            e
            for e in errors
            if e.original_error is not None
            and not isinstance(e.original_error, AppError | GraphQLError)
        ]
        request_id = _request_id(execution_context)
        for error in unexpected:
            log.error(
                "unexpected error (request id %s): %s",
                request_id,
                error.message,
                exc_info=error.original_error,
            )


def build_schema(
    extensions: Sequence[Callable[[], SchemaExtension]] = (),
) -> strawberry.Schema:
    """The schema. The server adds its validating limits extension
    (`app.graphql.limits.limits_extension`), which both surfaces then share."""
    return Schema(
        execution_context_class=SharedEventExecution,
        query=Query,
        mutation=Mutation,
        subscription=Subscription,
        extensions=[
            # Factories, as Strawberry expects; the caches live at module level.
            lambda: MaskUnexpectedErrors(should_mask_error=_should_mask),
            lambda: CachedParse(maxsize=256),
            *extensions,
        ],
    )


if TYPE_CHECKING:
    schema: strawberry.Schema


def __getattr__(name: str) -> strawberry.Schema:
    """`schema`, built on first access (PEP 562), not at import: a server would
    build it for nothing."""
    if name != "schema":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    global schema
    schema = build_schema()
    return schema
