"""Shared benchmark plumbing: convexpy and the baseline on one embedded PostgreSQL, process memory,
percentiles, and the result rows every workload reports."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import httpx

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    url: str
    pid: int
    data_dir: Path | None = None

    @property
    def host_port(self) -> tuple[str, int]:
        host, port = self.url.removeprefix("http://").split(":")
        return host, int(port)

    @property
    def dsn(self) -> str:
        """The DSN of the embedded PostgreSQL behind a server started by :func:`running_server`."""
        pgdata = self.data_dir / "postgres"
        socket_dir = (pgdata / "postmaster.pid").read_text().splitlines()[4].strip()
        return f"postgresql://postgres@/convex_self_hosted?host={socket_dir}"

    def rss_mb(self) -> float:
        """Resident memory of the server process itself (PostgreSQL's processes are not counted)."""
        for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError(f"no VmRSS for process {self.pid}")


def _wait_until_up(process: subprocess.Popen, probe) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            probe()
            return
        except httpx.HTTPError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("the server did not start") from None
            time.sleep(0.2)


@contextmanager
def running_server(functions: Path = BENCH / "functions", extra: list[str] | None = None) -> Iterator[Server]:
    """``convexpy serve`` on a fresh embedded PostgreSQL in a temporary folder."""
    with tempfile.TemporaryDirectory(prefix="convexpy-bench-") as data:
        port, site = free_port(), free_port()
        process = subprocess.Popen(
            [sys.executable, "-m", "convexpy", "serve", "--functions", str(functions), "--data-dir", data,
             "--port", str(port), "--site-port", str(site), "--host", "127.0.0.1", "--log-level", "warning", *(extra or [])],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        url = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(process, lambda: httpx.get(url + "/version", timeout=1).raise_for_status())
            yield Server(url, process.pid, Path(data))
        finally:
            process.terminate()
            process.wait(timeout=30)


@contextmanager
def running_baseline(dsn: str) -> Iterator[Server]:
    """``bench/baseline_server.py`` on the given database (its tables created first)."""
    import asyncio

    import asyncpg
    from baseline_server import create_tables

    async def setup() -> None:
        connection = await asyncpg.connect(dsn)
        try:
            await create_tables(connection)
        finally:
            await connection.close()

    asyncio.run(setup())
    port = free_port()
    process = subprocess.Popen([sys.executable, str(BENCH / "baseline_server.py"), dsn, str(port)])
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(process, lambda: httpx.post(url + "/api/query", json={"args": {"sid": ""}}, timeout=1).raise_for_status())
        yield Server(url, process.pid)
    finally:
        process.terminate()
        process.wait(timeout=30)


def percentile(samples: list[float], fraction: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


@dataclass
class Row:
    """One figure of a workload, for convexpy and the baseline measured in the same run."""

    workload: str
    metric: str
    convexpy: float
    baseline: float | None
    unit: str
    target: str = ""
    met: bool | None = None
    note: str = ""

    @property
    def ratio(self) -> str:
        if not self.baseline:
            return "-"
        return f"{self.convexpy / self.baseline:.2f}x"


def _figure(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ms" or abs(value) < 10 and value != int(value):
        return f"{value:.2f} {unit}".rstrip()
    return f"{value:,.0f} {unit}".rstrip()


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (ratio = convexpy / baseline)."""
    lines = ["| workload | metric | convexpy | baseline | ratio | target | met | notes |", "|---|---|---:|---:|---:|---|---|---|"]
    for row in rows:
        met = "-" if row.met is None else ("yes" if row.met else "**no**")
        lines.append(f"| {row.workload} | {row.metric} | {_figure(row.convexpy, row.unit)} | {_figure(row.baseline, row.unit)} "
                     f"| {row.ratio} | {row.target} | {met} | {row.note} |")
    return "\n".join(lines)


def load_note(ours, theirs) -> str:
    """The load generator's CPU share (1 core = 100%) and errors for both servers' runs."""
    note = f"loadgen CPU {ours.cpu_share:.0%} / {theirs.cpu_share:.0%}"
    if ours.errors or theirs.errors:
        note += f"; errors {ours.errors} / {theirs.errors}"
    return note


def run_for_seconds(run, description: str) -> None:
    """The command line of a workload whose only knob is ``--seconds``: run it, print its table."""
    import argparse

    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seconds", type=float, default=10.0)
    print(table(run(parser.parse_args().seconds)))


def seed(server: Server, path: str, total: int, batch: int) -> float:
    """Call mutation ``path`` with ``{"start", "count"}`` until ``total`` documents exist; seconds taken."""
    started = time.monotonic()
    with httpx.Client(base_url=server.url, timeout=300) as http:
        for start in range(0, total, batch):
            args = {"start": start, "count": min(batch, total - start)}
            response = http.post("/api/mutation", json={"path": path, "args": args})
            response.raise_for_status()
            if response.json()["status"] != "success":
                raise SystemExit(f"seeding with {path} failed: {response.text[:300]}")
    return time.monotonic() - started
