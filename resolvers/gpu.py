"""`gpuCapacity`: the GPU inventory, passed through.

`timeframe` is accepted for the SDK's sake, but the upstream inventory is a fixed
24 h view, so every value shares one upstream call.
"""

from __future__ import annotations

from dataclasses import dataclass

import strawberry

from app.caching.plan import PublicField
from app.caching.snapshots import SnapshotSpec
from app.context import Context
from app.errors import unavailable_as
from app.types.dashboard import (
    GPUCapacity,
    GPUCapacityPipeline,
    GPUCapacityPipelineModel,
    GPUModelCapacity,
)


@dataclass(frozen=True, slots=True)
class NoArgs:
    """`timeframe` is accepted but unused: one snapshot for every value."""


def gpu_capacity_args(timeframe: str | None = None) -> NoArgs:
    del timeframe  # accepted, deliberately unused (see module docstring)
    return NoArgs()


async def gpu_capacity(
    info: strawberry.Info[Context, None],
    timeframe: str | None = None,
) -> GPUCapacity | None:
    capacity: GPUCapacity = await info.context.snapshot(
        GPU_CAPACITY_FIELD.spec, gpu_capacity_args(timeframe)
    )
    return capacity


async def load_gpu_capacity(ctx: Context, args: NoArgs) -> GPUCapacity:
    with unavailable_as("GPU capacity data is unavailable"):
        cap = await ctx.analytics.dashboard_gpu_capacity()
    return GPUCapacity(
        total_gpus=cap.total_gpus,
        active_gpus=cap.active_gpus,
        available_capacity=cap.available_capacity,
        models=[GPUModelCapacity(model=m.model, count=m.count) for m in cap.models],
        pipeline_gpus=[
            GPUCapacityPipeline(
                name=p.name,
                gpus=p.gpus,
                models=None
                if p.models is None
                else [
                    GPUCapacityPipelineModel(model=m.model, gpus=m.count)
                    for m in p.models
                ],
            )
            for p in cap.pipeline_gpus
        ],
    )


GPU_CAPACITY_FIELD = PublicField(
    SnapshotSpec("gpuCapacity", "dashboard", load_gpu_capacity, GPUCapacity),
    gpu_capacity_args,
)
