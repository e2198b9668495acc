"""Workload 7, noisy neighbour: by_sid at 32 clients while 4 other clients call a query that burns
50 ms of CPU in user code, against the same by_sid run without them (the baseline), on one server.

Usage: python bench/noisy_neighbour.py [--documents 100000] [--seconds 10]
Measured twice: with user code in runner processes (``--runners 4``), where a burning query holds
one runner and none of the server's event loop, and in process (``--runners 0``), where every burn
stalls everything else for 50 ms.
"""

from __future__ import annotations

import argparse
import concurrent.futures

import by_sid
import loadgen
from harness import Row, percentile, running_server, seed, table

NOISY_CLIENTS = 4
BURN_MS = 50


def burn(worker: int, n: int) -> dict:
    return {"path": "bench:burn", "args": {"ms": BURN_MS, "nonce": worker * 1_000_000 + n}, "format": "convex_encoded_json"}


def measure(extra: list[str], documents: int, seconds: float) -> tuple[loadgen.LoadResult, loadgen.LoadResult, loadgen.LoadResult]:
    """(by_sid alone, by_sid beside the burners, the burners)."""
    with running_server(extra=extra) as server:
        seed(server, "bench:seedServices", documents, 2000)
        host, port = server.host_port
        loadgen.run(host, port, "/api/query", by_sid.every_sid(documents), 32, 300.0, total=documents)
        quiet = loadgen.run(host, port, "/api/query", by_sid.lookups(documents), 32, seconds)
        with concurrent.futures.ThreadPoolExecutor(1) as pool:
            noisy_run = pool.submit(loadgen.run, host, port, "/api/query", burn, NOISY_CLIENTS, seconds + 1.0)
            noisy = loadgen.run(host, port, "/api/query", by_sid.lookups(documents), 32, seconds)
            burns = noisy_run.result()
    return quiet, noisy, burns


def run(documents: int = 100_000, seconds: float = 10.0) -> list[Row]:
    rows = []
    for label, extra in (("runners", ["--runners", "4"]), ("in process", ["--runners", "0"])):
        quiet, noisy, burns = measure(extra, documents, seconds)
        p99 = percentile(noisy.latencies_ms, 0.99)
        note = f"{burns.requests / burns.seconds:.0f} burns/s beside it; errors {noisy.errors + burns.errors}"
        rows += [
            Row("7 noisy neighbour", f"{label}: by_sid p50, 32 clients + 4 burning 50 ms", percentile(noisy.latencies_ms, 0.5),
                percentile(quiet.latencies_ms, 0.5), "ms"),
            Row("7 noisy neighbour", f"{label}: by_sid p99, 32 clients + 4 burning 50 ms", p99,
                percentile(quiet.latencies_ms, 0.99), "ms", "< 5 ms" if label == "runners" else "",
                p99 < 5.0 if label == "runners" else None, note),
            Row("7 noisy neighbour", f"{label}: by_sid req/s, 32 clients + 4 burning 50 ms", noisy.rate, quiet.rate, "/s"),
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
