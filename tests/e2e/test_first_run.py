"""What a new user sees: a short banner, the variables the official CLI reads, a help screen with
only their commands, a safe default address, and one log line for each failed request."""

from __future__ import annotations

import subprocess
import sys
import time

import httpx

from convexpy.settings import Settings

from .conftest import FUNCTIONS, _start


def test_the_first_screen_is_a_short_banner(tmp_path):
    running = _start(None, tmp_path, FUNCTIONS, None, None, "--log-level", "info")
    try:
        startup = list(running.output)
        assert len(startup) <= 12, startup
        assert not any("initdb" in line or "pg_ctl" in line or "Uvicorn running" in line for line in startup), startup
        banner = "".join(startup)
        assert "CONVEX_SELF_HOSTED_URL" in banner and "CONVEX_SELF_HOSTED_ADMIN_KEY" in banner
        assert f"Data:  {tmp_path}" in banner
        assert startup[-1].startswith("  Admin key: ")
    finally:
        running.stop()


def test_each_failed_request_is_one_info_line_with_its_code(tmp_path, server_database):
    running = _start(server_database, tmp_path, FUNCTIONS, None, None, "--log-level", "info")
    try:
        httpx.post(running.url + "/api/mutation", content=b"not json", headers={"content-type": "application/json"}, timeout=10)
        deadline = time.monotonic() + 10
        while not any("POST /api/mutation 400 BadJsonBody" in line for line in running.output):
            assert time.monotonic() < deadline, list(running.output)[-5:]
            time.sleep(0.05)
        assert sum("/api/mutation" in line for line in running.output) == 1
        assert not any("Traceback" in line for line in running.output)
    finally:
        running.stop()


def test_help_shows_only_the_users_commands():
    shown = subprocess.run([sys.executable, "-m", "convexpy", "--help"], capture_output=True, text=True, timeout=30).stdout
    assert "{serve,dev,admin-key,env}" in shown
    assert "worker" not in shown and "SUPPRESS" not in shown


def test_the_default_address_is_loopback_only():
    assert Settings.defaults().host == "127.0.0.1"
