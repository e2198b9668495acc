"""Test helpers for realtime clients: the npm ConvexClient as a subprocess, and a cuttable TCP proxy."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from typing import Any, Callable

from .conftest import JS_DIR


class LiveJsClient:
    """An official npm ConvexClient (over ``ws``) in a node process, driven by JSON lines."""

    def __init__(self, url: str):
        self.process = subprocess.Popen(
            ["node", str(JS_DIR / "live.mjs"), url], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        self.events: queue.Queue[dict] = queue.Queue()
        self.seen: list[dict] = []
        self.stray_output: list[str] = []
        self._ids = itertools.count()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            try:
                self.events.put(json.loads(line))
            except json.JSONDecodeError:
                self.stray_output.append(line)

    def send(self, **command: Any) -> None:
        self.process.stdin.write(json.dumps(command) + "\n")
        self.process.stdin.flush()

    def wait_for(self, predicate: Callable[[dict], bool], timeout: float = 20.0) -> dict:
        """The first new event matching ``predicate`` (earlier ones are kept in ``seen``)."""
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no matching event; seen: {self.seen[-10:]}")
            try:
                event = self.events.get(timeout=remaining)
            except queue.Empty:
                continue
            self.seen.append(event)
            if predicate(event):
                return event

    def subscribe(self, sub: str, path: str, args: dict | None = None) -> dict:
        self.send(cmd="subscribe", sub=sub, path=path, args=args or {})
        return self.wait_for(lambda e: e.get("sub") == sub and e["event"] in ("update", "error"))

    def next_update(self, sub: str, where: Callable[[Any], bool] = lambda value: True, timeout: float = 20.0) -> dict:
        return self.wait_for(lambda e: e.get("sub") == sub and e["event"] == "update" and where(e["value"]), timeout)

    def call(self, kind: str, path: str, args: dict | None = None) -> dict:
        req = f"r{next(self._ids)}"
        self.send(cmd=kind, req=req, path=path, args=args or {})
        return self.wait_for(lambda e: e.get("event") == "result" and e.get("req") == req)

    def updates(self, sub: str) -> list[dict]:
        return [e for e in self.seen if e.get("sub") == sub and e["event"] == "update"]

    def close(self) -> None:
        try:
            self.send(cmd="close")
            self.process.wait(timeout=10)
        except (BrokenPipeError, subprocess.TimeoutExpired, OSError):
            self.process.kill()
            self.process.wait()
        for stream in (self.process.stdin, self.process.stdout, self.process.stderr):
            try:
                stream.close()
            except OSError:
                pass
