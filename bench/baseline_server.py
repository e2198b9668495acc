"""The thinnest possible server for the by_sid lookup: starlette + uvicorn + asyncpg + orjson,
one indexed SELECT per request, no MVCC. The floor convexpy's by_sid path is measured against.

Usage: python bench/baseline_server.py <dsn> <port>   (serves POST /api/query {"args": {"sid": ...}})
"""

from __future__ import annotations

import contextlib
import sys

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

DSN, PORT = sys.argv[1], int(sys.argv[2])
pool: asyncpg.Pool | None = None


@contextlib.asynccontextmanager
async def lifespan(app: Starlette):
    global pool
    pool = await asyncpg.create_pool(DSN, min_size=4, max_size=16)
    yield
    await pool.close()


async def query(request: Request) -> Response:
    body = orjson.loads(await request.body())
    row = await pool.fetchrow("SELECT id, sid, name, owner FROM baseline_services WHERE sid = $1", body["args"]["sid"])
    value = None if row is None else {"_id": row["id"], "sid": row["sid"], "name": row["name"], "owner": row["owner"]}
    return Response(orjson.dumps({"status": "success", "value": value}), media_type="application/json")


app = Starlette(routes=[Route("/api/query", query, methods=["POST"])], lifespan=lifespan)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=PORT, log_level="warning", access_log=False)
