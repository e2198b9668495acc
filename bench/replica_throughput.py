"""Mutation throughput with 1, 2 and 4 replicas on one machine (`convexpy serve --workers N`).

Each run starts a fresh deployment on the embedded PostgreSQL, then 32
keep-alive HTTP connections insert documents (two indexes per document) for
the given time. Prints commits/s, p50/p99 latency and the load generator's CPU.

Usage: python bench/replica_throughput.py [--seconds 10] [--concurrency 32] [--workers 1 2 4]
"""

from __future__ import annotations

import argparse

import loadgen
from harness import percentile, running_server
from inserts import insert_body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    options = parser.parse_args()

    print(f"insert mutation throughput, {options.concurrency} connections, {options.seconds:g} s per run")
    print(f"{'replicas':>8} {'commits/s':>10} {'p50 ms':>8} {'p99 ms':>8} {'errors':>7} {'loadgen CPU':>12}")
    for workers in options.workers:
        with running_server(extra=["--workers", str(workers)]) as server:
            host, port = server.host_port
            loadgen.run(host, port, "/api/mutation", insert_body, options.concurrency, 1.0)  # warm up
            result = loadgen.run(host, port, "/api/mutation", insert_body, options.concurrency, options.seconds)
        print(f"{workers:>8} {result.rate:>10.0f} {percentile(result.latencies_ms, 0.5):>8.2f} "
              f"{percentile(result.latencies_ms, 0.99):>8.2f} {result.errors:>7} {result.cpu_share:>11.0%}")


if __name__ == "__main__":
    main()
