"""The by_sid hot path: convexpy's `bench:getBySid` over /api/query against the bare baseline
(bench/baseline_server.py: one indexed SELECT per request), with 100k documents each, in one run.

Usage: python bench/by_sid.py [--documents 100000] [--seconds 10]
Prints p50/p99 at 1 client and throughput at 32 clients for both, and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import subprocess
import sys
import time

import asyncpg
import httpx
import loadgen
from harness import BENCH, embedded_dsn, free_port, percentile, running_server


def body(documents: int):
    def make(worker: int, n: int) -> dict:
        return {"path": "bench:getBySid", "args": {"sid": f"s{random.randrange(documents):07d}"}, "format": "convex_encoded_json"}

    return make


HOT_SET = 1000


async def seed_baseline(dsn: str, documents: int) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("DROP TABLE IF EXISTS baseline_services")
        await conn.execute("CREATE TABLE baseline_services (id TEXT PRIMARY KEY, sid TEXT NOT NULL, name TEXT, owner TEXT)")
        await conn.copy_records_to_table(
            "baseline_services", records=[(f"id{n}", f"s{n:07d}", f"service {n}", "bench") for n in range(documents)]
        )
        await conn.execute("CREATE INDEX ON baseline_services (sid)")
        await conn.execute("ANALYZE baseline_services")
    finally:
        await conn.close()


def measure(url: str, documents: int, seconds: float) -> tuple[loadgen.LoadResult, loadgen.LoadResult]:
    """Lookups of random sids among ``documents`` (a hot set when it is small): 1 client, then 32."""
    host, port = url.removeprefix("http://").split(":")
    loadgen.run(host, int(port), "/api/query", body(documents), 8, 2.0)  # warm up (caches, pools)
    single = loadgen.run(host, int(port), "/api/query", body(documents), 1, seconds)
    many = loadgen.run(host, int(port), "/api/query", body(documents), 32, seconds)
    return single, many


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()

    with running_server() as url:
        started = time.monotonic()
        with httpx.Client(base_url=url, timeout=120) as http:
            for start in range(0, options.documents, 2000):
                count = min(2000, options.documents - start)
                http.post("/api/mutation", json={"path": "bench:seedServices", "args": {"start": start, "count": count}}).raise_for_status()
        dsn = embedded_dsn(url)
        asyncio.run(seed_baseline(dsn, options.documents))
        print(f"seeded {options.documents} documents in {time.monotonic() - started:.0f} s")

        convexpy_single, convexpy_many = measure(url, options.documents, options.seconds)
        convexpy_hot = measure(url, HOT_SET, options.seconds)
        baseline_port = free_port()
        baseline = subprocess.Popen([sys.executable, str(BENCH / "baseline_server.py"), dsn, str(baseline_port)])
        try:
            for _ in range(100):
                try:
                    httpx.post(f"http://127.0.0.1:{baseline_port}/api/query", json={"args": {"sid": "s0000000"}}, timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            base_single, base_many = measure(f"http://127.0.0.1:{baseline_port}", options.documents, options.seconds)
            base_hot = measure(f"http://127.0.0.1:{baseline_port}", HOT_SET, options.seconds)
        finally:
            baseline.terminate()
            baseline.wait()

    def row(name: str, single: loadgen.LoadResult, many: loadgen.LoadResult) -> str:
        return (f"{name:<10} {percentile(single.latencies_ms, 0.5):>8.3f} {percentile(single.latencies_ms, 0.99):>8.3f} "
                f"{many.rate:>10.0f} {many.errors:>7} {many.cpu_share:>11.0%}")

    print(f"by_sid query, {options.documents} documents; p50/p99 at 1 client, requests/s at 32 clients")
    print(f"{'server':<10} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>10} {'errors':>7} {'loadgen CPU':>12}")
    for label, ours, theirs in ((f"all {options.documents} sids", (convexpy_single, convexpy_many), (base_single, base_many)),
                                (f"hot set of {HOT_SET} sids", convexpy_hot, base_hot)):
        print(f"-- {label}")
        print(row("convexpy", *ours))
        print(row("baseline", *theirs))
        print(f"   ratio: p50 {percentile(ours[0].latencies_ms, 0.5) / percentile(theirs[0].latencies_ms, 0.5):.2f}x the baseline, "
              f"throughput {ours[1].rate / theirs[1].rate:.2f}x the baseline")


if __name__ == "__main__":
    main()
