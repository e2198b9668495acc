"""Environment variables: `npx convex env` (the real CLI, offline) and `convexpy env` set them, every
function reads them (never the server's own), and a change re-runs the subscribed queries that read
one. Bad names and values get the reference error codes."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import httpx
import pytest

from .conftest import JS_DIR
from .test_typescript_deploy import _closed_port


def npx_convex(server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1", "CONVEX_VERSION_API_ORIGIN": f"http://127.0.0.1:{_closed_port()}"}
    for name in ("CONVEX_DEPLOYMENT", "CONVEX_SELF_HOSTED_URL", "CONVEX_SELF_HOSTED_ADMIN_KEY"):
        env.pop(name, None)
    return subprocess.run([str(JS_DIR / "node_modules" / ".bin" / "convex"), *args, "--url", server.url, "--admin-key", server.admin_key],
                          cwd=JS_DIR, env=env, capture_output=True, text=True, timeout=120)


def query(server, path: str, args: dict) -> dict:
    return httpx.post(server.url + "/api/query", json={"path": path, "args": args}).json()


def test_npx_convex_env_sets_lists_gets_and_removes_what_functions_read(server, js_installed):
    name = "E2E_" + uuid.uuid4().hex[:8].upper()
    assert query(server, "settings:read", {"name": name})["value"] is None
    assert npx_convex(server, "env", "set", name, "first value").returncode == 0
    assert query(server, "settings:read", {"name": name})["value"] == "first value"  # the very next call
    listed = npx_convex(server, "env", "list")
    assert listed.returncode == 0 and f"{name}=first value" in listed.stdout
    got = npx_convex(server, "env", "get", name)
    assert got.returncode == 0 and got.stdout.strip() == "first value"
    action = httpx.post(server.url + "/api/action", json={"path": "settings:readInAction", "args": {"name": name}}).json()
    assert action["value"] == "first value"
    assert npx_convex(server, "env", "remove", name).returncode == 0
    assert query(server, "settings:read", {"name": name})["value"] is None
    # The server's own environment is not the functions': its PATH is not a variable.
    assert query(server, "settings:read", {"name": "PATH"})["value"] is None
    assert query(server, "settings:read", {"name": "CONVEX_CLOUD_URL"})["value"] == server.url


def test_a_change_re_runs_the_subscribed_queries_that_read_the_variable(server, live):
    audience = "AUDIENCE"
    httpx.post(server.url + "/api/update_environment_variables", headers={"Authorization": f"Convex {server.admin_key}"},
               json={"changes": [{"name": audience, "value": None}, {"name": "GREETING", "value": None}]}).raise_for_status()
    assert live.subscribe("g", "settings:greeting")["value"] == "hello, world"
    changed = httpx.post(server.url + "/api/update_environment_variables", headers={"Authorization": f"Convex {server.admin_key}"},
                         json={"changes": [{"name": audience, "value": "Convex users"}, {"name": "GREETING", "value": "hi"}]})
    assert changed.status_code == 200 and changed.json() == {}
    assert live.next_update("g", lambda value: value != "hello, world")["value"] == "hi, Convex users"  # both in one commit


@pytest.mark.parametrize("change, code", [
    ({"name": "1BAD", "value": "x"}, "EnvironmentVariableNameInvalid"),
    ({"name": "has-dash", "value": "x"}, "EnvironmentVariableNameInvalid"),
    ({"name": "N" * 257, "value": "x"}, "EnvironmentVariableNameTooLong"),
    ({"name": "BIG", "value": "x" * 8193}, "EnvironmentVariableValueTooLarge"),
    ({"name": "CONVEX_SITE_URL", "value": "http://elsewhere"}, "EnvVarNameForbidden"),
    ({"name": "NOT_A_STRING", "value": 5}, "BadJsonBody"),
])
def test_bad_changes_get_the_reference_error_and_change_nothing(server, change, code):
    batch = {"changes": [{"name": "ALONGSIDE", "value": "kept out"}, change]}
    refused = httpx.post(server.url + "/api/update_environment_variables", headers={"Authorization": f"Convex {server.admin_key}"}, json=batch)
    assert refused.status_code == 400 and refused.json()["code"] == code, refused.text
    assert query(server, "settings:read", {"name": "ALONGSIDE"})["value"] is None  # all or nothing


def test_environment_variables_need_the_admin_key(server):
    assert httpx.post(server.url + "/api/update_environment_variables", json={"changes": []}).status_code == 401
    assert httpx.get(server.url + "/api/v1/list_environment_variables").status_code == 401


def test_convexpy_env_on_the_command_line(server):
    data_dir = next(line.split("Data:")[1].split("(")[0].strip() for line in server.output if "Data:" in line)

    def convexpy_env(*args: str) -> subprocess.CompletedProcess:
        return subprocess.run([sys.executable, "-m", "convexpy", "env", *args, "--url", server.url, "--data-dir", data_dir],
                              capture_output=True, text=True, timeout=60)

    assert convexpy_env("set", "FROM_CLI=one=two").returncode == 0
    assert convexpy_env("get", "FROM_CLI").stdout.strip() == "one=two"
    assert "FROM_CLI=one=two" in convexpy_env("list").stdout
    assert convexpy_env("remove", "FROM_CLI").returncode == 0
    missing = convexpy_env("get", "FROM_CLI")
    assert missing.returncode == 1 and "not found" in missing.stderr
    bad = convexpy_env("set", "9LIVES", "x")
    assert bad.returncode == 1 and "must begin with a letter" in bad.stderr
