"""Workload 6, a big table: load 1M small documents, then page through all of them over /api/query.

Prints the server's RSS after loading, its peak while paginating and at the end (flat = the scan does not
accumulate anything), and the scan rate. Baseline: the same rows in one SQL table, paged by keyset
(`WHERE id > $after ORDER BY id LIMIT n`) through the baseline server.

Usage: python bench/big_table.py [--documents 1000000] [--page 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import threading
import time
from contextlib import contextmanager
from typing import Iterator

import asyncpg
import httpx
from baseline_server import create_tables
from harness import Row, Server, running_baseline, running_server, seed, table

SEED_BATCH = 5000


@contextmanager
def sampling_rss(server: Server, every_s: float = 0.1) -> Iterator[list[float]]:
    """Samples the server's RSS (MB) in a thread while the block runs."""
    samples = [server.rss_mb()]
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(every_s):
            samples.append(server.rss_mb())

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield samples
    finally:
        stop.set()
        thread.join()
        samples.append(server.rss_mb())


def scan_convex(server: Server, page: int) -> tuple[int, float]:
    """Every document of `small`, page by page; (documents seen, seconds)."""
    seen, cursor, started = 0, None, time.monotonic()
    with httpx.Client(base_url=server.url, timeout=120) as http:
        while True:
            args = {"paginationOpts": {"numItems": page, "cursor": cursor}}
            result = http.post("/api/query", json={"path": "bench:page", "args": args}).json()
            if result["status"] != "success":
                raise SystemExit(f"paginate failed: {result}")
            seen += len(result["value"]["page"])
            if result["value"]["isDone"]:
                return seen, time.monotonic() - started
            cursor = result["value"]["continueCursor"]


def scan_baseline(server: Server, page: int) -> tuple[int, float]:
    seen, after, started = 0, -1, time.monotonic()
    with httpx.Client(base_url=server.url, timeout=120) as http:
        while True:
            result = http.post("/api/query", json={"path": "bench:page", "args": {"after": after, "count": page}}).json()
            rows = result["value"]["page"]
            seen += len(rows)
            if result["value"]["isDone"]:
                return seen, time.monotonic() - started
            after = rows[-1]["id"]


async def seed_baseline(dsn: str, documents: int) -> None:
    connection = await asyncpg.connect(dsn)
    try:
        await create_tables(connection)
        await connection.execute("TRUNCATE baseline_small")
        await connection.copy_records_to_table("baseline_small", records=((n, n, f"item {n}") for n in range(documents)))
    finally:
        await connection.close()


def run(documents: int = 1_000_000, page: int = 1000) -> list[Row]:
    with running_server() as server:
        took = seed(server, "bench:seedSmall", documents, SEED_BATCH)
        print(f"  loaded {documents:,} documents into convexpy in {took:.0f} s ({documents / took:,.0f}/s)")
        with sampling_rss(server) as ours:
            ours_seen, ours_s = scan_convex(server, page)
        asyncio.run(seed_baseline(server.dsn, documents))
        with running_baseline(server.dsn) as baseline:
            with sampling_rss(baseline) as theirs:
                theirs_seen, theirs_s = scan_baseline(baseline, page)
    if ours_seen != documents or theirs_seen != documents:
        raise SystemExit(f"the scans saw {ours_seen:,} and {theirs_seen:,} of {documents:,} documents")
    growth, base_growth = max(ours) - ours[0], max(theirs) - theirs[0]
    return [
        Row("6 big table", f"server RSS after loading {documents // 1000}k documents", ours[0], theirs[0], "MB"),
        Row("6 big table", f"RSS growth during the full paginate ({page:,}/page)", growth, base_growth, "MB",
            "flat", growth < 0.1 * ours[0] + 20, f"peak {max(ours):.0f} / {max(theirs):.0f} MB, end {ours[-1]:.0f} / {theirs[-1]:.0f} MB"),
        Row("6 big table", "scan rate", ours_seen / ours_s, theirs_seen / theirs_s, "docs/s"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=1_000_000)
    parser.add_argument("--page", type=int, default=1000)
    options = parser.parse_args()
    print(table(run(options.documents, options.page)))


if __name__ == "__main__":
    main()
