"""Frames between the host and a runner: every size arrives whole and in order, both ways."""

from __future__ import annotations

import asyncio
import socket
import threading

import pytest

from convexpy.runtime.channel import INITIAL_BUFFER, BlockingChannel, ChannelClosed, HostChannel

SIZES = [0, 10, INITIAL_BUFFER - 20, INITIAL_BUFFER, INITIAL_BUFFER + 1, 3 * INITIAL_BUFFER, 5 * 1024 * 1024, 7]


def _echo(sock: socket.socket) -> None:
    channel = BlockingChannel(sock)
    try:
        while True:
            channel.send(channel.receive())
    except ChannelClosed:
        sock.close()


async def test_frames_of_every_size_cross_whole_and_in_order():
    ours, theirs = socket.socketpair()
    threading.Thread(target=_echo, args=(theirs,), daemon=True).start()
    channel = await HostChannel.connect(ours)
    for size in SIZES:  # one at a time
        channel.send({"n": size, "body": "x" * size})
        assert await channel.receive(5) == {"n": size, "body": "x" * size}
    for size in SIZES:  # all sent before any is read: frames arrive split and several to a read
        channel.send({"n": size, "body": "y" * size})
    for size in SIZES:
        assert await channel.receive(5) == {"n": size, "body": "y" * size}
    channel.close()


async def test_a_closed_runner_end_is_reported_and_a_silent_one_times_out():
    ours, theirs = socket.socketpair()
    channel = await HostChannel.connect(ours)
    with pytest.raises(TimeoutError):
        await channel.receive(0.05)
    theirs.close()
    with pytest.raises(ChannelClosed):
        await asyncio.wait_for(channel.receive(), 5)


async def test_a_frame_that_is_not_json_closes_the_channel():
    ours, theirs = socket.socketpair()
    channel = await HostChannel.connect(ours)
    theirs.sendall(b"\x00\x00\x00\x05{oops")
    with pytest.raises(ChannelClosed):
        await asyncio.wait_for(channel.receive(), 5)
    theirs.close()
