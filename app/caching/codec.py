"""Snapshot values as JSON bytes and back, for a store shared through Redis.

Values are the resolvers' typed results: dataclasses (Strawberry types are
dataclasses), lists, optionals and JSON scalars. `encode` writes fields by their
Python names; `decode` rebuilds the same objects from the type alone.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from typing import Any

import orjson


def encode(value: Any) -> bytes:
    return orjson.dumps(value)


def decode(kind: Any, raw: bytes) -> Any:
    return _build(kind, orjson.loads(raw))


def _build(kind: Any, data: Any) -> Any:
    if data is None:
        return None
    origin = typing.get_origin(kind)
    if origin is list:
        (item,) = typing.get_args(kind)
        return [_build(item, element) for element in data]
    if origin is typing.Union or origin is types.UnionType:
        options = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(options) != 1:
            raise TypeError(f"cannot decode the union {kind!r}")
        return _build(options[0], data)
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        fields = _fields(kind)
        return kind(**{name: _build(fields[name], data[name]) for name in fields})
    return data  # str, int, float, bool


@functools.cache
def _fields(cls: type) -> dict[str, Any]:
    """Init fields of a dataclass with their resolved types."""
    hints = typing.get_type_hints(cls)
    return {f.name: hints[f.name] for f in dataclasses.fields(cls) if f.init}
