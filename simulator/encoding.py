"""JSON encoded the way Go's encoding/json does it: compact, HTML characters
escaped, integral floats without `.0`, shortest round-trip digits, and the
newline json.Encoder appends, so clients meet the real upstream's byte shapes."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Final

from starlette.responses import Response

JSON_TYPE: Final = "application/json"
PROBLEM_TYPE: Final = "application/problem+json"

_GO_HTML_ESCAPES: Final = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026"}


def _go_float(value: float) -> str:
    """strconv.FormatFloat as encoding/json uses it: shortest round-trip digits,
    positional unless the magnitude is below 1e-6 or at least 1e21."""
    if not math.isfinite(value):
        raise ValueError(f"JSON cannot encode {value!r}")
    if value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    text = repr(value)
    if 1e-6 <= abs(value) < 1e21 and "e" in text:
        return format(Decimal(text), "f")  # Python switches to exponents earlier
    return re.sub(r"e-0(\d)$", r"e-\g<1>", text)  # Go prints e-7, not e-07


def _go_json(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
        return re.sub("[<>&]", lambda m: _GO_HTML_ESCAPES[m.group()], text)
    if isinstance(value, Mapping):
        fields = (f"{_go_json(str(k))}:{_go_json(v)}" for k, v in value.items())
        return "{" + ",".join(fields) + "}"
    if isinstance(value, Sequence):
        return "[" + ",".join(_go_json(item) for item in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def encode_json(value: Any) -> bytes:
    """Go's json.Encoder output: compact, newline-terminated."""
    return (_go_json(value) + "\n").encode()


def json_response(
    value: Any, status: int = 200, media_type: str = JSON_TYPE
) -> Response:
    return Response(encode_json(value), status_code=status, media_type=media_type)
