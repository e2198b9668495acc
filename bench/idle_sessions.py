"""Workload 5, many idle WebSocket sessions: 1,000 sync sessions with one subscription each (distinct
arguments, so 1,000 separate query runs), then one write that invalidates all of them.

Prints the server's RSS with the sessions open (and its growth over the idle server), and the time from
sending the write until the last session received its Transition. Baseline: 1,000 bare WebSockets on the
baseline server, one INSERT + NOTIFY relayed to all of them.

Usage: python bench/idle_sessions.py [--sessions 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import time
import uuid

import httpx
from harness import Row, Server, running_baseline, running_server, table
from websockets.asyncio.client import connect

CONNECT_AT_ONCE = 50


async def _convex_session(url: str, channel: str, client: int, marker: float, ready: asyncio.Event, arrived: list) -> None:
    async with connect(url.replace("http://", "ws://") + "/api/1.48.0/sync", max_size=None) as ws:
        await ws.send(json.dumps({"type": "Connect", "sessionId": str(uuid.uuid4()), "connectionCount": 0,
                                  "lastCloseReason": "InitialConnect"}))
        await ws.send(json.dumps({"type": "ModifyQuerySet", "baseVersion": 0, "newVersion": 1, "modifications": [
            {"type": "Add", "queryId": 0, "udfPath": "bench:latestFor", "args": [{"channel": channel, "client": client}]}]}))
        first = True
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] != "Transition":
                continue
            if first:
                first = False
                ready.set()
                continue
            values = [m.get("value") for m in message["modifications"] if m["type"] == "QueryUpdated"]
            if any(isinstance(value, dict) and value.get("n") == marker for value in values):
                arrived.append(time.perf_counter())
                return


async def _bare_session(url: str, channel: str, marker: float, ready: asyncio.Event, arrived: list) -> None:
    async with connect(url.replace("http://", "ws://") + "/observe", max_size=None) as ws:
        ready.set()
        async for raw in ws:
            event = json.loads(raw)
            if event.get("channel") == channel and event.get("n") == marker:
                arrived.append(time.perf_counter())
                return


async def fan_out(server: Server, sessions: int, path: str, bare: bool) -> tuple[float, float, float, float]:
    """Open the sessions, write once; (idle RSS MB, RSS MB with sessions, ms until the last saw it, client CPU s)."""
    channel, marker = uuid.uuid4().hex, 7.0
    async with httpx.AsyncClient(base_url=server.url) as http:  # the first write of a fresh server prepares statements
        warm_up = await http.post("/api/mutation", json={"path": path, "args": {"channel": "warm-up", "n": 0.0}})
        warm_up.raise_for_status()
    idle_rss = server.rss_mb()
    arrived: list[float] = []
    readies = [asyncio.Event() for _ in range(sessions)]
    tasks = []
    for n in range(sessions):
        session = (_bare_session(server.url, channel, marker, readies[n], arrived) if bare
                   else _convex_session(server.url, channel, n, marker, readies[n], arrived))
        tasks.append(asyncio.create_task(session))
        if n % CONNECT_AT_ONCE == CONNECT_AT_ONCE - 1:
            await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies[: n + 1])), 60)
    await asyncio.wait_for(asyncio.gather(*(ready.wait() for ready in readies)), 60)
    await asyncio.sleep(1.0)
    rss = server.rss_mb()
    cpu_before = resource.getrusage(resource.RUSAGE_SELF)
    async with httpx.AsyncClient(base_url=server.url) as http:
        started = time.perf_counter()
        response = await http.post("/api/mutation", json={"path": path, "args": {"channel": channel, "n": marker}})
        response.raise_for_status()
        await asyncio.wait_for(asyncio.gather(*tasks), 60)
    cpu_after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return idle_rss, rss, (max(arrived) - started) * 1000, cpu


def run(sessions: int = 1000) -> list[Row]:
    with running_server() as server:
        ours = asyncio.run(fan_out(server, sessions, "bench:post", bare=False))
        with running_baseline(server.dsn) as baseline:
            theirs = asyncio.run(fan_out(baseline, sessions, "bench:postNotify", bare=True))
    return [
        Row("5 idle sessions", f"server RSS with {sessions:,} subscribed sessions", ours[1], theirs[1], "MB", "< 300 MB",
            ours[1] < 300, f"idle server {ours[0]:.0f} / {theirs[0]:.0f} MB"),
        Row("5 idle sessions", "one write until the last session has it", ours[2], theirs[2], "ms",
            note=f"{sessions:,} query re-runs; client CPU {ours[3] * 1000:.0f} / {theirs[3] * 1000:.0f} ms"),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sessions", type=int, default=1000)
    print(table(run(parser.parse_args().sessions)))


if __name__ == "__main__":
    main()
