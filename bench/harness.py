"""Shared benchmark plumbing: a server on the embedded PostgreSQL, and percentiles."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


_DATA_DIRS: dict[str, str] = {}


def embedded_dsn(url: str) -> str:
    """The DSN of the embedded PostgreSQL behind a server started by :func:`running_server`."""
    pgdata = Path(_DATA_DIRS[url]) / "postgres"
    socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
    return f"postgresql://postgres@/convex_self_hosted?host={socket_dir}"


@contextmanager
def running_server(functions: Path = BENCH / "functions", extra: list[str] | None = None) -> Iterator[str]:
    """``convexpy serve`` on a fresh embedded PostgreSQL in a temporary folder; yields its URL."""
    with tempfile.TemporaryDirectory(prefix="convexpy-bench-") as data:
        port, site = free_port(), free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "convexpy", "serve", "--functions", str(functions), "--data-dir", data,
             "--port", str(port), "--site-port", str(site), "--host", "127.0.0.1", "--log-level", "warning", *(extra or [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        url = f"http://127.0.0.1:{port}"
        _DATA_DIRS[url] = data
        try:
            deadline = time.monotonic() + 120
            while True:
                try:
                    httpx.get(url + "/version", timeout=1).raise_for_status()
                    break
                except httpx.HTTPError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise SystemExit("the server did not start") from None
                    time.sleep(0.2)
            yield url
        finally:
            process.terminate()
            process.wait(timeout=30)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]
