"""Convex document ids.

An id is ``base32(VInt(table_number) ++ internal_id[16] ++ footer[2])`` where
the footer is the little-endian Fletcher-16 of the preceding bytes XOR the
format version (0), and base32 uses Crockford's lowercase alphabet without
padding. Reproducing the format exactly means ids made here look and validate
like real ones in clients and in tools that inspect them.

The internal id is 14 random bytes followed by the big-endian count of days
since the epoch, as the reference backend makes them.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from ..errors import InvalidId

ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"
_DECODE = {ch: i for i, ch in enumerate(ALPHABET)}
ID_VERSION = 0
MIN_LENGTH = 31
MAX_LENGTH = 37


def _vint_encode(number: int) -> bytes:
    out = bytearray()
    while True:
        byte = number & 0x7F
        number >>= 7
        if number:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _vint_decode(data: bytes) -> tuple[int, int]:
    number = 0
    for i in range(min(5, len(data))):
        byte = data[i]
        number |= (byte & 0x7F) << (7 * i)
        if not byte & 0x80:
            return number, i + 1
    raise InvalidId("table number is not a valid VInt")


def _fletcher16(data: bytes) -> int:
    c0 = c1 = 0
    for byte in data:
        c0 = (c0 + byte) % 256
        c1 = (c1 + c0) % 256
    return (c1 << 8) | c0


def base32_encode(data: bytes) -> str:
    out = []
    bits = 0
    buffer = 0
    for byte in data:
        buffer = (buffer << 8) | byte
        bits += 8
        while bits >= 5:
            bits -= 5
            out.append(ALPHABET[(buffer >> bits) & 31])
    if bits:
        out.append(ALPHABET[(buffer << (5 - bits)) & 31])
    return "".join(out)


def base32_decode(text: str) -> bytes:
    out = bytearray()
    bits = 0
    buffer = 0
    for ch in text:
        value = _DECODE.get(ch)
        if value is None:
            raise InvalidId(f"invalid character {ch!r}")
        buffer = (buffer << 5) | value
        bits += 5
        if bits >= 8:
            bits -= 8
            out.append((buffer >> bits) & 0xFF)
    return bytes(out)


@dataclass(frozen=True, slots=True)
class DocumentId:
    """A decoded document id: the table's number and the 16-byte internal id."""

    table_number: int
    internal_id: bytes

    def encode(self) -> str:
        head = _vint_encode(self.table_number) + self.internal_id
        footer = _fletcher16(head) ^ ID_VERSION
        return base32_encode(head + footer.to_bytes(2, "little"))

    @classmethod
    def decode(cls, text: str) -> "DocumentId":
        """Decode an id string, refusing anything that is not canonical."""
        if not isinstance(text, str) or not MIN_LENGTH <= len(text) <= MAX_LENGTH:
            raise InvalidId("wrong length")
        raw = base32_decode(text)
        table_number, used = _vint_decode(raw)
        if table_number == 0 or table_number >= 2**32:
            raise InvalidId("table number out of range")
        if len(raw) != used + 18:
            raise InvalidId("wrong length")
        internal_id = raw[used : used + 16]
        footer = int.from_bytes(raw[used + 16 :], "little")
        if footer ^ ID_VERSION != _fletcher16(raw[: used + 16]):
            raise InvalidId("checksum mismatch")
        decoded = cls(table_number, internal_id)
        if decoded.encode() != text:
            raise InvalidId("not canonical")
        return decoded

    @classmethod
    def new(cls, table_number: int, now_s: float | None = None) -> "DocumentId":
        """A fresh random id in ``table_number``."""
        days = int((time.time() if now_s is None else now_s) // 86400)
        return cls(table_number, os.urandom(14) + days.to_bytes(2, "big"))


def try_decode(text: object) -> DocumentId | None:
    """Decode ``text`` as an id, or None if it is not one."""
    if not isinstance(text, str):
        return None
    try:
        return DocumentId.decode(text)
    except InvalidId:
        return None
