"""The REST route table: one row per documented JSON route. Data only.

Each row: path -> named GraphQL operation (operations/<Name>.graphql) -> how each
query parameter becomes a variable -> which part of `data` is the body -> envelope
-> Cache-Control rule. `refresh=1` / `nocache=1` work on every public row
(no-store, and the row's snapshots loaded again).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rest_facade import params as p
from rest_facade.cache_rules import (
    CacheRule,
    DashboardCache,
    JobFeedCache,
    PrivateCache,
)
from rest_facade.envelope import BARE, STANDARD, Envelope


@dataclass(frozen=True, slots=True)
class Link:
    """An OpenAPI link from a row's 200 answer to the operation that takes what it
    returns: `parameters` by name, `body` fields merged into the target's body;
    values are runtime expressions (`$response.body#/data/key/id`)."""

    operation: str  # the target's operationId
    parameters: Mapping[str, str] = field(default_factory=dict)
    body: Mapping[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class RestRoute:
    """One documented JSON route.

    `path` parameters (`{id}`) become variables of the same name; `params` map
    the query string; `body` names the variable that receives the JSON body
    (validated against its GraphQL input type first); `pick` is the dotted path of
    the body inside `data` ("" = all of it); `meta` moves one key of the picked
    data into the envelope's `meta` (pagination). `path_params` documents what each
    path parameter accepts (default: one URL segment); `links` lead from the 200 answer
    to the rows that take its ids.
    """

    path: str
    operation: str
    pick: str
    params: Mapping[str, p.Param] = field(default_factory=dict)
    envelope: Envelope = BARE
    cache: CacheRule = field(default_factory=DashboardCache)
    methods: tuple[str, ...] = ("GET",)
    body: str | None = None
    meta: str | None = None
    summary: str = ""
    auth: bool = False  # documentation only: the resolvers enforce it
    # Documentation only: error statuses beyond those the OpenAPI generator derives
    # from the row (400 for input, 401 for auth, 403 for authenticated writes, 429,
    # 503 for shared reads of upstream data).
    errors: tuple[int, ...] = ()
    path_params: Mapping[str, p.JsonSchema | p.Enumerated] = field(default_factory=dict)
    links: tuple[Link, ...] = ()


# The job feed pushed as server-sent events: a row of the plain-route table
# (rest_facade/plain.py), named here because its errors are the dashboard's.
JOB_FEED_STREAM = "/api/v1/dashboard/job-feed/stream"

_PRIVATE = PrivateCache()
_TIMEFRAME = p.Param("timeframe", p.timeframe, "Window in hours.")
_NEW_KEY = "$response.body#/data/key/id"

ROUTES: tuple[RestRoute, ...] = (
    RestRoute(
        "/api/v1/dashboard/kpi",
        "DashboardKPI",
        pick="kpi",
        params={
            "timeframe": _TIMEFRAME,
            "pipeline": p.Param("pipeline", p.identifier("pipeline")),
            "model_id": p.Param("model_id", p.identifier("model_id")),
        },
        summary="KPI tiles and hourly usage charts",
    ),
    RestRoute(
        "/api/v1/dashboard/pipelines",
        "DashboardPipelines",
        pick="pipelinesOverview",
        params={"timeframe": _TIMEFRAME, "limit": p.Param("limit", p.limit(5))},
        summary="Pipeline usage table",
    ),
    RestRoute(
        "/api/v1/dashboard/pipeline-catalog",
        "DashboardPipelineCatalog",
        pick="pipelineCatalog",
        summary="Pipeline / model catalog",
    ),
    RestRoute(
        "/api/v1/dashboard/orchestrators",
        "DashboardOrchestrators",
        pick="orchestrators",
        params={"period": p.Param("period", p.period, "The window.")},
        summary="Orchestrator table",
    ),
    RestRoute(
        "/api/v1/dashboard/protocol",
        "DashboardProtocol",
        pick="protocol",
        summary="Protocol stats strip",
    ),
    RestRoute(
        "/api/v1/dashboard/gpu-capacity",
        "DashboardGPUCapacity",
        pick="gpuCapacity",
        # The upstream inventory is a fixed 24 h view: accepted, unused.
        params={"timeframe": p.Param("timeframe", p.ignored)},
        summary="GPU capacity",
    ),
    RestRoute(
        "/api/v1/dashboard/pricing",
        "DashboardPricing",
        pick="pricing",
        summary="Per-pipeline pricing and capacity hints",
    ),
    RestRoute(
        "/api/v1/dashboard/fees",
        "DashboardFees",
        pick="fees",
        params={"days": p.Param("days", p.days, "Days of history (default 180).")},
        summary="Fees / volume chart",
    ),
    RestRoute(
        "/api/v1/dashboard/job-feed",
        "DashboardJobFeed",
        pick="jobFeed",
        params={
            "pollMs": p.Param("pollMs", p.poll_ms, "The client's poll interval in ms.")
        },
        cache=JobFeedCache(),
        summary="Live job list (max-age follows pollMs)",
    ),
    # --- Developer API -------------------------------------------------------------
    RestRoute(
        "/api/v1/billing-providers",
        "BillingProviders",
        pick="",
        envelope=STANDARD,
        summary="Enabled billing providers (public)",
        links=(
            # A key of this provider, in the user's default project.
            Link(
                "CreateApiKey",
                body={
                    "billingProviderId": "$response.body#/data/providers/0/id",
                    "projectId": None,
                },
            ),
        ),
    ),
    RestRoute(
        "/api/v1/developer/keys",
        "ApiKeys",
        pick="apiKeys",
        meta="pageInfo",
        params={
            "page": p.Param("page", p.page_number(1), "Page number, from 1."),
            "pageSize": p.Param(
                "pageSize", p.page_number(20, maximum=100), "Keys per page."
            ),
        },
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Your API keys, newest first",
    ),
    RestRoute(
        "/api/v1/developer/keys",
        "CreateApiKey",
        pick="createApiKey",
        body="input",
        methods=("POST",),
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        errors=(409,),  # the same raw key twice
        summary="Register a provider-issued key (the raw key is returned once)",
        links=(
            Link("ApiKey", {"id": _NEW_KEY}),
            Link("RevokeApiKey", {"id": _NEW_KEY}),
        ),
    ),
    RestRoute(
        "/api/v1/developer/keys/{id}",
        "ApiKey",
        pick="",
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="One of your keys",
        errors=(404,),
    ),
    RestRoute(
        "/api/v1/developer/keys/{id}",
        "RevokeApiKey",
        pick="revokeApiKey",
        methods=("DELETE",),
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Revoke a key (idempotent: the first revokedAt stays; the key stays "
        "readable, with status REVOKED)",
        errors=(404,),
    ),
    RestRoute(
        "/api/v1/developer/projects",
        "Projects",
        pick="",
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Your projects with key counts",
    ),
    RestRoute(
        "/api/v1/developer/projects",
        "CreateProject",
        pick="createProject",
        body="input",
        methods=("POST",),
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Create a project",
        links=(
            Link("CreateApiKey", body={"projectId": "$response.body#/data/project/id"}),
        ),
    ),
    RestRoute(
        "/api/v1/developer/models",
        "Models",
        pick="models",
        params={
            "type": p.Param("type", p.text("type", 32), "Only models of this type."),
            "featured": p.Param("featured", p.true_only),
            "realtime": p.Param("realtime", p.true_only),
        },
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="AI models",
        links=(Link("Model", {"id": "$response.body#/data/models/0/id"}),),
    ),
    RestRoute(
        "/api/v1/developer/models/{id}",
        "Model",
        pick="",
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="One AI model",
        errors=(404,),
    ),
    RestRoute(
        "/api/v1/developer/network-models",
        "NetworkModels",
        pick="networkModels",
        params={"limit": p.Param("limit", p.network_limit, "How many models.")},
        summary="Models on the network with capacity and prices (public)",
    ),
    RestRoute(
        "/api/v1/developer/usage",
        "Usage",
        pick="usage",
        params={
            "from": p.Param("from", p.date_bound("from"), "First day, inclusive."),
            "to": p.Param("to", p.date_bound("to"), "Last day, inclusive."),
        },
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Usage totals, per key and per day",
    ),
    RestRoute(
        "/api/v1/auth/providers/{slug}/start",
        "StartProviderLogin",
        pick="startProviderLogin",
        methods=("POST",),
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Begin a billing provider login (then open auth_url)",
        path_params={"slug": p.PROVIDER_SLUG},
        links=(
            Link(
                "ProviderLoginResult",
                {
                    "slug": "$request.path.slug",
                    "login_session_id": "$response.body#/data/login_session_id",
                },
            ),
            Link(
                "getAuthProvidersSlugRedirect",
                {
                    "slug": "$request.path.slug",
                    "login_session_id": "$response.body#/data/login_session_id",
                },
            ),
        ),
    ),
    RestRoute(
        "/api/v1/auth/providers/{slug}/result",
        "ProviderLoginResult",
        pick="providerLoginResult",
        params={
            "login_session_id": p.Param(
                "login_session_id",
                p.session_id,
                "From the login's start.",
                required=True,
            )
        },
        envelope=STANDARD,
        cache=_PRIVATE,
        auth=True,
        summary="Poll a provider login; `complete` carries the key once",
        errors=(403,),  # a session of another user or provider
    ),
)
