"""Runs every benchmark workload against convexpy and its baseline, on a fresh embedded PostgreSQL
each, and prints one table (Markdown) headed by the date and the machine.

Usage: scripts/bench [--quick] [--only 1 3 ...] [--seconds 10]
       (scripts/bench installs what is needed, then runs this file)

Workloads (see each module): 1 by_sid.py, 2 inserts.py, 3 transfers.py, 4 insert_to_observed.py,
5 idle_sessions.py, 6 big_table.py, 7 noisy_neighbour.py, 8 runner_costs.py, 9 scheduler_throughput.py.
--quick shrinks them
(a smoke run, not figures to quote).
"""

from __future__ import annotations

import argparse
import datetime
import os
import platform
import subprocess
import sys
import time

import big_table
import by_sid
import idle_sessions
import insert_to_observed
import inserts
import noisy_neighbour
import runner_costs
import scheduler_throughput
import transfers
from harness import Row, table


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.machine())
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    postgres = subprocess.run([sys.executable, "-c", "import pgserver, pathlib; print(pathlib.Path(pgserver.__file__).parent)"],
                              capture_output=True, text=True).stdout.strip()
    version = subprocess.run([f"{postgres}/pginstall/bin/postgres", "--version"], capture_output=True, text=True).stdout.strip()
    return (f"{os.cpu_count()} cores ({cpu}), {memory_gb:.0f} GiB RAM, Python {platform.python_version()}, "
            f"{version or 'embedded PostgreSQL'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and short runs (smoke test)")
    parser.add_argument("--only", type=int, nargs="+", choices=range(1, 10), metavar="N", help="run only these workloads")
    parser.add_argument("--seconds", type=float, help="seconds per measured run (default 10, quick 2)")
    options = parser.parse_args()
    seconds = options.seconds or (2.0 if options.quick else 10.0)
    workloads = {
        1: lambda: by_sid.run(documents=10_000 if options.quick else 100_000, seconds=seconds),
        2: lambda: inserts.run(seconds=seconds),
        3: lambda: transfers.run(seconds=seconds),
        4: lambda: insert_to_observed.run(rate=50.0, seconds=seconds),
        5: lambda: idle_sessions.run(sessions=100 if options.quick else 1000),
        6: lambda: big_table.run(documents=50_000 if options.quick else 1_000_000),
        7: lambda: noisy_neighbour.run(documents=10_000 if options.quick else 100_000, seconds=seconds),
        8: lambda: runner_costs.run(seconds=seconds / 2),
        9: lambda: scheduler_throughput.run(jobs=1_000 if options.quick else 10_000),
    }
    started = time.monotonic()
    rows: list[Row] = []
    for number in options.only or sorted(workloads):
        print(f"== workload {number}", flush=True)
        found = workloads[number]()
        print(table(found), flush=True)
        rows += found
    print()
    print(f"convexpy bench, {datetime.date.today().isoformat()}{' (quick)' if options.quick else ''}, "
          f"{time.monotonic() - started:.0f} s; {machine()}")
    print("One replica, embedded PostgreSQL; ratio = convexpy / baseline (bench/baseline_server.py in the same run;")
    print("for 7, by_sid without the noisy clients; for 8, the same server with user code in process, --runners 0);")
    print("loadgen CPU = the load generator's own CPU share for convexpy / baseline (100% = one core).")
    print()
    print(table(rows))
    if any(row.met is False for row in rows):
        print("\nSome targets are not met (see the 'met' column).")


if __name__ == "__main__":
    main()
