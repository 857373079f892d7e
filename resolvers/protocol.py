"""`protocol`: round progress and stake from the subgraph plus the L1 block."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.types.dashboard import Protocol


@dataclass(frozen=True, slots=True)
class NoArgs:
    """The protocol strip takes no arguments: one snapshot for everyone."""


def protocol_args() -> NoArgs:
    return NoArgs()


async def protocol(info: strawberry.Info[Context, None]) -> Protocol | None:
    value: Protocol = await info.context.snapshot(PROTOCOL_FIELD.spec, NoArgs())
    return value


async def load_protocol(ctx: Context, args: NoArgs) -> Protocol:
    overview_call = ctx.subgraph.protocol_overview()
    block_call = _current_block(ctx)
    with unavailable_as("Protocol data is unavailable"):
        overview, block = await asyncio.gather(overview_call, block_call)
    progress = 0
    if overview.initialized and block is not None:
        progress = block - overview.start_block
    return Protocol(
        current_round=overview.current_round,
        block_progress=max(0, min(progress, overview.round_length)),
        total_blocks=overview.round_length,
        total_staked_lpt=overview.total_active_stake,
    )


async def _current_block(ctx: Context) -> int | None:
    # The L1 block only refines the progress bar; without it progress reads 0 and
    # the answer is marked degraded (short CDN lifetime).
    return await ctx.optional(ctx.l1.block_number(), "l1-rpc")


PROTOCOL_FIELD = PublicField(
    SnapshotSpec("protocol", "dashboard", load_protocol, Protocol), protocol_args
)
