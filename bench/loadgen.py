"""A small HTTP/1.1 load generator: keep-alive connections on raw asyncio streams.

Runs in its own process (so it does not share the server's cores' Python time
with the server) and reports its own CPU use, so a saturated generator is
visible next to the figures it produced.

Usage (as a module): ``run(host, port, path, make_body, concurrency, seconds, total=None) -> LoadResult``.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import resource
import time
from dataclasses import dataclass
from typing import Callable

import orjson
import uvloop


@dataclass
class LoadResult:
    requests: int
    errors: int
    seconds: float
    latencies_ms: list[float]
    cpu_s: float

    @property
    def rate(self) -> float:
        return self.requests / self.seconds

    @property
    def cpu_share(self) -> float:
        """The generator's CPU time per wall second (1.0 = one core saturated)."""
        return self.cpu_s / self.seconds


async def _connection(host: str, port: int, path: str, make_body: Callable[[int, int], dict], worker: int,
                      stop_at: float, total: int | None, out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    n = 0
    while time.monotonic() < stop_at:
        if total is not None:  # numbered across all connections: each of 0 .. total-1 is asked once
            if out["issued"] >= total:
                break
            n = out["issued"]
            out["issued"] += 1
        body = orjson.dumps(make_body(worker, n))
        request = (f"POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
                   f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        started = time.perf_counter()
        writer.write(request)
        head = await reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        payload = await reader.readexactly(length)
        out["latencies"].append((time.perf_counter() - started) * 1000)
        if not head.startswith(b"HTTP/1.1 200") or b'"status":"success"' not in payload:
            out["errors"] += 1
        out["requests"] += 1
        n += 1
    writer.close()


def _child(args: tuple, queue: multiprocessing.Queue) -> None:
    host, port, path, make_body, concurrency, seconds, total = args
    out = {"requests": 0, "errors": 0, "latencies": [], "issued": 0}

    async def main() -> float:
        start = time.monotonic()
        await asyncio.gather(*(_connection(host, port, path, make_body, w, start + seconds, total, out) for w in range(concurrency)))
        return time.monotonic() - start

    elapsed = uvloop.run(main())  # the cheaper loop leaves more of the machine to the server under test
    usage = resource.getrusage(resource.RUSAGE_SELF)
    queue.put(LoadResult(out["requests"], out["errors"], elapsed, out["latencies"], usage.ru_utime + usage.ru_stime))


def run(host: str, port: int, path: str, make_body: Callable[[int, int], dict], concurrency: int, seconds: float,
        total: int | None = None) -> LoadResult:
    """Drive ``concurrency`` keep-alive connections for ``seconds`` from a separate process.

    ``make_body(worker, n)`` makes each request; with ``total``, ``n`` counts requests across all
    connections and the run ends after ``total`` of them (or ``seconds``, whichever comes first).
    """
    queue: multiprocessing.Queue = multiprocessing.get_context("fork").Queue()
    process = multiprocessing.get_context("fork").Process(target=_child, args=((host, port, path, make_body, concurrency, seconds, total), queue))
    process.start()
    try:
        result = queue.get(timeout=seconds + 60)
    except Exception:  # noqa: BLE001 - the child died: say so rather than wait forever
        process.kill()
        raise SystemExit("the load generator failed; see its traceback above") from None
    process.join()
    return result
