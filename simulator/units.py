"""The units the world model counts in.

Time is integer microseconds since the Unix epoch, so bucketing never depends on
float rounding; timestamps leave as Go's RFC 3339 layouts. `JSON` is the object
type the payload builders return.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, Final

JSON = dict[str, Any]

_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
SECOND_US: Final = 1_000_000
HOUR_US: Final = 3600 * SECOND_US
DAY_US: Final = 24 * HOUR_US


def epoch_us(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * SECOND_US + delta.microseconds


def from_epoch_us(value: int) -> datetime:
    return _EPOCH + timedelta(microseconds=value)


def rfc3339(value_us: int) -> str:
    """Go's time.RFC3339 layout: whole seconds, `Z`."""
    return from_epoch_us(value_us).strftime("%Y-%m-%dT%H:%M:%SZ")


def rfc3339_nano(value_us: int) -> str:
    """Go's time.RFC3339Nano layout: fractional seconds with trailing zeros cut."""
    moment = from_epoch_us(value_us)
    fraction = f".{moment.microsecond:06d}".rstrip("0").rstrip(".")
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "Z"
