"""The Node.js runner runs "use node" actions with Node's builtins, over the same frames and syscalls
as the other runners: analysis finds the actions, syscalls go to the host in order, a runaway
action times out by wall-clock time and its runner is replaced."""

from __future__ import annotations

import json
import shutil

import pytest

from convexpy.runtime.js.node import NodeSpawner, find_node
from convexpy.runtime.pool import RunnerPool, UserTimeout

from .conftest import HERE, bundle

NODE = find_node("")  # on every machine the tests run on: they drive the npm clients and CLI with it


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, list]:
    bundled = bundle(HERE / "node_project", tmp_path_factory.mktemp("node-bundle"), ["tools.ts", "broken.ts"], platform="node")
    return {path: [source, None] for path, source in bundled.items()}


@pytest.fixture
async def pool():
    pool = RunnerPool(HERE, 0, spawner=NodeSpawner(NODE, 512), idle_s=0.0)
    await pool.open()
    yield pool
    await pool.stop()


def host(sources: dict[str, list], calls: list):
    async def answer(op: str, args_json: str) -> str:
        args = json.loads(args_json)
        calls.append((op, args))
        if op == "convexpy/pushedModules":
            assert args == {"push": "p1", "environment": "node"}
            return json.dumps({path: value for path, value in sources.items() if path != "broken.js"})
        if op == "1.0/actions/query":
            return json.dumps({"text": args["args"]["text"]})
        raise AssertionError(f"unexpected syscall {op}")

    return answer


def call(pool, answer, name: str, args: dict, limit_s: float = 5.0):
    js = {"module": "tools.js", "name": name, "push": "p1", "seed": 1, "now": 0}
    return pool.call("action", f"tools:{name}", args, answer, limit_s, js)


async def test_the_analysis_finds_the_actions_and_reports_a_module_that_throws(pool, sources):
    analyzed = await pool.analyze(sources, ["tools.js"], None)
    assert analyzed.ok, analyzed.message
    assert [(f["name"], f["udfType"]) for f in analyzed.value["functions"]["tools.js"]] == [
        ("digest", "Action"), ("spin", "Action"), ("wait", "Action")]
    broken = await pool.analyze(sources, ["broken.js"], None)
    assert not broken.ok and "Failed to analyze broken.js: Uncaught Error: broken at import" in broken.message


async def test_an_action_uses_node_builtins_and_runs_queries_through_the_host(pool, sources):
    calls: list = []
    result = await call(pool, host(sources, calls), "digest", {"text": "abc"})
    assert result.ok, result.message
    assert result.value == {"sha1": "a9993e364706816aba3e25717850c26c9cd0d89d", "found": {"text": "abc"}}
    assert result.log_lines == ["[LOG] 'digesting' 'abc'"]
    assert [op for op, _ in calls] == ["convexpy/pushedModules", "1.0/actions/query"]
    again = await call(pool, host(sources, calls := []), "digest", {"text": "x"})
    assert again.ok and [op for op, _ in calls] == ["1.0/actions/query"]  # the push stays loaded in its runner


async def test_a_runaway_action_times_out_by_wall_clock_and_its_runner_is_replaced(pool, sources):
    with pytest.raises(UserTimeout, match=r"maximum duration: 0.5s"):
        await call(pool, host(sources, []), "spin", {}, limit_s=0.5)
    assert pool.size == 0
    waited = await call(pool, host(sources, []), "wait", {"ms": 10})
    assert waited.ok and waited.value == "waited"


def test_node_can_be_turned_off_or_named():
    assert find_node("off") is None
    assert find_node("node") == shutil.which("node")
