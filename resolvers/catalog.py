"""`pipelineCatalog`: every pipeline and its models, merged from three sources.

Sources: the model inventories (streaming + requests, with prices), the upstream's
own catalog, and the FPS list. A failed source degrades the answer (and marks it
as degraded, so it is not cached as complete); only when every source fails is
the catalog unavailable.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import UpstreamUnavailable
from app.jsmath import locale_key
from app.netmodels import NetModel, fps_by_model, network_models
from app.types.dashboard import PipelineCatalogEntry
from app.upstream.analytics import CatalogEntry


@dataclass(frozen=True, slots=True)
class NoArgs:
    """The catalog takes no arguments: one snapshot for everyone."""


def catalog_args() -> NoArgs:
    return NoArgs()


async def pipeline_catalog(
    info: strawberry.Info[Context, None],
) -> list[PipelineCatalogEntry] | None:
    catalog: list[PipelineCatalogEntry] = await info.context.snapshot(
        CATALOG_FIELD.spec, NoArgs()
    )
    return catalog


async def load_catalog(ctx: Context, args: NoArgs) -> list[PipelineCatalogEntry]:
    streaming, requests, prices, warm = await asyncio.gather(
        ctx.optional(ctx.analytics.streaming_models(), "streaming/models"),
        ctx.optional(ctx.analytics.requests_models(), "requests/models"),
        ctx.optional(ctx.analytics.dashboard_pricing(), "pricing"),
        ctx.optional(ctx.analytics.dashboard_pipeline_catalog(), "pipeline-catalog"),
    )
    if streaming is None and requests is None and warm is None:
        raise UpstreamUnavailable("Pipeline catalog is unavailable")
    models = network_models(streaming or [], requests or [], prices or [])
    fps = fps_by_model(streaming or [])
    return merge_catalog(models, warm or [], list(fps))


CATALOG_FIELD = PublicField(
    SnapshotSpec(
        "pipelineCatalog", "dashboard", load_catalog, list[PipelineCatalogEntry]
    ),
    catalog_args,
)


@dataclass(slots=True)
class _Entry:
    id: str
    name: str
    models: list[str] = field(default_factory=list)
    regions: list[str] = field(default_factory=list)


def _add_unique(target: list[str], values: list[str]) -> None:
    for value in values:
        if value not in target:
            target.append(value)


def merge_catalog(
    models: list[NetModel], warm: list[CatalogEntry], fps_keys: list[str]
) -> list[PipelineCatalogEntry]:
    warm_by_id = {entry.id: entry for entry in warm}
    entries: dict[str, _Entry] = {}

    # The stable catalog: inventory rows, seeded from the upstream catalog entry.
    for row in models:
        pipeline, model = row.pipeline.strip(), row.model.strip()
        if not pipeline or not model:
            continue
        entry = entries.get(pipeline)
        if entry is None:
            seed = warm_by_id.get(pipeline)
            entry = entries[pipeline] = _Entry(
                pipeline, seed.name if seed else pipeline
            )
            if seed is not None:
                _add_unique(entry.models, seed.models)
                _add_unique(entry.regions, seed.regions)
        _add_unique(entry.models, [model])
    for seed in warm:
        if seed.id not in entries:
            entries[seed.id] = _Entry(
                seed.id,
                seed.name,
                list(dict.fromkeys(seed.models)),
                list(dict.fromkeys(seed.regions)),
            )

    # Then pipelines known only from the performance (FPS) list.
    for key in fps_keys:
        pipeline, _, model = key.partition(":")
        pipeline, model = pipeline.strip(), model.strip()
        if not pipeline or not model:
            continue
        entry = entries.setdefault(pipeline, _Entry(pipeline, pipeline))
        _add_unique(entry.models, [model])

    return [
        PipelineCatalogEntry(
            id=e.id,
            name=e.name,
            models=sorted(e.models, key=locale_key),
            regions=sorted(e.regions, key=locale_key),
        )
        for e in sorted(entries.values(), key=lambda e: locale_key(e.id))
    ]
