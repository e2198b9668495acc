"""`convexpy dev` reloads the functions folder when a file changes: an edited function serves its new
code and re-runs its subscriptions; a syntax error is reported and the last good code keeps serving."""

from __future__ import annotations

import time

import httpx

from .conftest import _start
from .live import LiveJsClient

SCHEMA = 'from convexpy import define_schema, define_table, v\n\nschema = define_schema({"notes": define_table({"text": v.string()})})\n'


def greeting(version: str) -> str:
    return f'from convexpy import query\n\n\n@query\nasync def greet(ctx, args):\n    return "{version}"\n'


def greet(url: str) -> str:
    body = httpx.post(url + "/api/query", json={"path": "hello:greet", "args": {}}, timeout=30).json()
    assert body["status"] == "success", body
    return body["value"]


def wait_until(check, timeout_s: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def test_dev_picks_up_an_edited_function_and_survives_a_syntax_error(fresh_database, tmp_path, js_installed):
    folder = tmp_path / "functions"
    folder.mkdir()
    (folder / "schema.py").write_text(SCHEMA)
    (folder / "hello.py").write_text(greeting("v1"))
    server = _start(fresh_database, tmp_path / "data", folder, command="dev")
    live = LiveJsClient(server.url)
    try:
        assert greet(server.url) == "v1"
        assert live.subscribe("g", "hello:greet")["value"] == "v1"
        (folder / "hello.py").write_text(greeting("v2"))
        assert wait_until(lambda: greet(server.url) == "v2"), list(server.output)[-30:]
        assert live.next_update("g", lambda value: value == "v2")["value"] == "v2"  # the subscription re-ran

        (folder / "hello.py").write_text("from convexpy import query\n\ndef broken(:\n")
        assert wait_until(lambda: any("did not reload" in line for line in server.output))
        assert greet(server.url) == "v2"  # the last good code keeps serving

        (folder / "hello.py").write_text(greeting("v3"))
        assert wait_until(lambda: greet(server.url) == "v3")
        (folder / "more.py").write_text('from convexpy import query\n\n\n@query\nasync def added(ctx, args):\n    return 42\n')
        assert wait_until(lambda: httpx.post(server.url + "/api/query", json={"path": "more:added", "args": {}}).json().get("value") == 42)
    finally:
        live.close()
        server.stop()
