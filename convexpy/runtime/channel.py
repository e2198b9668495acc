"""Frames between the host and a runner process: a 4-byte big-endian length, then one JSON object.

Both ends speak it over the runner's stdin and stdout. The runner runs one
function at a time, so its side is blocking; the host's side is asyncio.
"""

from __future__ import annotations

import asyncio
import struct
from typing import Any, BinaryIO

import orjson

MAX_FRAME = 64 * 1024 * 1024
"""Larger than any argument, document or result the limits allow."""


class ChannelClosed(Exception):
    """The other end went away (a runner that exited or was killed)."""


def encode(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    return struct.pack(">I", len(body)) + body


def _decode_length(header: bytes) -> int:
    (length,) = struct.unpack(">I", header)
    if length > MAX_FRAME:
        raise ChannelClosed(f"frame of {length} bytes is larger than {MAX_FRAME}")
    return length


class BlockingChannel:
    """The runner's end."""

    def __init__(self, reader: BinaryIO, writer: BinaryIO):
        self._reader = reader
        self._writer = writer

    def send(self, message: dict[str, Any]) -> None:
        self._writer.write(encode(message))
        self._writer.flush()

    def receive(self) -> dict[str, Any]:
        header = self._reader.read(4)
        if len(header) < 4:
            raise ChannelClosed("the host closed the channel")
        body = self._reader.read(_decode_length(header))
        return orjson.loads(body)


async def receive(reader: asyncio.StreamReader) -> dict[str, Any]:
    """The host's end: the next frame from a runner."""
    try:
        header = await reader.readexactly(4)
        body = await reader.readexactly(_decode_length(header))
    except (asyncio.IncompleteReadError, ConnectionError) as exc:
        raise ChannelClosed("the runner closed the channel") from exc
    return orjson.loads(body)
