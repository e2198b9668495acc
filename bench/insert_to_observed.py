"""Workload 4, insert-to-observed: a mutation over HTTP, timed until a subscriber sees it, at a fixed rate.

convexpy: `bench:post`, observed by the official npm ConvexClient (over `ws`) subscribed to `bench:latest`.
Baseline: an INSERT + NOTIFY in one transaction, relayed by the baseline server from LISTEN to a bare
WebSocket (`ws` in node too), so both observers pay the same client-side costs.

Both ends read CLOCK_MONOTONIC (Python's monotonic_ns, node's hrtime), so no wall-clock offset between
the two processes enters the figures.

Usage: python bench/insert_to_observed.py [--rate 50] [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
import uuid

import httpx
from harness import REPO, Row, percentile, running_baseline, running_server, table

CONVEX_OBSERVER = """
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import WebSocket from "ws";
const client = new ConvexClient(process.argv[1], { webSocketConstructor: WebSocket, unsavedChangesWarning: false, logger: false });
client.onUpdate(makeFunctionReference("bench:latest"), { channel: process.argv[2] }, (doc) => {
  process.stdout.write(JSON.stringify({ n: doc === null ? null : doc.n, at: Number(process.hrtime.bigint()) / 1e6 }) + "\\n");
});
"""

BARE_OBSERVER = """
import WebSocket from "ws";
const socket = new WebSocket(process.argv[1].replace("http", "ws") + "/observe");
socket.on("open", () => process.stdout.write(JSON.stringify({ n: null }) + "\\n"));
socket.on("message", (data) => {
  const event = JSON.parse(data);
  if (event.channel === process.argv[2]) {
    process.stdout.write(JSON.stringify({ n: event.n, at: Number(process.hrtime.bigint()) / 1e6 }) + "\\n");
  }
});
"""


def observe(url: str, script: str, path: str, rate: float, seconds: float) -> tuple[list[float], int]:
    """Latencies (ms) from sending each mutation to the observer seeing it, and how many were sent."""
    channel = uuid.uuid4().hex
    observer = subprocess.Popen(["node", "--input-type=module", "-e", script, url, channel],
                                cwd=REPO / "tests" / "js", stdout=subprocess.PIPE, text=True)
    seen: dict[int, float] = {}
    ready = threading.Event()

    def read() -> None:
        for line in observer.stdout:
            event = json.loads(line)
            if event["n"] is not None:
                seen.setdefault(int(event["n"]), event["at"])
            ready.set()

    threading.Thread(target=read, daemon=True).start()
    try:
        if not ready.wait(30):
            raise SystemExit(f"the observer of {url} did not start")
        sent: dict[int, float] = {}
        total = int(rate * seconds)
        with httpx.Client(base_url=url) as http:
            start = time.monotonic()
            for n in range(total):
                time.sleep(max(0.0, start + n / rate - time.monotonic()))
                sent[n] = time.monotonic_ns() / 1e6  # CLOCK_MONOTONIC, as node's hrtime: one clock for both
                http.post("/api/mutation", json={"path": path, "args": {"channel": channel, "n": n}}).raise_for_status()
        deadline = time.monotonic() + 10
        while len(seen) < total and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        observer.terminate()
    return [seen[n] - sent[n] for n in sent if n in seen], total


def run(rate: float = 50.0, seconds: float = 10.0) -> list[Row]:
    with running_server() as server:
        ours, total = observe(server.url, CONVEX_OBSERVER, "bench:post", rate, seconds)
        with running_baseline(server.dsn) as baseline:
            theirs, _ = observe(baseline.url, BARE_OBSERVER, "bench:postNotify", rate, seconds)
    p50 = percentile(ours, 0.5)
    note = f"{len(ours)}/{total} and {len(theirs)}/{total} observed"
    return [
        Row("4 insert-to-observed", f"p50 at {rate:g}/s", p50, percentile(theirs, 0.5), "ms", "< 5 ms", p50 < 5.0, note),
        Row("4 insert-to-observed", f"p99 at {rate:g}/s", percentile(ours, 0.99), percentile(theirs, 0.99), "ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="mutations per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()
    print(table(run(options.rate, options.seconds)))


if __name__ == "__main__":
    main()
