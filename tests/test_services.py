"""Background services: a task that dies is reported, not silently gone."""

from __future__ import annotations

import asyncio

from convexpy.services import BackgroundService


class Crashing(BackgroundService):
    name = "crashing service"

    async def run(self) -> None:
        await asyncio.sleep(0)
        raise KeyError("boom")


class Forever(BackgroundService):
    name = "steady service"

    async def run(self) -> None:
        await asyncio.Event().wait()


async def test_a_service_that_dies_is_not_alive_and_says_why():
    service = Crashing()
    service.start()
    for _ in range(10):
        await asyncio.sleep(0)
    assert not service.alive
    assert repr(service.failure) == "KeyError('boom')"
    await service.stop()


async def test_a_running_service_is_alive_and_stops_within_its_bound():
    service = Forever()
    service.start()
    await asyncio.sleep(0)
    assert service.alive
    await service.stop(timeout_s=1)
    assert service.alive  # stopped on purpose is not a failure
