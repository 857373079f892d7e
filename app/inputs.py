"""Normalisation and validation of the public inputs, shared by both surfaces.

GraphQL resolvers call these on their arguments and the REST facade calls them on
query strings, so `kpi(timeframe: "500")` and `/kpi?timeframe=500` agree by
construction. Clamps never fail; identifiers and `days` fail with BadRequest.
"""

from __future__ import annotations

import re

from app.errors import BadRequest
from app.jsmath import parse_int

MIN_HOURS = 1
MAX_HOURS = 168  # the upstream's own maximum (7d)
DEFAULT_HOURS = 24

MIN_LIMIT = 1
MAX_LIMIT = 200

FEES_MIN_DAYS = 7
FEES_MAX_DAYS = 365
FEES_DEFAULT_DAYS = 180
FEES_DAYS_MESSAGE = (
    f"Invalid days: must be an integer between {FEES_MIN_DAYS} and {FEES_MAX_DAYS}"
)

_IDENT = re.compile(r"[A-Za-z0-9._:/-]{1,128}")

# The longest provider key the Developer API registers (app/developer/keystore.py);
# here, so the REST facade's documentation reads it without the database stack.
MAX_KEY_LENGTH = 4096


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(high, value))


def timeframe_hours(raw: str | None) -> int:
    """`timeframe`: leading integer like parseInt, clamped to 1-168, default 24."""
    value = parse_int(raw)
    return DEFAULT_HOURS if value is None else _clamp(value, MIN_HOURS, MAX_HOURS)


def period_hours(raw: str | None) -> int:
    """`period` / `window`: `N`, `Nh` or `Nd` (bare N = hours), clamped to 1-168 h.

    The real dashboard page sends `period=12`, the landing page `period=12h`.
    """
    text = (raw or "").strip().lower()
    multiplier = 1
    if text.endswith("d"):
        text, multiplier = text[:-1], 24
    elif text.endswith("h"):
        text = text[:-1]
    value = parse_int(text)
    if value is None:
        return DEFAULT_HOURS
    return _clamp(value * multiplier, MIN_HOURS, MAX_HOURS)


def window_hours(window: str | None, timeframe: str | None) -> int:
    """KPI takes both spellings; `timeframe` wins when both are given."""
    if timeframe is not None:
        return timeframe_hours(timeframe)
    return period_hours(window)


def format_window(hours: int) -> str:
    """formatDashboardWindow: `2d`..`7d` for whole days from 48 h, else `{h}h`."""
    if hours >= 48 and hours % 24 == 0 and 2 <= hours // 24 <= 7:
        return f"{hours // 24}d"
    return f"{hours}h"


def limit(raw: int | str | None, default: int) -> int:
    """`limit`: parseInt semantics for strings, clamped to 1-200."""
    value = parse_int(raw) if isinstance(raw, str) else raw
    return default if value is None else _clamp(value, MIN_LIMIT, MAX_LIMIT)


def identifier(raw: str | None, name: str) -> str | None:
    """`pipeline` / `model_id`: at most 128 of `[A-Za-z0-9._:/-]`; empty = absent."""
    if raw is None or raw == "":
        return None
    if not _IDENT.fullmatch(raw):
        raise BadRequest(
            f"Invalid {name}: use at most 128 characters of letters, digits "
            "and . _ : / -"
        )
    return raw


def fees_days(raw: int | None) -> int:
    """`days`: optional, default 180, else an integer 7-365."""
    if raw is None:
        return FEES_DEFAULT_DAYS
    if not FEES_MIN_DAYS <= raw <= FEES_MAX_DAYS:
        raise BadRequest(FEES_DAYS_MESSAGE)
    return raw


def fees_days_param(raw: str) -> int:
    """The REST spelling of `days`: decimal digits only (surrounding spaces ok)."""
    text = raw.strip()
    # Length check first: int() of a huge digit string is slow or raises.
    if not text.isascii() or not text.isdigit():
        raise BadRequest(FEES_DAYS_MESSAGE)
    digits = text.lstrip("0") or "0"
    if len(digits) > 3:
        raise BadRequest(FEES_DAYS_MESSAGE)
    return fees_days(int(digits))
