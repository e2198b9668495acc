"""The runner pool forks runners from its zygote while every warm one is busy, and lets the extra
ones go once idle; a runner that dies is dropped, not handed out again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from convexpy.runtime.pool import RunnerDied, RunnerPool

FUNCTIONS = Path(__file__).resolve().parent.parent / "e2e" / "functions"


async def _no_syscalls(op: str, args: str) -> str:
    raise AssertionError(f"unexpected syscall {op}")


@pytest.fixture
async def pool():
    pool = RunnerPool(FUNCTIONS, 1, idle_s=0.0)
    await pool.open()
    yield pool
    await pool.stop()


async def test_busy_runners_make_the_pool_fork_more_and_idle_extra_ones_go(pool):
    assert pool.size == 1
    calls = [pool.call("query", "runaway:spin", {"seconds": 0.3}, _no_syscalls, 5.0) for _ in range(3)]
    results = await asyncio.gather(*calls)
    assert [result.value for result in results] == ["finished"] * 3
    assert pool.size == 1  # idle_s=0: the two forked for the burst are gone, the warm one stays


async def test_a_runner_that_died_is_dropped_and_the_next_call_gets_a_live_one(pool, tmp_path):
    marker = str(tmp_path / "died-once")
    with pytest.raises(RunnerDied):
        await pool.call("query", "runaway:dieOnce", {"marker": marker}, _no_syscalls, 5.0)
    result = await pool.call("query", "runaway:spin", {"seconds": 0}, _no_syscalls, 5.0)
    assert result.ok and result.value == "finished"
    assert pool.size == 1
