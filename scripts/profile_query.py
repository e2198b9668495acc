"""Profile convexpy's /api/query path in-process (no network): where does a cached by_sid query spend its time?

Usage: .venv/bin/python scripts/profile_query.py <dsn with a seeded bench deployment> [requests [sort [rows]]]
Starts the app on the bench functions against the given database, warms the cache, then runs
the ASGI app directly under cProfile and prints the top ``rows`` (25) functions sorted by ``sort``
(a pstats key: tottime by default, or cumulative).
"""

from __future__ import annotations

import asyncio
import cProfile
import pstats
import random
import sys
from pathlib import Path

import orjson

from convexpy.database import Database
from convexpy.runtime.auth import AdminKeys
from convexpy.runtime.calls import Deployment
from convexpy.runtime.executor import Executor
from convexpy.runtime.loader import load_functions
from convexpy.server.app import create_api_app

FUNCTIONS = Path(__file__).resolve().parent.parent / "bench" / "functions"


async def call(app, body: bytes) -> bytes:
    scope = {"type": "http", "method": "POST", "path": "/api/query", "raw_path": b"/api/query", "query_string": b"",
             "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
             "http_version": "1.1", "scheme": "http", "server": ("127.0.0.1", 3210), "client": ("127.0.0.1", 1), "root_path": ""}
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    return sent[-1].get("body", b"")


async def main(dsn: str, requests: int) -> None:
    registry = load_functions(FUNCTIONS)
    db = await Database.open(dsn, follow=False)
    await db.schemas.push(registry.schema)
    app = create_api_app(Deployment(Executor(registry, db, FUNCTIONS), AdminKeys("x", "y"), "x"))
    bodies = [orjson.dumps({"path": "bench:getBySid", "args": {"sid": f"s{n:07d}"}, "format": "convex_encoded_json"}) for n in range(1000)]
    for body in bodies:
        await call(app, body)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(requests):
        await call(app, random.choice(bodies))
    profiler.disable()
    pstats.Stats(profiler).sort_stats(sys.argv[3] if len(sys.argv) > 3 else "tottime").print_stats(int(sys.argv[4]) if len(sys.argv) > 4 else 25)
    await db.close()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 5000))
