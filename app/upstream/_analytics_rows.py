"""Row parsers for the job feed and the inventories of the NAAP Analytics API.

The upstream has spelt these rows' fields several ways over time (camelCase,
snake_case, Go's exported names); the first spelling present and not null wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from app.upstream._parse import (
    RowError,
    integer,
    obj,
    opt_num,
    opt_text,
    text,
    text_list,
)
from app.upstream.analytics_results import (
    JobFeedItem,
    ModelInventory,
    OrchestratorInventory,
)


def _first(row: Mapping[str, Any], *keys: str) -> Any:
    """JavaScript `a ?? b ?? c`: the first key present and not null."""
    for key in keys:
        value = row.get(key)
        if value is not None:
            return value
    return None


def _str(value: Any) -> str | None:
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _fnum(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value) if value == value and abs(value) != float("inf") else None
    if isinstance(value, str) and value.strip():
        try:
            parsed = float(value)
        except ValueError:
            return None
        return parsed if parsed == parsed and abs(parsed) != float("inf") else None
    return None


def parse_job(row: Any) -> JobFeedItem:
    """The original's JobFeedEntry mapper: many spellings, first present wins; a
    row without an id, a pipeline or a start time is dropped."""
    row = obj(row)
    job_id = _str(_first(row, "id", "stream_id", "streamId", "job_id", "jobId"))
    pipeline = _str(
        _first(
            row,
            "pipeline",
            "pipeline_slug",
            "pipeline_id",
            "pipelineSlug",
            "Pipeline",
            "pipelineId",
        )
    )
    started_at = _str(
        _first(
            row,
            "firstSeen",
            "first_seen",
            "startedAt",
            "started_at",
            "created_at",
            "CreatedAt",
        )
    )
    if job_id is None or pipeline is None or started_at is None:
        raise RowError("a job needs an id, a pipeline and a start time")
    state = _first(row, "state", "status", "State", "stream_state")
    duration = _fnum(_first(row, "durationSeconds", "duration_seconds"))
    running_for = _first(row, "runningFor", "running_for")
    return JobFeedItem(
        id=job_id,
        pipeline=pipeline,
        model=_str(_first(row, "model", "model_id", "modelId", "Model")),
        state=(state.strip().lower() if isinstance(state, str) else "") or "unknown",
        started_at=started_at,
        gateway=_str(_first(row, "gateway", "gateway_url", "gatewayHost", "Gateway")),
        orchestrator_url=_str(
            _first(
                row,
                "orchestratorUrl",
                "orchestrator_url",
                "orchestratorURL",
                "orchestrator",
            )
        ),
        input_fps=_fnum(_first(row, "inputFps", "input_fps", "InputFps")),
        output_fps=_fnum(_first(row, "outputFps", "output_fps", "OutputFps")),
        last_seen=_str(_first(row, "lastSeen", "last_seen", "updated_at", "UpdatedAt")),
        duration_seconds=duration if duration is not None and duration >= 0 else None,
        running_for=running_for if isinstance(running_for, str) else None,
    )


def parse_model_inv(row: Any) -> ModelInventory:
    row = obj(row)
    pipeline = _first(row, "pipeline", "Pipeline")
    model = _first(row, "model", "Model")
    if not isinstance(pipeline, str) or not isinstance(model, str):
        raise RowError("pipeline/model: expected strings")
    aliased = {
        "warm": _first(row, "warm_orch_count", "WarmOrchCount"),
        "slots": _first(row, "gpu_slots", "GpuSlots"),
        "fps": _first(row, "avg_fps", "AvgFPS"),
    }
    return ModelInventory(
        pipeline=pipeline,
        model=model,
        warm_orch_count=integer(aliased, "warm") if aliased["warm"] is not None else 0,
        gpu_slots=integer(aliased, "slots") if aliased["slots"] is not None else 0,
        avg_fps=opt_num(aliased, "fps"),
    )


def _parse_time(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        # Go's RFC3339Nano carries up to 9 fractional digits; Python takes 6.
        head, dot, rest = value.partition(".")
        if dot:
            digits = "".join(c for c in rest if c.isdigit())
            zone = rest[len(digits) :]
            value = f"{head}.{digits[:6]}{zone}"
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # A time without an offset is UTC (the upstream only speaks UTC); keeping every
    # value aware lets the inventories' times be compared.
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def orch_inv(offers_key: str) -> Callable[[Any], OrchestratorInventory]:
    """streaming/orchestrators lists `models`; requests/orchestrators `capabilities`."""

    def parse(row: Any) -> OrchestratorInventory:
        row = obj(row)
        gpu_count = row.get("gpu_count")
        return OrchestratorInventory(
            address=text(row, "address"),
            uri=opt_text(row, "uri"),
            offers=text_list(row, offers_key, optional=True),
            gpu_count=0 if gpu_count is None else integer(row, "gpu_count"),
            last_seen=_parse_time(row.get("last_seen")),
        )

    return parse
