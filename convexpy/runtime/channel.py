"""Frames between the host and a runner process: a 4-byte big-endian length, then one JSON object.

Both ends speak it over one Unix stream socket per runner. The runner runs one
function at a time, so its side is blocking; the host's side is an asyncio
protocol that parses frames as bytes arrive, so a syscall is answered in the
callback that read it, with no reader task to wake.
"""

from __future__ import annotations

import asyncio
import socket
import struct
import threading
from collections import deque
from typing import Any

import orjson

MAX_FRAME = 64 * 1024 * 1024
"""Larger than any argument, document or result the limits allow."""
_HEADER = struct.Struct(">I")
INITIAL_BUFFER = 64 * 1024
"""The host's read buffer per runner; it grows for a larger frame."""
MIN_READ = 4096


class ChannelClosed(Exception):
    """The other end went away (a runner that exited or was killed)."""


def encode(message: dict[str, Any]) -> bytes:
    body = orjson.dumps(message)
    return _HEADER.pack(len(body)) + body


def _decode_length(header: bytes) -> int:
    (length,) = _HEADER.unpack(header)
    if length > MAX_FRAME:
        raise ChannelClosed(f"frame of {length} bytes is larger than {MAX_FRAME}")
    return length


class BlockingChannel:
    """The runner's end."""

    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._reader = sock.makefile("rb")
        self.send_lock = threading.RLock()
        """Held for each frame sent: the runner's watchdog thread may send one too (and holds it
        while it decides to)."""

    def send(self, message: dict[str, Any]) -> None:
        with self.send_lock:
            self._sock.sendall(encode(message))

    def receive(self) -> dict[str, Any]:
        header = self._reader.read(4)
        if len(header) < 4:
            raise ChannelClosed("the host closed the channel")
        body = self._reader.read(_decode_length(header))
        return orjson.loads(body)


def _expire(waiter: asyncio.Future) -> None:
    if not waiter.done():
        waiter.set_exception(TimeoutError())


class HostChannel(asyncio.BufferedProtocol):
    """The host's end: frames queue up as they arrive; :meth:`receive` waits for the next one.

    A buffered protocol, so the socket is read into one reused buffer: the plain
    protocol allocates a fresh 256 KiB object per read, which cost more than the
    whole frame exchange.
    """

    def __init__(self) -> None:
        self._buffer = bytearray(INITIAL_BUFFER)
        self._start = 0
        """Where the first unparsed byte is."""
        self._end = 0
        """Where the next read goes."""
        self._frames: deque[dict[str, Any]] = deque()
        self._waiter: asyncio.Future | None = None
        self._transport: asyncio.Transport | None = None
        self.closed = asyncio.get_running_loop().create_future()
        """Resolved when the runner's end is gone."""

    @classmethod
    async def connect(cls, sock: socket.socket) -> "HostChannel":
        _, channel = await asyncio.get_running_loop().connect_accepted_socket(cls, sock)
        return channel

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def get_buffer(self, sizehint: int) -> memoryview:
        # Only here may the buffer move or grow: while buffer_updated runs, the loop still holds
        # the view it read into.
        buffer, start, end = self._buffer, self._start, self._end
        pending = end - start
        if pending == 0 and len(buffer) > 4 * INITIAL_BUFFER:
            self._buffer = buffer = bytearray(INITIAL_BUFFER)  # a big frame has gone: give its room back
        need = max(sizehint, MIN_READ)
        if pending >= 4:
            need = max(need, 4 + _decode_length(buffer[start:start + 4]) - pending)  # the whole frame
        if len(buffer) - end < need:
            buffer[:pending] = buffer[start:end]
            self._start, self._end = 0, pending
            if len(buffer) - pending < need:
                buffer.extend(bytes(need - (len(buffer) - pending)))
        return memoryview(buffer)[self._end:]

    def buffer_updated(self, nbytes: int) -> None:
        self._end += nbytes
        buffer, start, end = self._buffer, self._start, self._end
        while end - start >= 4:
            try:
                length = _decode_length(buffer[start:start + 4])
            except ChannelClosed:
                self.close()
                return
            if end - start < 4 + length:
                break
            try:
                with memoryview(buffer) as view:
                    self._frames.append(orjson.loads(view[start + 4:start + 4 + length]))
            except orjson.JSONDecodeError:
                self.close()  # a runner that wrote garbage is broken: treated as gone
                return
            start += 4 + length
        if start == end:
            start = end = 0
            self._end = 0
        self._start = start
        if self._frames and self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed.done():
            self.closed.set_result(None)
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)

    def send(self, message: dict[str, Any]) -> None:
        if self._transport is None or self._transport.is_closing():
            raise ChannelClosed("the runner closed the channel")
        self._transport.write(encode(message))

    async def receive(self, timeout_s: float | None = None) -> dict[str, Any]:
        """The next frame; :class:`TimeoutError` if none came within ``timeout_s``."""
        while not self._frames:
            if self.closed.done():
                raise ChannelClosed("the runner closed the channel")
            loop = asyncio.get_running_loop()
            waiter = self._waiter = loop.create_future()
            timer = None if timeout_s is None else loop.call_later(timeout_s, _expire, waiter)
            try:
                await waiter
            finally:
                self._waiter = None
                if timer is not None:
                    timer.cancel()
        return self._frames.popleft()

    def close(self) -> None:
        if self._transport is not None:
            self._transport.close()
