"""Workload 9, the scheduler: 10,000 mutations each scheduling one job with `runAfter(0)`, sent by 32
clients; the job inserts a row. Reports jobs executed/s (from the first schedule to the last run) and
the schedule-to-run lag p50/p99. The baseline is a bare PostgreSQL job queue in the baseline server:
one INSERT per job, 8 workers taking jobs with FOR UPDATE SKIP LOCKED, marking them done and
inserting the same row.

Usage: python bench/scheduler_throughput.py [--jobs 10000]
"""

from __future__ import annotations

import argparse
import time

import httpx
import loadgen
from harness import Row, Server, load_note, running_baseline, running_server, table

CLIENTS = 32


def schedule_body(worker: int, n: int) -> dict:
    return {"path": "bench:scheduleWork", "args": {"n": n}, "format": "convex_encoded_json"}


def drive(server: Server, jobs: int) -> tuple[dict, loadgen.LoadResult]:
    """Schedule ``jobs`` jobs, wait until all ran; the jobs' figures and the schedulers' load."""
    host, port = server.host_port
    result = loadgen.run(host, port, "/api/mutation", schedule_body, CLIENTS, 600.0, total=jobs)
    deadline = time.monotonic() + 300
    while True:
        stats = httpx.post(server.url + "/api/query", json={"path": "bench:doneStats", "args": {}}, timeout=60).json()["value"]
        if stats["count"] >= result.requests - result.errors or time.monotonic() > deadline:
            return stats, result
        time.sleep(0.2)


def run(jobs: int = 10_000) -> list[Row]:
    with running_server() as server:
        ours, our_load = drive(server, jobs)
        with running_baseline(server.dsn) as baseline:
            theirs, their_load = drive(baseline, jobs)
    note = f"{int(ours['count']):,} / {int(theirs['count']):,} jobs run; {load_note(our_load, their_load)}"
    rate, baseline_rate = ours["count"] / (ours["spanMs"] / 1000), theirs["count"] / (theirs["spanMs"] / 1000)
    return [
        Row("9 scheduler", f"jobs executed/s, {jobs:,} scheduled by {CLIENTS} clients", rate, baseline_rate, "/s",
            "≥ 1,000/s and ≥ 0.8x baseline", rate >= 1000 and rate >= 0.8 * baseline_rate, note),
        Row("9 scheduler", "schedule-to-run lag, p50", ours["p50"], theirs["p50"], "ms", "< 20 ms", ours["p50"] < 20),
        Row("9 scheduler", "schedule-to-run lag, p99", ours["p99"], theirs["p99"], "ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=10_000)
    print(table(run(parser.parse_args().jobs)))


if __name__ == "__main__":
    main()
