"""Convex's concurrency limits: at most ``limit`` calls of a kind at once, the rest wait in line
and fail with Overloaded past the wait, and a caller that goes away frees what it held."""

from __future__ import annotations

import asyncio

import pytest

from convexpy.errors import Overloaded
from convexpy.runtime.slots import FunctionSlots


async def test_no_more_than_the_limit_run_at_once_and_every_call_gets_its_turn():
    slots = FunctionSlots("queries", 3, wait_s=5)
    running, most, order = 0, 0, []

    async def call(n: int) -> None:
        nonlocal running, most
        async with slots:
            running += 1
            most = max(most, running)
            await asyncio.sleep(0.01)
            order.append(n)
            running -= 1

    await asyncio.gather(*(call(n) for n in range(10)))
    assert most == 3
    assert sorted(order) == list(range(10))
    assert slots.running == 0


async def _holder(slots: FunctionSlots) -> tuple[asyncio.Task, asyncio.Event]:
    """A task that takes a slot (or waits for one) and keeps it until the event is set."""
    release = asyncio.Event()

    async def hold() -> None:
        async with slots:
            await release.wait()

    task = asyncio.create_task(hold())
    await asyncio.sleep(0)
    return task, release


async def test_a_call_that_waits_too_long_is_refused_with_overloaded():
    slots = FunctionSlots("mutations", 1, wait_s=0.05)
    holder, release = await _holder(slots)
    with pytest.raises(Overloaded, match="Too many concurrent mutations: 1 are running"):
        async with slots:
            pass
    release.set()
    await holder
    async with slots:  # the refused call took nothing
        assert slots.running == 1


async def test_a_caller_that_goes_away_while_waiting_leaves_no_slot_taken():
    slots = FunctionSlots("actions", 1, wait_s=5)
    holder, release = await _holder(slots)
    waiter, _ = await _holder(slots)
    waiter.cancel()
    release.set()
    await holder
    with pytest.raises(asyncio.CancelledError):
        await waiter
    assert slots.running == 0
    async with slots:
        assert slots.running == 1
