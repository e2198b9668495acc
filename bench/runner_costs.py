"""Workload 8, what running user code in runner processes costs: a syscall's round trip and a by_sid
function run (not answered from the response cache), each with user code in runners (the default)
against the same server with user code in its own process (``--runners 0``, the baseline); and the
same by_sid function in TypeScript, pushed with the real `npx convex deploy` and run in V8, against
the Python one on the same runners, same data, same run.

Usage: python bench/runner_costs.py [--seconds 5]
Both at 1 client over /api/query; the index read behind by_sid is cached in both, so the difference
is the runner: the call, the syscall and the result crossing a socket, and the process switches.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import loadgen
from harness import BENCH, REPO, Row, percentile, running_server, seed, table

DOCUMENTS = 1000
SYSCALLS = 200


def syscalls(n: int):
    def make(worker: int, i: int) -> dict:
        return {"path": "bench:syscalls", "args": {"n": n, "nonce": time.perf_counter_ns()}, "format": "convex_encoded_json"}

    return make


SEED_PROJECT = REPO / "tests" / "e2e" / "typescript"
"""The seeds' own TypeScript (Shift's Yellow Pages, MemberPulse's notifications, presence and
metrics, http.ts, crons.ts, auth.config.ts, a "use node" module), beside a Python folder."""


def deploy_typescript(server, source: Path = BENCH / "typescript") -> float:
    """Push the project in ``source`` with the real CLI (offline); returns the seconds it took."""
    admin_key = subprocess.run([sys.executable, "-m", "convexpy", "admin-key", "--data-dir", str(server.data_dir)],
                               capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
    with tempfile.TemporaryDirectory(prefix="convexpy-bench-ts-") as folder, socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        project = Path(folder) / "project"
        shutil.copytree(source, project)
        node_modules = REPO / "tests" / "js" / "node_modules"
        (project / "node_modules").symlink_to(node_modules)
        env = {**os.environ, "CI": "1", "CONVEX_VERSION_API_ORIGIN": f"http://127.0.0.1:{closed.getsockname()[1]}"}
        started = time.perf_counter()
        pushed = subprocess.run([str(node_modules / ".bin" / "convex"), "deploy", "--typecheck", "disable", "--url", server.url,
                                 "--admin-key", admin_key], cwd=project, env=env, capture_output=True, text=True)
        if pushed.returncode != 0:
            raise SystemExit(f"npx convex deploy failed:\n{pushed.stdout}{pushed.stderr}")
        return time.perf_counter() - started


def isolate_costs(dsn: str, calls: int = 200) -> tuple[float, float]:
    """(ms to make a fresh V8 context with the push rewritten and loaded and run one call, ms per
    call on a warm one): the push's modules as the server stored them, in this process, with a stub
    syscall. V8's one-time start (its import) is not counted."""
    import asyncio

    from convexpy.database import Database
    from convexpy.runtime.js.isolate import Isolate
    from convexpy.runtime.js.modules import to_script
    from convexpy.runtime.js.pushed import PushedCode

    async def sources() -> dict:
        database = await Database.open(dsn, pool_size=2, follow=False)
        try:
            pushed = PushedCode(database)
            await pushed.load()
            return pushed.sources()
        finally:
            await database.close()

    modules = asyncio.run(sources())
    args = '[{"sid": "s0000001", "nonce": 1}]'
    import STPyV8  # noqa: F401 - once per runner process, not per context: not counted
    started = time.perf_counter()
    isolate = Isolate({path: to_script(path, source) for path, (source, _) in modules.items()}, lambda op, a: '{"page": []}')
    isolate.invoke("ts.js", "getBySidUncached", "Query", args, 1, 0.0)
    fresh = (time.perf_counter() - started) * 1000
    started = time.perf_counter()
    for _ in range(calls):
        isolate.invoke("ts.js", "getBySidUncached", "Query", args, 1, 0.0)
    return fresh, (time.perf_counter() - started) * 1000 / calls


def uncached_ts_lookup(worker: int, i: int) -> dict:
    return {**uncached_lookup(worker, i), "path": "ts:getBySidUncached"}


def uncached_lookup(worker: int, i: int) -> dict:
    """by_sid with a fresh nonce; ``i`` picks the sid, so a run with ``total`` asks for each in turn."""
    return {"path": "bench:getBySidUncached", "args": {"sid": f"s{i % DOCUMENTS:07d}", "nonce": time.perf_counter_ns()},
            "format": "convex_encoded_json"}


def measure(extra: list[str], seconds: float, typescript: dict | None = None) -> tuple[float, float, float]:
    """(syscall round trip, by_sid function run p50, by_sid function runs/s at 16 clients); with
    ``typescript``, the TypeScript by_sid's figures too, filled in."""
    with running_server(extra=extra) as server:
        seed(server, "bench:seedServices", DOCUMENTS, DOCUMENTS)
        host, port = server.host_port
        if typescript is not None:
            typescript["deploy_s"] = deploy_typescript(server)
            loadgen.run(host, port, "/api/query", uncached_ts_lookup, 16, 60.0, total=4 * DOCUMENTS)
            typescript["p50"] = percentile(loadgen.run(host, port, "/api/query", uncached_ts_lookup, 1, seconds).latencies_ms, 0.5)
            typescript["rate"] = loadgen.run(host, port, "/api/query", uncached_ts_lookup, 16, seconds).rate
            with multiprocessing.get_context("spawn").Pool(1) as pool:  # V8's threads stay out of this process
                typescript["fresh_ms"], typescript["warm_ms"] = pool.apply(isolate_costs, (server.dsn,))
        # Warm up: every sid asked (by several clients, so runners are forked too), every index read cached.
        loadgen.run(host, port, "/api/query", uncached_lookup, 16, 60.0, total=4 * DOCUMENTS)
        empty = loadgen.run(host, port, "/api/query", syscalls(0), 1, seconds)
        many = loadgen.run(host, port, "/api/query", syscalls(SYSCALLS), 1, seconds)
        lookup = loadgen.run(host, port, "/api/query", uncached_lookup, 1, seconds)
        busy = loadgen.run(host, port, "/api/query", uncached_lookup, 16, seconds)
    per_syscall = (percentile(many.latencies_ms, 0.5) - percentile(empty.latencies_ms, 0.5)) / SYSCALLS
    return per_syscall, percentile(lookup.latencies_ms, 0.5), busy.rate


def seed_push_costs() -> tuple[float, float]:
    """Seconds of `npx convex deploy` (start to exit) of the seeds' TypeScript project onto a fresh
    deployment: the first push (every module uploaded, analyzed in V8 and Node, indexes built) and
    the same push again (modules sent as unchanged hashes)."""
    with running_server(functions=SEED_PROJECT / "python") as server:
        return deploy_typescript(server, SEED_PROJECT / "project"), deploy_typescript(server, SEED_PROJECT / "project")


def run(seconds: float = 5.0) -> list[Row]:
    first_push, second_push = seed_push_costs()
    typescript: dict = {}
    runners = measure(["--runners", "4"], seconds, typescript)
    in_process = measure(["--runners", "0"], seconds)
    note = "baseline: the same server with user code in process (--runners 0)"
    ts_note = f"baseline: the Python by_sid on the same runners; the push took {typescript['deploy_s']:.1f} s (npx convex deploy)"
    return [
        Row("8 runner costs", "syscall round trip, p50", runners[0] * 1000, in_process[0] * 1000, "µs", "", None, note),
        Row("8 runner costs", "by_sid function run (response cache missed): p50, 1 client", runners[1], in_process[1], "ms"),
        Row("8 runner costs", "by_sid function runs/s, 16 clients", runners[2], in_process[2], "/s"),
        Row("8 runner costs", "TypeScript by_sid run (V8): p50, 1 client", typescript["p50"], runners[1], "ms",
            "≤ 1.5x Python", typescript["p50"] <= 1.5 * runners[1], ts_note),
        Row("8 runner costs", "TypeScript by_sid runs/s, 16 clients", typescript["rate"], runners[2], "/s"),
        Row("8 runner costs", "V8: a fresh context with the push loaded + one call", typescript["fresh_ms"], typescript["warm_ms"], "ms",
            "", None, "baseline: one call on a warm context (pooled per push in each runner); stub syscalls"),
        Row("8 runner costs", "push of the seeds' TypeScript project (npx convex deploy, start to exit)", first_push, second_push, "s",
            "", None, "tests/e2e/typescript/project (9 files, one \"use node\") onto a fresh deployment; baseline: the same push again"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    options = parser.parse_args()
    print(table(run(options.seconds)))


if __name__ == "__main__":
    main()
