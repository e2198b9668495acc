"""Order-preserving byte encoding of Convex values, and Convex's value order.

Index keys are stored in PostgreSQL as ``bytea`` and scanned as byte ranges,
so ``encode(a) < encode(b)`` must hold exactly when ``a < b`` in Convex's
order::

    missing < null < int64 < float64 < false < true < string < bytes < array < object

The layout follows the same tuple-layer idea as the reference backend (a type
tag first; strings and bytes with ``0x00`` escaped and a terminator), so every
encoding is prefix-free: no complete value's encoding is a prefix of another's.
That is what lets an index key be a plain concatenation of field encodings.

:func:`compare` is the independent, direct definition of the order; the
property test checks the encoding against it.
"""

from __future__ import annotations

import struct
from typing import Any

from .model import Int64

MISSING = object()
"""Stands for an absent field (``undefined``), which sorts before everything."""

_UNDEFINED = 0x01
_NULL = 0x03
_INT_ZERO = 0x08
_FLOAT = 0x0D
_FALSE = 0x0E
_TRUE = 0x0F
_STRING = 0x10
_BYTES = 0x11
_ARRAY = 0x12
_OBJECT = 0x15
_WIDTHS = (1, 2, 4, 8)


def _escape(raw: bytes) -> bytes:
    return raw.replace(b"\x00", b"\x00\xff") + b"\x00"


def _encode_int(number: int, out: bytearray) -> None:
    if number == 0:
        out.append(_INT_ZERO)
        return
    for i, width in enumerate(_WIDTHS):
        if number > 0 and number < 1 << (8 * width):
            out.append(_INT_ZERO + 1 + i)
            out += number.to_bytes(width, "big")
            return
        if number < 0 and number >= -(1 << (8 * width)):
            out.append(_INT_ZERO - 1 - i)
            out += (number + (1 << (8 * width))).to_bytes(width, "big")
            return
    raise ValueError(f"int64 out of range: {number}")


def _encode_float(number: float, out: bytearray) -> None:
    bits = struct.unpack(">Q", struct.pack(">d", number))[0]
    bits = bits ^ 0xFFFFFFFFFFFFFFFF if bits >> 63 else bits | (1 << 63)
    out.append(_FLOAT)
    out += bits.to_bytes(8, "big")


def _encode(value: Any, out: bytearray) -> None:
    if value is MISSING:
        out.append(_UNDEFINED)
    elif value is None:
        out.append(_NULL)
    elif value is True:
        out.append(_TRUE)
    elif value is False:
        out.append(_FALSE)
    elif isinstance(value, Int64):
        _encode_int(int(value), out)
    elif isinstance(value, (float, int)):
        _encode_float(float(value), out)
    elif isinstance(value, str):
        out.append(_STRING)
        out += _escape(value.encode("utf-8"))
    elif isinstance(value, bytes):
        out.append(_BYTES)
        out += _escape(value)
    elif isinstance(value, list):
        out.append(_ARRAY)
        for item in value:
            _encode(item, out)
        out.append(0)
    elif isinstance(value, dict):
        out.append(_OBJECT)
        for key in sorted(value):
            out += _escape(key.encode("ascii"))
            if not key:
                out.append(0xFF)
            _encode(value[key], out)
        out.append(0)
    else:
        raise TypeError(f"cannot encode {type(value).__name__} in a sort key")


def encode(value: Any) -> bytes:
    """The sort key of one value."""
    out = bytearray()
    _encode(value, out)
    return bytes(out)


def encode_tuple(values: list[Any]) -> bytes:
    """The concatenated sort keys of several values (an index key's field part)."""
    out = bytearray()
    for value in values:
        _encode(value, out)
    return bytes(out)


# --- the direct definition of the order ---------------------------------------------


def _rank(value: Any) -> int:
    if value is MISSING:
        return 0
    if value is None:
        return 1
    if isinstance(value, bool):
        return 4
    if isinstance(value, Int64):
        return 2
    if isinstance(value, (int, float)):
        return 3
    if isinstance(value, str):
        return 5
    if isinstance(value, bytes):
        return 6
    if isinstance(value, list):
        return 7
    if isinstance(value, dict):
        return 8
    raise TypeError(f"not a Convex value: {type(value).__name__}")


def _float_total_key(number: float) -> int:
    bits = struct.unpack(">q", struct.pack(">d", number))[0]
    return bits ^ 0x7FFFFFFFFFFFFFFF if bits < 0 else bits


def _cmp(a: Any, b: Any) -> int:
    return (a > b) - (a < b)


def compare(a: Any, b: Any) -> int:
    """Compare two Convex values in Convex's total order: -1, 0 or 1."""
    rank_a, rank_b = _rank(a), _rank(b)
    if rank_a != rank_b:
        return _cmp(rank_a, rank_b)
    if rank_a == 2 or rank_a == 4:
        return _cmp(int(a), int(b))
    if rank_a == 3:
        return _cmp(_float_total_key(float(a)), _float_total_key(float(b)))
    if rank_a == 5:
        return _cmp(a.encode("utf-8"), b.encode("utf-8"))
    if rank_a == 6:
        return _cmp(a, b)
    if rank_a == 7:
        for x, y in zip(a, b):
            result = compare(x, y)
            if result:
                return result
        return _cmp(len(a), len(b))
    if rank_a == 8:
        keys_a, keys_b = sorted(a), sorted(b)
        for key_a, key_b in zip(keys_a, keys_b):
            if key_a != key_b:
                return _cmp(key_a, key_b)
            result = compare(a[key_a], b[key_b])
            if result:
                return result
        return _cmp(len(keys_a), len(keys_b))
    return 0


def successor(key: bytes) -> bytes | None:
    """The smallest byte string greater than every string that starts with ``key``.

    None means "no upper bound" (``key`` is empty or all ``0xff``).
    """
    trimmed = key.rstrip(b"\xff")
    if not trimmed:
        return None
    return trimmed[:-1] + bytes([trimmed[-1] + 1])
