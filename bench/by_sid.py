"""Workload 1, the by_sid hot path: `bench:getBySid` over /api/query against the bare baseline
(one indexed SELECT per request), 100k documents each, measured in one run.

Usage: python bench/by_sid.py [--documents 100000] [--seconds 10]
Prints p50/p99 at 1 client and requests/s at 32 clients for random sids among all documents and
for a hot set of 1,000, after the same warm-up for both servers.
"""

from __future__ import annotations

import argparse
import asyncio
import random

import asyncpg
import loadgen
from baseline_server import create_tables
from harness import Row, Server, load_note, percentile, running_baseline, running_server, seed, table

HOT_SET = 1000


def lookups(documents: int):
    def make(worker: int, n: int) -> dict:
        return {"path": "bench:getBySid", "args": {"sid": f"s{random.randrange(documents):07d}"}, "format": "convex_encoded_json"}

    return make


async def seed_baseline(dsn: str, documents: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await create_tables(connection)
        await connection.execute("TRUNCATE baseline_services")
        await connection.copy_records_to_table(
            "baseline_services", records=[(f"id{n}", f"s{n:07d}", f"service {n}", "bench") for n in range(documents)]
        )
        await connection.execute("ANALYZE baseline_services")
    finally:
        await connection.close()


def every_sid(documents: int):
    """Request ``n`` asks for sid ``n``: run with ``total=documents``, a warm-up pass over every sid."""

    def make(worker: int, n: int) -> dict:
        return {"path": "bench:getBySid", "args": {"sid": f"s{n % documents:07d}"}, "format": "convex_encoded_json"}

    return make


def measure(server: Server, documents: int, seconds: float) -> tuple[loadgen.LoadResult, loadgen.LoadResult]:
    """Lookups of random sids among ``documents``, 1 client then 32, after a warm-up pass that asks
    for every sid once (the steady state of a long-running server: 100k documents fit the default
    cache budget, and PostgreSQL's buffers hold the baseline's table and index)."""
    host, port = server.host_port
    warm_up = loadgen.run(host, port, "/api/query", every_sid(documents), 32, 300.0, total=documents)
    if warm_up.requests < documents:
        print(f"  note: the warm-up asked for {warm_up.requests:,} of {documents:,} sids")
    single = loadgen.run(host, port, "/api/query", lookups(documents), 1, seconds)
    many = loadgen.run(host, port, "/api/query", lookups(documents), 32, seconds)
    return single, many


def run(documents: int = 100_000, seconds: float = 10.0) -> list[Row]:
    with running_server() as server:
        took = seed(server, "bench:seedServices", documents, 2000)
        print(f"  seeded {documents:,} services in {took:.0f} s")
        asyncio.run(seed_baseline(server.dsn, documents))
        results = {}
        results["convexpy", "all"] = measure(server, documents, seconds)
        results["convexpy", "hot"] = measure(server, HOT_SET, seconds)
        with running_baseline(server.dsn) as baseline:
            results["baseline", "all"] = measure(baseline, documents, seconds)
            results["baseline", "hot"] = measure(baseline, HOT_SET, seconds)

    rows = []
    for key, label in (("all", f"random sid of {documents // 1000}k"), ("hot", f"hot set of {HOT_SET:,}")):
        (ours_single, ours_many), (base_single, base_many) = results["convexpy", key], results["baseline", key]
        p50, base_p50 = percentile(ours_single.latencies_ms, 0.5), percentile(base_single.latencies_ms, 0.5)
        rows += [
            Row("1 by_sid", f"{label}: p50, 1 client", p50, base_p50, "ms", "≤ baseline", p50 <= base_p50),
            Row("1 by_sid", f"{label}: p99, 1 client", percentile(ours_single.latencies_ms, 0.99),
                percentile(base_single.latencies_ms, 0.99), "ms"),
            Row("1 by_sid", f"{label}: req/s, 32 clients", ours_many.rate, base_many.rate, "/s", "≥ 1.5x baseline",
                ours_many.rate >= 1.5 * base_many.rate, load_note(ours_many, base_many)),
        ]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=100_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    print(table(run(options.documents, options.seconds)))


if __name__ == "__main__":
    main()
