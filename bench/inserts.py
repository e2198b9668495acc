"""Workload 2, insert mutations: `bench:post` inserts a document into a table with two indexes
(by_creation_time and by_channel); the baseline INSERTs into a table with the same two indexes.

Usage: python bench/inserts.py [--seconds 10]
Prints p50 at 1 client and commits/s at 32 clients for both.
"""

from __future__ import annotations

import loadgen
from harness import Row, Server, load_note, percentile, run_for_seconds, running_baseline, running_server


def insert_body(worker: int, n: int) -> dict:
    return {"path": "bench:post", "args": {"channel": f"c{worker}", "n": n}, "format": "convex_encoded_json"}


def measure(server: Server, seconds: float) -> tuple[loadgen.LoadResult, loadgen.LoadResult]:
    host, port = server.host_port
    loadgen.run(host, port, "/api/mutation", insert_body, 32, 1.0)  # warm up (pools, prepared statements)
    single = loadgen.run(host, port, "/api/mutation", insert_body, 1, seconds)
    many = loadgen.run(host, port, "/api/mutation", insert_body, 32, seconds)
    return single, many


def run(seconds: float = 10.0) -> list[Row]:
    with running_server() as server:
        ours_single, ours_many = measure(server, seconds)
        with running_baseline(server.dsn) as baseline:
            base_single, base_many = measure(baseline, seconds)
    p50 = percentile(ours_single.latencies_ms, 0.5)
    return [
        Row("2 inserts", "p50, 1 client", p50, percentile(base_single.latencies_ms, 0.5), "ms", "< 2 ms", p50 < 2.0,
            load_note(ours_single, base_single)),
        Row("2 inserts", "commits/s, 32 clients", ours_many.rate, base_many.rate, "/s", "≥ 2,000/s", ours_many.rate >= 2000,
            load_note(ours_many, base_many)),
        Row("2 inserts", "p99, 32 clients", percentile(ours_many.latencies_ms, 0.99), percentile(base_many.latencies_ms, 0.99), "ms"),
    ]


if __name__ == "__main__":
    run_for_seconds(run, __doc__.splitlines()[0])
