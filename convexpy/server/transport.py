"""Write coalescing for uvicorn's HTTP protocol: one ``send`` per response instead of two.

uvicorn writes a response's status line and headers when the app sends
``http.response.start`` and the body on ``http.response.body``; on a fast
event loop each ``transport.write`` is its own system call and TCP segment.
Under the by_sid load those two writes were a fifth of the server's CPU. This
wraps the connection's transport so writes made in one event-loop turn are
joined and handed to the real transport once, at the end of the turn: nothing
waits longer than that turn, and order is kept. Ending the turn also batches
the responses of many connections, so clients get them in bursts (measured:
15k by_sid req/s with this, 11k flushing each response as it completes).
After an upgrade to WebSocket, writes go straight through.
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Forwards everything to ``transport`` except that writes are joined until the loop turns."""

    __slots__ = ("_transport", "_loop", "_pending", "_scheduled", "_direct")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop):
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []
        self._scheduled = False
        self._direct = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        if self._direct:
            self._transport.write(data)
            return
        self._pending.append(data)
        if not self._scheduled:
            self._scheduled = True
            self._loop.call_soon(self._flush)

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def set_protocol(self, protocol: asyncio.BaseProtocol) -> None:
        """An upgrade (WebSocket): its frames are written as they come."""
        self._flush()
        self._direct = True
        self._transport.set_protocol(protocol)

    def _flush(self) -> None:
        self._scheduled = False
        if self._pending:
            data = self._pending[0] if len(self._pending) == 1 else b"".join(self._pending)
            self._pending.clear()
            if not self._transport.is_closing():
                self._transport.write(data)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + sum(len(chunk) for chunk in self._pending)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending.clear()
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a :class:`CoalescingTransport` (``uvicorn.Config(http=...)``)."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]
