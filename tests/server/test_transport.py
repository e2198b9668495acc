"""Write coalescing: what a client receives is byte-for-byte what was written, in order, in fewer sends."""

from __future__ import annotations

import asyncio

from convexpy.server.transport import CoalescingTransport


class RecordingTransport:
    def __init__(self):
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_write_buffer_size(self) -> int:
        return 0

    def get_extra_info(self, name: str):
        return f"info:{name}"


async def test_writes_in_one_loop_turn_become_one_send_in_order():
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 200 OK\r\n\r\n")
    transport.write(b"")
    transport.write(b'{"status":"success"}')
    assert real.writes == [] and transport.get_write_buffer_size() == 39
    await asyncio.sleep(0)
    assert real.writes == [b'HTTP/1.1 200 OK\r\n\r\n{"status":"success"}']
    transport.write(b"next")
    await asyncio.sleep(0)
    assert real.writes[-1] == b"next"
    assert transport.get_extra_info("peername") == "info:peername"  # everything else is forwarded


async def test_close_sends_what_is_pending_first():
    real = RecordingTransport()
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"last words")
    transport.close()
    await asyncio.sleep(0)
    assert real.writes == [b"last words"] and real.closed


async def test_after_an_upgrade_writes_go_straight_through():
    real = RecordingTransport()
    real.set_protocol = lambda protocol: setattr(real, "protocol", protocol)
    transport = CoalescingTransport(real, asyncio.get_running_loop())
    transport.write(b"HTTP/1.1 101 Switching Protocols\r\n\r\n")
    transport.set_protocol("websocket")
    transport.write(b"frame")
    assert real.writes == [b"HTTP/1.1 101 Switching Protocols\r\n\r\n", b"frame"] and real.protocol == "websocket"
