"""Parsing upstream JSON into typed objects: strict about shape, tolerant about rows.

A body of the wrong shape (an object where a list belongs, a missing section) is an
`UpstreamBadPayload`: the whole call failed. A single malformed row inside a good
list is dropped, logged and counted (metric `naap_upstream_dropped_rows_total`, by
endpoint), so one bad orchestrator does not blank the whole table.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from app.errors import UpstreamBadPayload
from app.metrics import UPSTREAM_DROPPED_ROWS

log = logging.getLogger("naap.upstream")

T = TypeVar("T")


class RowError(ValueError):
    """One row is malformed; the caller drops it."""


def expect_object(body: Any, what: str, upstream: str) -> Mapping[str, Any]:
    if not isinstance(body, Mapping):
        raise UpstreamBadPayload(f"{what}: expected a JSON object", upstream=upstream)
    return body


def expect_list(
    body: Any, what: str, upstream: str, *, null_is_empty: bool = False
) -> list[Any]:
    if body is None and null_is_empty:
        return []  # Go serialises an empty slice as null
    if not isinstance(body, list):
        raise UpstreamBadPayload(f"{what}: expected a JSON array", upstream=upstream)
    return body


def parse_rows(items: list[Any], parse: Callable[[Any], T], what: str) -> list[T]:
    parsed: list[T] = []
    for item in items:
        try:
            parsed.append(parse(item))
        except RowError as exc:
            UPSTREAM_DROPPED_ROWS.labels(what).inc()
            log.warning("dropped malformed row from %s: %s", what, exc)
    return parsed


def obj(value: Any, field: str = "row") -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise RowError(f"{field}: expected an object")
    return value


def num(row: Mapping[str, Any], key: str) -> float:
    value = row.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise RowError(f"{key}: expected a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise RowError(f"{key}: not finite")
    return float(value)


def opt_num(row: Mapping[str, Any], key: str) -> float | None:
    return None if row.get(key) is None else num(row, key)


def integer(row: Mapping[str, Any], key: str) -> int:
    value = num(row, key)
    if not value.is_integer():
        raise RowError(f"{key}: expected an integer")
    return int(value)


def text(row: Mapping[str, Any], key: str) -> str:
    value = row.get(key)
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a string")
    return value


def opt_text(row: Mapping[str, Any], key: str) -> str | None:
    value = row.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise RowError(f"{key}: expected a string")
    return value


def text_list(row: Mapping[str, Any], key: str, *, optional: bool = False) -> list[str]:
    value = row.get(key)
    if value is None and optional:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RowError(f"{key}: expected a list of strings")
    return list(value)


def strict_number(value: Any) -> float | None:
    """JavaScript `Number(value)` where NaN matters: None for anything non-numeric."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str) and value.strip():
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def to_number(value: Any) -> float:
    """The original's `toNumber`: numbers and numeric strings; anything else is 0."""
    if isinstance(value, bool):
        return 0.0
    if isinstance(value, int | float):
        return float(value) if math.isfinite(value) else 0.0
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return 0.0
        return parsed if math.isfinite(parsed) else 0.0
    return 0.0
