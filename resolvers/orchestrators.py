"""`orchestrators`: the orchestrator table.

The upstream's SLA rows are required. The two inventory lists (streaming and
requests orchestrators) add URIs, last-seen times, offers and inventory-only
orchestrators; either may fail without failing the table. Capabilities are split
on the first `:` (the upstream's separator), falling back to `/`.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.inputs import format_window, period_hours
from app.jsmath import js_round, locale_key, pct, round_dp
from app.types.dashboard import OrchestratorRow, PipelineModelOffer
from app.upstream.analytics import DashboardOrchestrator, OrchestratorInventory

log = logging.getLogger("naap.resolvers.orchestrators")

LIVE_VIDEO = "live-video-to-video"


@dataclass(frozen=True, slots=True)
class OrchestratorsArgs:
    hours: int


def orchestrators_args(period: str | None = None) -> OrchestratorsArgs:
    return OrchestratorsArgs(period_hours(period))


async def orchestrators(
    info: strawberry.Info[Context, None], period: str | None = None
) -> list[OrchestratorRow] | None:
    rows: list[OrchestratorRow] = await info.context.snapshot(
        ORCHESTRATORS_FIELD.spec, orchestrators_args(period)
    )
    return rows


async def load_orchestrators(
    ctx: Context, args: OrchestratorsArgs
) -> list[OrchestratorRow]:
    window = format_window(args.hours)
    with unavailable_as("Orchestrators data is unavailable"):
        rows, streaming, requests = await asyncio.gather(
            ctx.analytics.dashboard_orchestrators(window=window),
            ctx.optional(
                ctx.analytics.streaming_orchestrators(), "streaming/orchestrators"
            ),
            ctx.optional(
                ctx.analytics.requests_orchestrators(), "requests/orchestrators"
            ),
        )
    inventory = merge_inventory(streaming or [], requests or [])
    return build_rows(rows, inventory)


ORCHESTRATORS_FIELD = PublicField(
    SnapshotSpec(
        "orchestrators", "dashboard", load_orchestrators, list[OrchestratorRow]
    ),
    orchestrators_args,
)


@dataclass(slots=True)
class Inventory:
    display: str
    uris: list[str] = field(default_factory=list)
    last_seen: datetime | None = None
    offers: dict[str, list[str]] = field(default_factory=dict)


def split_streaming_offer(entry: str) -> tuple[str, str]:
    """A streaming `models[]` entry: `pipeline/model`, else a live-video model id."""
    slash = entry.find("/")
    if 0 < slash < len(entry) - 1:
        return entry[:slash], entry[slash + 1 :]
    return LIVE_VIDEO, entry


def split_capability(entry: str) -> tuple[str, str] | None:
    """A `capabilities[]` entry: `pipeline:model` (legacy: `pipeline/model`)."""
    for separator in (":", "/"):
        index = entry.find(separator)
        if 0 < index < len(entry) - 1:
            return entry[:index], entry[index + 1 :]
    return None


def merge_inventory(
    streaming: list[OrchestratorInventory], requests: list[OrchestratorInventory]
) -> dict[str, Inventory]:
    merged: dict[str, Inventory] = {}
    for rows, is_streaming in ((streaming, True), (requests, False)):
        for row in rows:
            address = row.address.strip()
            if not address:
                continue
            inv = merged.setdefault(address.lower(), Inventory(display=address))
            uri = (row.uri or "").strip()
            if uri and uri not in inv.uris:
                inv.uris.append(uri)
            if row.last_seen is not None and (
                inv.last_seen is None or row.last_seen > inv.last_seen
            ):
                inv.last_seen = row.last_seen
            for entry in row.offers:
                pair = (
                    split_streaming_offer(entry)
                    if is_streaming
                    else split_capability(entry)
                )
                if pair is None:
                    continue
                pipeline, model = pair[0].strip(), pair[1].strip()
                if pipeline and model:
                    inv.offers.setdefault(pipeline, [])
                    if model not in inv.offers[pipeline]:
                        inv.offers[pipeline].append(model)
    return merged


def _iso_ms(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    utc = moment.astimezone(UTC)
    return utc.strftime("%Y-%m-%dT%H:%M:%S.") + f"{utc.microsecond // 1000:03d}Z"


def _norm_uri(uri: str) -> str:
    return uri.strip().lower().rstrip("/")


def _offers(
    upstream: list[tuple[str, list[str]]], inventory: dict[str, list[str]]
) -> list[PipelineModelOffer]:
    grouped: dict[str, list[str]] = {}
    # The inventory's offers come sorted by pipeline, after the upstream's.
    offered = sorted(inventory.items(), key=lambda item: locale_key(item[0]))
    for pipeline, models in [*upstream, *offered]:
        target = grouped.setdefault(pipeline, [])
        target.extend(m for m in models if m not in target)
    return [
        PipelineModelOffer(pipeline_id=p, model_ids=sorted(set(ms), key=locale_key))
        for p, ms in grouped.items()
    ]


def build_rows(
    rows: list[DashboardOrchestrator], inventory: dict[str, Inventory]
) -> list[OrchestratorRow]:
    by_address: dict[str, DashboardOrchestrator] = {}
    for row in rows:
        key = row.address.strip().lower()
        if key and key not in by_address:
            by_address[key] = row
    net_only = sorted((k for k in inventory if k not in by_address), key=locale_key)

    result: list[OrchestratorRow] = []
    for key, row in by_address.items():
        inv = inventory.get(key)
        uris = list(inv.uris) if inv else []
        service = (row.service_uri or "").strip()
        if service and _norm_uri(service) not in {_norm_uri(u) for u in uris}:
            uris.append(service)
        offers = _offers(
            [(o.pipeline_id, o.model_ids) for o in row.pipeline_models],
            inv.offers if inv else {},
        )
        pipelines = list(
            dict.fromkeys([*row.pipelines, *(o.pipeline_id for o in offers)])
        )
        result.append(
            OrchestratorRow(
                address=inv.display if inv else row.address,
                uris=uris,
                last_seen=_iso_ms(inv.last_seen) if inv else None,
                known_sessions=row.known_sessions,
                success_sessions=row.success_sessions,
                success_ratio=round_dp(row.success_ratio or 0, 1),
                effective_success_rate=None
                if row.effective_success_rate is None
                else pct(row.effective_success_rate),
                no_swap_ratio=None
                if row.no_swap_ratio is None
                else pct(row.no_swap_ratio),
                sla_score=None if row.sla_score is None else js_round(row.sla_score),
                pipelines=pipelines,
                pipeline_models=offers,
                gpu_count=row.gpu_count,
            )
        )
    for key in net_only:
        inv = inventory[key]
        offers = _offers([], inv.offers)
        result.append(
            OrchestratorRow(
                address=inv.display or key,
                uris=list(inv.uris),
                last_seen=_iso_ms(inv.last_seen),
                known_sessions=0,
                success_sessions=0,
                success_ratio=0,
                effective_success_rate=None,
                no_swap_ratio=None,
                sla_score=None,
                pipelines=[o.pipeline_id for o in offers],
                pipeline_models=offers,
                gpu_count=0,
            )
        )
    listed = [r for r in result if any(u.strip() for u in r.uris)]
    if len(listed) < len(result):
        log.info("dropped %d orchestrators without a URI", len(result) - len(listed))
    return listed
