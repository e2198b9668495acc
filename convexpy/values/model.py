"""The Convex value model as Python objects.

Convex has nine value types. In Python they are:

=========  ==========================================================
Convex     Python
=========  ==========================================================
null       ``None``
int64      :class:`Int64` (an ``int`` subclass, so arithmetic just works)
float64    ``float``; a plain ``int`` is a float64 too, as in the official
           Python client, and must then fit in +/- 2**53
boolean    ``bool``
string     ``str``
bytes      ``bytes``
array      ``list`` (tuples are accepted on the way in)
object     ``dict`` with ``str`` keys
=========  ==========================================================

This module checks the structural limits that the reference backend enforces
(field names, array length, field count, nesting, size) with its messages.
"""

from __future__ import annotations

import math
from typing import Any

from ..errors import InvalidValueError, ValueTooNested

MIN_INT64 = -(2**63)
MAX_INT64 = 2**63 - 1
MAX_SAFE_INTEGER = 2**53 - 1

MAX_ARRAY_LENGTH = 8192
MAX_OBJECT_FIELDS = 1024
MAX_VALUE_NESTING = 64
MAX_DOCUMENT_NESTING = 16
MAX_FIELD_NAME_BYTES = 1024
MAX_VALUE_SIZE = 32 * 1024 * 1024
MAX_DOCUMENT_SIZE = 1024 * 1024


class Int64(int):
    """A Convex int64. Plain Python ints are float64 numbers, as in the Python client."""

    __slots__ = ()

    def __new__(cls, value: int = 0) -> "Int64":
        value = int(value)
        if not MIN_INT64 <= value <= MAX_INT64:
            raise InvalidValueError(f"Int64 {value} is outside the range of a 64-bit signed integer")
        return super().__new__(cls, value)

    def __repr__(self) -> str:
        return f"Int64({int(self)})"


def type_name(value: Any) -> str:
    """The Convex type name of a Python value, as error messages spell it."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, Int64):
        return "bigint"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, (list, tuple)):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def check_field_name(name: Any) -> None:
    """Refuse object keys that Convex refuses: non-strings, non-ASCII, ``$``-prefixed, too long."""
    if not isinstance(name, str):
        raise InvalidValueError(f"Object field names must be strings, got {type(name).__name__} {name!r}")
    if len(name) > MAX_FIELD_NAME_BYTES:
        raise InvalidValueError(
            f"Field name {name[:64]!r}... is too long ({len(name)} > maximum length {MAX_FIELD_NAME_BYTES})"
        )
    if name.startswith("$"):
        raise InvalidValueError(f"Field name {name} starts with a '$', which is reserved.")
    if not (name.isascii() and name.isprintable()):  # printable ASCII is exactly 0x20-0x7E
        bad = next(ch for ch in name if not " " <= ch <= "~")
        raise InvalidValueError(f"Field name {name} has invalid character {bad!r}: Field names can only contain non-control ASCII characters")


def normalize(value: Any, depth: int = 0) -> Any:
    """Check that ``value`` is a Convex value and return it in canonical Python form.

    Canonical form: tuples become lists, ``bytearray``/``memoryview`` become
    ``bytes``, plain ints become floats. Raises :class:`InvalidValueError`
    naming the problem.
    """
    return normalize_sized(value, depth)[0]


_CHECKED_NAMES: set[str] = set()
"""Field names already found valid: documents repeat the same few names endlessly."""


def normalize_sized(value: Any, depth: int = 0) -> tuple[Any, int]:
    """:func:`normalize` and :func:`size_of` in one walk (the return path of every function).

    Exact-type checks for the common JSON-like types come first: a page of
    documents is hundreds of thousands of calls.
    """
    kind = type(value)
    if kind is str:
        return value, 2 + (len(value) if value.isascii() else len(value.encode("utf-8")))
    if kind is float:
        return value, 9
    if depth >= MAX_VALUE_NESTING and isinstance(value, (dict, list, tuple)):
        # A container here is the 65th level: one more than Convex allows.
        raise ValueTooNested(f"Value is too nested (nested {depth + 1} levels deep > maximum nesting {MAX_VALUE_NESTING})")
    if kind is dict:
        if len(value) > MAX_OBJECT_FIELDS:
            raise InvalidValueError(f"Object has too many fields ({len(value)} > maximum number {MAX_OBJECT_FIELDS})")
        out = {}
        size = 2
        for key, item in value.items():
            if key not in _CHECKED_NAMES:
                check_field_name(key)
                if len(_CHECKED_NAMES) < 100_000:
                    _CHECKED_NAMES.add(key)
            item_kind = type(item)  # strings and numbers inline: most fields of most documents
            if item_kind is str:
                out[key] = item
                size += len(key) + 3 + (len(item) if item.isascii() else len(item.encode("utf-8")))
            elif item_kind is float:
                out[key] = item
                size += len(key) + 10
            else:
                out[key], item_size = normalize_sized(item, depth + 1)
                size += len(key) + 1 + item_size
        return out, size
    if value is None or kind is bool:
        return value, 1
    return _normalize_other(value, depth)


def _normalize_other(value: Any, depth: int) -> tuple[Any, int]:
    if isinstance(value, Int64):
        return value, 9
    if isinstance(value, str):
        return str(value), 2 + len(value.encode("utf-8"))
    if isinstance(value, float):
        return float(value), 9
    if isinstance(value, dict):
        return normalize_sized(dict(value), depth)
    if isinstance(value, (list, tuple)):
        if len(value) > MAX_ARRAY_LENGTH:
            raise InvalidValueError(f"Array length is too long ({len(value)} > maximum length {MAX_ARRAY_LENGTH})")
        items = []
        size = 2
        for item in value:
            normalized, item_size = normalize_sized(item, depth + 1)
            items.append(normalized)
            size += item_size
        return items, size
    if isinstance(value, bool):
        return bool(value), 1
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise InvalidValueError(
                f"Integer {value} is outside the range of a Convex number (+/- 2^53); wrap it in Int64 to store a 64-bit integer"
            )
        return float(value), 9
    if isinstance(value, (bytes, bytearray, memoryview)):
        return bytes(value), 2 + len(value)
    raise InvalidValueError(f"{type(value).__name__} {value!r} is not a supported Convex type")


def copy_value(value: Any) -> Any:
    """A deep copy of a canonical value: its containers are new, its scalars are immutable anyway.

    Every document handed to user code is such a copy, so editing it in place can never change
    what the transaction holds (the stored revision, or a write it has not committed yet).
    """
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _IMMUTABLE else copy_value(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _IMMUTABLE else copy_value(item) for item in value]
    return value


_IMMUTABLE = frozenset((str, float, bool, type(None), bytes, Int64))


def size_of(value: Any) -> int:
    """The size of a value in bytes, measured as Convex measures it (``getConvexSize``)."""
    if value is None or isinstance(value, bool):
        return 1
    if isinstance(value, (int, float)):
        return 9
    if isinstance(value, str):
        return 2 + len(value.encode("utf-8"))
    if isinstance(value, bytes):
        return 2 + len(value)
    if isinstance(value, list):
        return 2 + sum(size_of(item) for item in value)
    if isinstance(value, dict):
        return 2 + sum(len(key) + 1 + size_of(item) for key, item in value.items())
    raise InvalidValueError(f"{type(value).__name__} is not a supported Convex type")


def nesting_of(value: Any) -> int:
    """Nesting depth: scalars are 0, an array or object is one more than its deepest child."""
    if isinstance(value, list):
        return 1 + max((nesting_of(item) for item in value), default=0)
    if isinstance(value, dict):
        return 1 + max((nesting_of(item) for item in value.values()), default=0)
    return 0


def is_special_float(value: float) -> bool:
    """True for the floats that JSON numbers cannot carry: NaN, +/-Infinity and -0.0."""
    # x - x is NaN exactly for NaN and the infinities: one operation on the hot path of finite numbers.
    return value - value != 0.0 or (value == 0.0 and math.copysign(1.0, value) < 0)


def format_size(size: int) -> str:
    """Render a byte count the way the reference backend's limit messages do."""
    if size % (1024 * 1024) == 0:
        return f"{size // (1024 * 1024)} MiB"
    if size >= 1024 * 1024:
        return f"{size / (1024 * 1024):.2f} MiB"
    if size >= 1024:
        return f"{size / 1024:.2f} KiB"
    return f"{size} B"
