"""The runner pool forks runners from its zygote while every warm one is busy, and lets the extra
ones go once idle; a runner that dies is dropped, not handed out again."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from convexpy.runtime.pool import RunnerDied, RunnerPool, UserTimeout

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
    calls = [pool.call("query", "runaway:block", {"seconds": 0.3}, _no_syscalls, 5.0) for _ in range(3)]
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


async def test_a_function_past_its_cpu_time_fails_with_the_timeout_and_its_runner_is_replaced(pool):
    with pytest.raises(UserTimeout, match=r"maximum duration: 0.3s"):
        await pool.call("query", "runaway:spin", {"seconds": 30}, _no_syscalls, 0.3)
    result = await pool.call("query", "runaway:spin", {"seconds": 0}, _no_syscalls, 0.3)
    assert result.value == "finished"
    assert pool.size == 1


async def test_user_code_that_catches_everything_still_times_out(pool):
    with pytest.raises(UserTimeout):
        await pool.call("query", "runaway:stubborn", {"seconds": 1}, _no_syscalls, 0.2)


async def test_code_that_blocks_without_spending_cpu_is_stopped_by_the_wall_clock_backstop(pool):
    with pytest.raises(UserTimeout):
        await pool.call("query", "runaway:block", {"seconds": 30}, _no_syscalls, 0.1)
    result = await pool.call("query", "runaway:spin", {"seconds": 0}, _no_syscalls, 0.3)
    assert result.value == "finished"


async def test_time_spent_waiting_for_syscall_answers_is_not_user_time(pool):
    async def slow_answers(op: str, args: str) -> str:
        assert op == "1.0/get"
        await asyncio.sleep(0.3)
        return "null"

    result = await pool.call("query", "runaway:getMany", {"id": "x", "times": 4}, slow_answers, 0.2)
    assert result.ok and result.value == [None] * 4

