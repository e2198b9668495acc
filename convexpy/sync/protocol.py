"""Wire details of the sync protocol shared by the session and the endpoint."""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass
from typing import Any

from ..errors import ProtocolError


def encode_ts(ts: int) -> str:
    """A u64 timestamp as the protocol writes it: padded standard base64 of 8 little-endian bytes."""
    return base64.b64encode(struct.pack("<Q", ts)).decode()


def decode_ts(text: Any) -> int:
    try:
        raw = base64.b64decode(text, validate=True)
    except (ValueError, TypeError):
        raise ProtocolError(f"Invalid timestamp {text!r}", fatal=True) from None
    if len(raw) != 8:
        raise ProtocolError(f"Invalid timestamp {text!r}: expected 8 bytes", fatal=True)
    return struct.unpack("<Q", raw)[0]


@dataclass(frozen=True, slots=True)
class StateVersion:
    query_set: int = 0
    identity: int = 0
    ts: int = 0

    def to_json(self) -> dict[str, Any]:
        return {"querySet": self.query_set, "identity": self.identity, "ts": encode_ts(self.ts)}


def require(message: dict, field: str, kind: type | tuple[type, ...]) -> Any:
    value = message.get(field)
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise ProtocolError(f"Received Invalid JSON on websocket: field `{field}` of {message.get('type')} is missing or has the wrong type", fatal=True)
    return value
