"""A cuttable TCP proxy for tests that drop connections (client to server, or server to PostgreSQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


class CuttableProxy:
    """A TCP proxy on 127.0.0.1 to ``target`` (a port, or a Unix socket path) whose live connections
    :meth:`cut` drops at once.

    It runs in its own process (``proxy_process.py``): the PyPI client's blocking
    calls hold the GIL, so a proxy thread in the test process would stall with it.
    """

    def __init__(self, target: int | str):
        self.process = subprocess.Popen(
            [sys.executable, str(Path(__file__).with_name("proxy_process.py")), str(target)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )
        self.port = int(self.process.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"

    def _command(self, word: str) -> None:
        self.process.stdin.write(word + "\n")
        self.process.stdin.flush()
        assert self.process.stdout.readline().strip() == "ok"

    def cut(self) -> None:
        """Drop every open connection (new ones are still accepted unless paused)."""
        self._command("cut")

    def pause(self) -> None:
        """Refuse new connections until :meth:`resume`."""
        self._command("pause")

    def resume(self) -> None:
        self._command("resume")

    def close(self) -> None:
        self.process.stdin.close()
        self.process.wait(timeout=10)
        self.process.stdout.close()
