"""`gpuCapacity`: the GPU inventory, passed through (§3.6).

`timeframe` is accepted for the SDK's sake, but the upstream inventory is a fixed
24 h view, so every value shares one upstream call (§13 item 13).
"""

from __future__ import annotations

import strawberry

from app.context import Context
from app.errors import unavailable_as
from app.types.dashboard import (
    GPUCapacity,
    GPUCapacityPipeline,
    GPUCapacityPipelineModel,
    GPUModelCapacity,
)


async def gpu_capacity(
    info: strawberry.Info[Context, None],
    timeframe: str | None = None,
) -> GPUCapacity | None:
    del timeframe  # accepted, deliberately unused (see module docstring)
    ctx = info.context
    with unavailable_as("GPU capacity data is unavailable"):
        cap = await ctx.analytics.dashboard_gpu_capacity(bypass=ctx.bypass_cache)
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
