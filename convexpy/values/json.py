"""Convex values to and from JSON.

Three output formats exist (``format`` in a request): the lossless *encoded*
form every official client asks for, the lossy *clean* form (``json``), and
``export_json``. Input is always the encoded form.

Encoded form: int64 as ``{"$integer": b64(LE i64)}``, NaN/Inf/-0 as
``{"$float": b64(LE f64)}``, bytes as ``{"$bytes": b64}``; every float64 is
written with a decimal point or exponent, because the Python client refuses
a bare JSON integer.
"""

from __future__ import annotations

import base64
import math
import struct
from typing import Any, Callable

import orjson

from ..errors import InvalidValueError, ValueTooNested
from .model import MAX_VALUE_NESTING, Int64, check_field_name, is_special_float

ENCODED = "convex_encoded_json"
CLEAN = "json"
EXPORT = "export_json"
_FORMAT_ALIASES = {
    "convex_encoded_json": ENCODED,
    "convex_json": ENCODED,
    "json": CLEAN,
    "convex_clean_json": CLEAN,
    "export_json": EXPORT,
}


def parse_format(name: str | None, default: str = ENCODED) -> str | None:
    """Canonical output format for a request's ``format`` field, or None if unknown."""
    if name is None:
        return default
    return _FORMAT_ALIASES.get(name)


# --- decoding -----------------------------------------------------------------------


def _b64(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise InvalidValueError(f"{what} must be a base64 string")
    try:
        return base64.b64decode(text, validate=True)
    except ValueError as exc:
        raise InvalidValueError(f"{what} is not valid base64: {exc}") from None


def from_json(value: Any, depth: int = 0) -> Any:
    """Decode a parsed encoded-JSON value into a Python Convex value.

    Nesting is checked on the way down (containers at depth 64 and beyond are refused, as Convex
    refuses values nested more than 64 levels), so hostile input costs no deep recursion.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, (list, dict)) and depth >= MAX_VALUE_NESTING:
        raise ValueTooNested(f"Value is too nested (nested {depth + 1} levels deep > maximum nesting {MAX_VALUE_NESTING})")
    if isinstance(value, list):
        return [from_json(item, depth + 1) for item in value]
    if isinstance(value, dict):
        if len(value) == 1:
            (key, inner), = value.items()
            if key == "$integer":
                raw = _b64(inner, "$integer")
                if len(raw) != 8:
                    raise InvalidValueError("Int64 must be exactly eight bytes")
                return Int64(struct.unpack("<q", raw)[0])
            if key == "$float":
                raw = _b64(inner, "$float")
                if len(raw) != 8:
                    raise InvalidValueError("Float64 must be exactly eight bytes")
                number = struct.unpack("<d", raw)[0]
                if not is_special_float(number) and number != 0.0:
                    raise InvalidValueError(f"Float64 {number} should be encoded as a number")
                return number
            if key == "$bytes":
                return _b64(inner, "$bytes")
        out = {}
        for key, item in value.items():
            check_field_name(key)
            out[key] = from_json(item, depth + 1)
        return out
    raise InvalidValueError(f"Unexpected JSON value {value!r}")


def loads(data: bytes | str) -> Any:
    """Parse encoded JSON text into a Python Convex value."""
    return from_json(orjson.loads(data))


def _from_trusted(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return from_json(value)
        return {key: _from_trusted(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_from_trusted(item) for item in value]
    if isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def loads_stored(data: bytes) -> Any:
    """Decode a document convexpy wrote itself: same result as :func:`loads`, without re-checking
    field names that were checked when it was written (the read path's hot loop).

    convexpy writes numbers as floats (``1.0``) and every other special value as a ``{"$...": ...}``
    object, so text without ``"$`` parses straight into the right values.
    """
    if b'"$' not in data:
        return orjson.loads(data)
    return _from_trusted(orjson.loads(data))


# --- encoding -----------------------------------------------------------------------


def _b64s(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _encode_fields(value: dict[str, Any], encode: Callable[[Any], Any]) -> dict[str, Any]:
    """An object's fields through ``encode``, except strings and ordinary finite floats, which are
    the same in every encoding and are most fields of most documents (no call for them)."""
    out = {}
    for key, item in value.items():
        kind = type(item)
        if kind is str or (kind is float and item - item == 0.0 and item != 0.0):
            out[key] = item
        else:
            out[key] = encode(item)
    return out


def to_json(value: Any) -> Any:
    """Encode a Python Convex value into JSON-ready encoded form."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict:
        return _encode_fields(value, to_json)
    if kind is float and not is_special_float(value):
        return value
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Int64):
        return {"$integer": _b64s(struct.pack("<q", value))}
    if isinstance(value, float):
        if is_special_float(value):
            return {"$float": _b64s(struct.pack("<d", value))}
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, bytes):
        return {"$bytes": _b64s(value)}
    if isinstance(value, (list, tuple)):
        return [to_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_json(item) for key, item in value.items()}
    raise InvalidValueError(f"{type(value).__name__} is not a supported Convex type")


def to_clean_json(value: Any) -> Any:
    """Encode for ``format: json``: lossy but plain (int64 as decimal strings, bytes as base64)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict:
        return _encode_fields(value, to_clean_json)
    if kind is float and not is_special_float(value):
        return value
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, Int64):
        return str(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, bytes):
        return _b64s(value)
    if isinstance(value, (list, tuple)):
        return [to_clean_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_clean_json(item) for key, item in value.items()}
    raise InvalidValueError(f"{type(value).__name__} is not a supported Convex type")


def to_export_json(value: Any) -> Any:
    """Encode for ``format: export_json``: int64 as JSON integers, special floats and bytes encoded."""
    if isinstance(value, Int64):
        return int(value)
    if isinstance(value, (list, tuple)):
        return [to_export_json(item) for item in value]
    if isinstance(value, dict):
        return {key: to_export_json(item) for key, item in value.items()}
    return to_json(value)


ENCODERS: dict[str, Callable[[Any], Any]] = {ENCODED: to_json, CLEAN: to_clean_json, EXPORT: to_export_json}


def dumps(value: Any) -> bytes:
    """Serialize a Python Convex value as encoded JSON bytes with sorted keys."""
    return orjson.dumps(to_json(value), option=orjson.OPT_SORT_KEYS)
