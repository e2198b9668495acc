"""How Convex shows scalar values to people (log lines, validation messages): as JavaScript does."""

from __future__ import annotations

import math
from typing import Any

from .model import Int64


def js_scalar(value: Any) -> str | None:
    """JavaScript's rendering of a null, boolean, int64 or number (``1``, ``-0``, ``NaN``, ``5n``); None otherwise."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Int64):
        return f"{int(value)}n"
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        if value == 0 and math.copysign(1, value) < 0:
            return "-0"
        return str(int(value)) if value.is_integer() and abs(value) < 1e21 else repr(value)
    if isinstance(value, int):
        return str(value)
    return None
