"""JavaScript arithmetic the original's numbers depend on, reproduced exactly.

Python's `round()` rounds half to even and `int()` rejects "12h"; the dashboard's
published numbers were computed with `Math.round` (half toward +infinity) and
`parseInt`, so the port uses these helpers wherever a number reaches a client.
"""

from __future__ import annotations

import math
import re

# ASCII digits only: JavaScript does not read fullwidth or other Unicode digits.
_LEADING_INT = re.compile(r"\s*([+-]?)([0-9]+)")
# More digits than any clamp needs; also keeps int() clear of Python's 4300-digit
# limit on str -> int conversion, so a 10 KB query parameter cannot raise.
_MAX_DIGITS = 12


def parse_int(text: str | None) -> int | None:
    """`parseInt(text, 10)`: leading whitespace, optional sign, leading digits.

    Returns None where JavaScript returns NaN. Very long digit runs saturate at
    ±10**12, which every caller clamps anyway.
    """
    if text is None:
        return None
    match = _LEADING_INT.match(text)
    if match is None:
        return None
    sign, digits = match.groups()
    digits = digits.lstrip("0") or "0"
    value = 10**_MAX_DIGITS if len(digits) > _MAX_DIGITS else int(digits)
    return -value if sign == "-" else value


def js_round(value: float) -> int:
    """`Math.round`: half toward +infinity (2.5 -> 3, -2.5 -> -2)."""
    return math.floor(value + 0.5)


def round_dp(value: float, places: int) -> float:
    """`Math.round(value * 10**places) / 10**places`."""
    scale = 10**places
    return float(js_round(value * scale) / scale)


def pct(fraction: float) -> float:
    """0-1 fraction to a 0-100 percentage with one decimal: `Math.round(v*1000)/10`."""
    return js_round(fraction * 1000) / 10


def locale_key(text: str) -> tuple[str, str]:
    """Sort key approximating `localeCompare` (case-insensitive first, then exact)."""
    return (text.casefold(), text)


def to_fixed(value: float, places: int) -> str:
    """`Number.prototype.toFixed` (identical except at exact binary ties)."""
    return f"{value:.{places}f}"
