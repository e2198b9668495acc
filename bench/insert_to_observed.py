"""Insert-to-observed latency: a mutation over HTTP, timed until a subscribed official
npm ConvexClient (over ws) sees it. Mutations are sent at a fixed rate.

Usage: python bench/insert_to_observed.py [--rate 50] [--seconds 10]
Prints p50/p90/p99 in milliseconds.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import threading
import time
import uuid

import httpx
from harness import REPO, percentile, running_server

OBSERVER = """
import { ConvexClient } from "convex/browser";
import { makeFunctionReference } from "convex/server";
import WebSocket from "ws";
const client = new ConvexClient(process.argv[1], { webSocketConstructor: WebSocket, unsavedChangesWarning: false, logger: false });
client.onUpdate(makeFunctionReference("bench:latest"), { channel: process.argv[2] }, (doc) => {
  process.stdout.write(JSON.stringify({ n: doc === null ? null : doc.n, at: performance.timeOrigin + performance.now() }) + "\\n");
});
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=50.0, help="mutations per second")
    parser.add_argument("--seconds", type=float, default=10.0)
    options = parser.parse_args()

    with running_server() as server:
        url = server.url
        channel = uuid.uuid4().hex
        observer = subprocess.Popen(
            ["node", "--input-type=module", "-e", OBSERVER, url, channel],
            cwd=REPO / "tests" / "js", stdout=subprocess.PIPE, text=True,
        )
        seen: dict[int, float] = {}
        first = threading.Event()

        def read() -> None:
            for line in observer.stdout:
                event = json.loads(line)
                if event["n"] is not None:
                    seen.setdefault(int(event["n"]), event["at"])
                first.set()

        threading.Thread(target=read, daemon=True).start()
        if not first.wait(30):
            raise SystemExit("the observer did not receive its first result")
        sent: dict[int, float] = {}
        total = int(options.rate * options.seconds)
        interval = 1.0 / options.rate
        with httpx.Client(base_url=url) as http:
            start = time.monotonic()
            for n in range(total):
                time.sleep(max(0.0, start + n * interval - time.monotonic()))
                sent[n] = time.time() * 1000
                http.post("/api/mutation", json={"path": "bench:post", "args": {"channel": channel, "n": n}}).raise_for_status()
        deadline = time.monotonic() + 10
        while len(seen) < total and time.monotonic() < deadline:
            time.sleep(0.05)
        observer.terminate()
        latencies = [seen[n] - sent[n] for n in sent if n in seen]
        print(f"insert-to-observed over {len(latencies)}/{total} mutations at {options.rate:g}/s "
              f"(HTTP mutation -> npm ConvexClient update)")
        print(f"  p50 {percentile(latencies, 0.5):.2f} ms   p90 {percentile(latencies, 0.9):.2f} ms   "
              f"p99 {percentile(latencies, 0.99):.2f} ms   max {max(latencies):.2f} ms")


if __name__ == "__main__":
    main()
