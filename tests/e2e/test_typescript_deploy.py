"""`npx convex deploy` (the real CLI 1.48, offline) pushes an unchanged TypeScript `convex/` folder,
and the official clients call the pushed functions, run in V8 in runner processes."""

from __future__ import annotations

import concurrent.futures
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import httpx
import pytest
from convex.http_client import ConvexHttpClient

from ..conftest import create_database
from .conftest import JS_DIR, _start

HERE = Path(__file__).resolve().parent / "typescript"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]  # closed again when this returns: the CLI's version check fails fast


def make_project(tmp_path: Path, edit=None) -> Path:
    """A copy of the fixture project (optionally edited), with the test suite's npm packages."""
    project = tmp_path / "project"
    shutil.copytree(HERE / "project", project)
    (project / "node_modules").symlink_to(JS_DIR / "node_modules")
    if edit is not None:
        edit(project / "convex")
    return project


def convex_cli(project: Path, server, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "CI": "1", "CONVEX_VERSION_API_ORIGIN": f"http://127.0.0.1:{_closed_port()}"}
    for name in ("CONVEX_DEPLOYMENT", "CONVEX_SELF_HOSTED_URL", "CONVEX_SELF_HOSTED_ADMIN_KEY"):
        env.pop(name, None)
    return subprocess.run(
        [str(JS_DIR / "node_modules" / ".bin" / "convex"), *args, "--url", server.url, "--admin-key", server.admin_key],
        cwd=project, env=env, capture_output=True, text=True, timeout=240,
    )


def deploy(project: Path, server, *extra: str) -> subprocess.CompletedProcess:
    return convex_cli(project, server, "deploy", "--typecheck", "disable", *extra)


@pytest.fixture(scope="module")
async def ts_database(pg_server_url):
    return await create_database(pg_server_url, "cxts_")


@pytest.fixture(scope="module")
def ts_server(ts_database, tmp_path_factory):
    """A deployment of its own (a push replaces the schema), serving a Python folder beside the push."""
    running = _start(ts_database, tmp_path_factory.mktemp("ts-server"), HERE / "python", None, None, "--runners", "2")
    try:
        first = deploy(make_project(tmp_path_factory.mktemp("first-push")), running)
        assert first.returncode == 0, first.stdout + first.stderr
        assert "Deployed Convex functions" in first.stdout + first.stderr
        ConvexHttpClient(running.url).mutation("yellowpages:upsert", SERVICE)  # what the tests below read
        yield running
    finally:
        running.stop()


SERVICE = {"sid": "s-1", "name": "billing", "owner": "ada", "system": "shift", "language": "ts"}


def test_pushed_functions_answer_the_official_clients(ts_server, js_installed):
    client = ConvexHttpClient(ts_server.url)
    service_id = client.mutation("yellowpages:upsert", SERVICE)
    found = client.query("yellowpages:getBySid", {"sid": "s-1"})
    assert found["_id"] == service_id and found["owner"] == "ada"
    assert client.query("yellowpages:getService", {"name": "billing"})["sid"] == "s-1"
    assert client.query("greetings:hello") == "hello from Python"  # the Python folder is still served

    npm = ts_server.js([
        {"op": "query", "path": "yellowpages:getBySid", "args": {"sid": "s-1"}},
        {"op": "mutation", "path": "yellowpages:upsert", "args": {**SERVICE, "owner": "bo"}},
    ])
    assert npm[0]["value"]["_id"] == service_id
    assert npm[1]["value"] == service_id
    assert client.query("yellowpages:getBySid", {"sid": "s-1"})["owner"] == "bo"


def test_log_lines_convex_error_data_and_argument_validation(ts_server):
    response = httpx.post(ts_server.url + "/api/mutation", json={"path": "yellowpages:upsert", "args": {**SERVICE, "sid": "s-2", "name": "payroll"}}).json()
    assert response["status"] == "success"
    assert response["logLines"] == ["[INFO] 'created' 's-2' '😀'"]

    failed = httpx.post(ts_server.url + "/api/mutation", json={"path": "yellowpages:upsert", "args": {**SERVICE, "name": " "}}).json()
    assert failed["status"] == "error" and failed["errorData"] == {"code": "INVALID_NAME", "sid": "s-1"}
    assert "Uncaught ConvexError: {\"code\":\"INVALID_NAME\",\"sid\":\"s-1\"}" in failed["errorMessage"]

    wrong = httpx.post(ts_server.url + "/api/query", json={"path": "yellowpages:getBySid", "args": {"sid": 7}}).json()
    assert wrong["status"] == "error"
    assert "ArgumentValidationError" in wrong["errorMessage"] and "Validator: v.string()" in wrong["errorMessage"]


def test_a_mutation_that_throws_leaves_no_writes(ts_server):
    client = ConvexHttpClient(ts_server.url)
    with pytest.raises(Exception, match="failed after writing") as failure:
        client.mutation("yellowpages:upsertThenFail", {"sid": "doomed-1"})
    # Frames in the user's TypeScript, through the push's source maps; library frames left out.
    assert "at handler (../convex/yellowpages.ts:" in str(failure.value) and "convex:/" not in str(failure.value)
    assert client.query("yellowpages:getBySid", {"sid": "doomed-1"}) is None


def test_the_cli_runs_a_pushed_function(ts_server, tmp_path):
    run = convex_cli(make_project(tmp_path), ts_server, "run", "yellowpages:getBySid", '{"sid": "s-1"}')
    assert run.returncode == 0, run.stderr
    assert '"sid": "s-1"' in run.stdout


def test_codegen_and_a_dry_run_change_nothing_and_a_second_push_renames_a_function(ts_server, tmp_path):
    def rename(convex: Path) -> None:
        source = (convex / "yellowpages.ts").read_text()
        (convex / "yellowpages.ts").write_text(source.replace("export const getService", "export const findService"))

    project = make_project(tmp_path, rename)
    codegen = convex_cli(project, ts_server, "codegen", "--typecheck", "disable")  # start_push, never finished
    assert codegen.returncode == 0, codegen.stdout + codegen.stderr
    assert (project / "convex" / "_generated" / "api.d.ts").exists()
    dry = deploy(project, ts_server, "--dry-run")
    assert dry.returncode == 0, dry.stdout + dry.stderr
    client = ConvexHttpClient(ts_server.url)
    assert client.query("yellowpages:getService", {"name": "billing"})["sid"] == "s-1"

    second = deploy(project, ts_server)
    assert second.returncode == 0, second.stdout + second.stderr
    assert client.query("yellowpages:findService", {"name": "billing"})["sid"] == "s-1"
    with pytest.raises(Exception, match="Could not find public function"):
        client.query("yellowpages:getService", {"name": "billing"})


@pytest.mark.parametrize("broken, message", [
    ("export const x = ;\n", 'Unexpected ";"'),  # the CLI's bundler refuses it before pushing
    ('throw new Error("no config at import");\nexport const x = 1;\n',
     "Failed to analyze broken.js: Uncaught Error: no config at import\n    at ../convex/broken.ts:1:"),
])
def test_a_push_that_does_not_load_is_refused_and_the_old_code_keeps_serving(ts_server, tmp_path, broken, message):
    def break_it(convex: Path) -> None:
        (convex / "broken.ts").write_text(broken)

    refused = deploy(make_project(tmp_path, break_it), ts_server)
    assert refused.returncode != 0
    assert message in refused.stdout + refused.stderr
    assert ConvexHttpClient(ts_server.url).query("yellowpages:getBySid", {"sid": "s-1"})["sid"] == "s-1"


def test_a_push_with_a_bad_schema_is_refused(ts_server, tmp_path):
    def bad_schema(convex: Path) -> None:
        schema = (convex / "schema.ts").read_text()
        (convex / "schema.ts").write_text(schema.replace('.index("by_name", ["name"])', '.index("by_name", ["name"]).index("by_name", ["owner"])'))

    refused = deploy(make_project(tmp_path, bad_schema), ts_server)
    assert refused.returncode != 0
    assert "Hit an error while evaluating your schema" in refused.stdout + refused.stderr
    assert ConvexHttpClient(ts_server.url).query("yellowpages:getBySid", {"sid": "s-1"})["sid"] == "s-1"


def test_a_function_defined_in_both_languages_is_refused_clearly(ts_server, tmp_path):
    def clash(convex: Path) -> None:
        (convex / "greetings.ts").write_text(
            'import { query } from "./_generated/server";\nexport const hello = query({ args: {}, handler: async () => "ts" });\n'
        )

    refused = deploy(make_project(tmp_path, clash), ts_server)
    assert refused.returncode != 0
    assert "defined both in the functions folder (Python) and in this push: greetings:hello" in refused.stdout + refused.stderr
    assert ConvexHttpClient(ts_server.url).query("greetings:hello") == "hello from Python"


def test_a_runaway_typescript_query_times_out_while_others_are_served(ts_server):
    client = ConvexHttpClient(ts_server.url)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        spinning = pool.submit(lambda: httpx.post(ts_server.url + "/api/query", json={"path": "yellowpages:spin", "args": {}},
                                                  timeout=60).json())
        answered = 0
        while not spinning.done():
            assert client.query("yellowpages:getBySid", {"sid": "s-1"})["sid"] == "s-1"
            answered += 1
            time.sleep(0.05)
    result = spinning.result()
    assert result["status"] == "error" and "Function execution timed out" in result["errorMessage"]
    assert answered >= 3


def test_dev_once_pushes_and_writes_the_deployment_urls(ts_server, tmp_path):
    project = make_project(tmp_path)
    dev = convex_cli(project, ts_server, "dev", "--once", "--typecheck", "disable")
    assert dev.returncode == 0, dev.stdout + dev.stderr
    assert "Convex functions ready!" in dev.stdout + dev.stderr
    env = (project / ".env.local").read_text()
    assert f"CONVEX_URL={ts_server.url}" in env and f"CONVEX_SITE_URL={ts_server.site_url}" in env
    assert ConvexHttpClient(ts_server.url).query("yellowpages:getBySid", {"sid": "s-1"})["sid"] == "s-1"


def test_a_push_while_a_client_is_subscribed_re_runs_its_query_with_the_new_code(ts_server, tmp_path):
    from .live import LiveJsClient

    def change(convex: Path) -> None:
        source = (convex / "yellowpages.ts").read_text()
        old = 'return await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", sid)).unique();'
        assert old in source
        new = ('const found = await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", sid)).unique();\n'
               "    return found === null ? null : { ...found, pushedAgain: true };")
        (convex / "yellowpages.ts").write_text(source.replace(old, new))
        schema = (convex / "schema.ts").read_text()
        (convex / "schema.ts").write_text(schema.replace('.index("by_name", ["name"])', '.index("by_name", ["name"])\n    .index("by_owner", ["owner"])'))

    client = LiveJsClient(ts_server.url)
    try:
        assert client.subscribe("live", "yellowpages:getBySid", {"sid": "s-live"})["value"] is None
        result = client.call("mutation", "yellowpages:upsert", {**SERVICE, "sid": "s-live", "name": "live"})
        assert result["ok"] and result["seen"]["live"]["name"] == "live"  # the mutation resolved with its write in view
        pushed = deploy(make_project(tmp_path, change), ts_server)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "yp_services.by_owner" in pushed.stdout + pushed.stderr
        update = client.next_update("live", lambda value: value is not None and value.get("pushedAgain") is True)
        assert update["value"]["sid"] == "s-live"
    finally:
        client.close()


def test_a_push_without_a_schema_keeps_the_functions_folders_schema(fresh_database, tmp_path):
    """TypeScript beside a Python folder that has the schema: the push drops none of its indexes."""
    from .conftest import FUNCTIONS

    def no_schema(convex: Path) -> None:
        (convex / "schema.ts").unlink()
        (convex / "yellowpages.ts").unlink()
        (convex / "channels.ts").write_text(
            'import { query } from "./_generated/server";\nimport { v } from "convex/values";\n'
            "export const latest = query({ args: { channel: v.string() }, handler: async (ctx, { channel }) =>\n"
            '  await ctx.db.query("messages").withIndex("by_channel", (q) => q.eq("channel", channel)).order("desc").first() });\n'
        )

    running = _start(fresh_database, tmp_path / "data", FUNCTIONS, None, None, "--runners", "1")
    try:
        pushed = deploy(make_project(tmp_path, no_schema), running)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        assert "Deleted table indexes" not in pushed.stdout + pushed.stderr
        client = ConvexHttpClient(running.url)
        client.mutation("messages:send", {"channel": "ts", "body": "hi", "n": 1})
        assert client.query("channels:latest", {"channel": "ts"})["body"] == "hi"
    finally:
        running.stop()


def test_memberpulse_notifications_presence_and_metrics_as_the_seed_writes_them(ts_server):
    client = ConvexHttpClient(ts_server.url)
    first = client.mutation("notifications:send", {"userId": "u1", "text": "welcome"})
    client.mutation("notifications:send", {"userId": "u1", "text": "approve me"})
    client.mutation("notifications:send", {"userId": "u2", "text": "not yours"})
    assert [n["text"] for n in client.query("notifications:list", {"userId": "u1"})] == ["approve me", "welcome"]
    assert client.mutation("notifications:markAsRead", {"notificationId": first}) is None
    assert [n["text"] for n in client.query("notifications:list", {"userId": "u1"})] == ["approve me"]
    with pytest.raises(Exception, match="ArgumentValidationError"):
        client.mutation("notifications:markAsRead", {"notificationId": "not-an-id"})

    client.mutation("presence:heartbeat", {"userId": "u1", "organizationId": "org", "currentPage": "/home"})
    client.mutation("presence:heartbeat", {"userId": "u1", "organizationId": "org", "currentPage": "/members"})
    client.mutation("presence:heartbeat", {"userId": "u2", "organizationId": "org", "currentPage": "/home"})
    online = client.query("presence:getOnlineUsers", {"organizationId": "org"})
    assert sorted((u["userId"], u["currentPage"]) for u in online) == [("u1", "/members"), ("u2", "/home")]

    client.mutation("metrics:record", {"organizationId": "org", "approvals": ["pending", "pending", "done"],
                                       "activity": [f"event {n}" for n in range(25)]})
    stats = client.query("metrics:dashboardStats", {"organizationId": "org"})
    assert stats["activeUsersCount"] == 2 and stats["pendingApprovalsCount"] == 2
    assert [a["what"] for a in stats["recentActivity"]] == [f"event {n}" for n in range(24, 4, -1)]


def test_an_action_calls_queries_and_mutations(ts_server):
    client = ConvexHttpClient(ts_server.url)
    client.mutation("yellowpages:upsert", {**SERVICE, "sid": "s-act", "name": "actions"})
    assert client.action("yellowpages:describe", {"sid": "s-act"}) == "actions (ts) owned by ada"
    assert client.query("yellowpages:getBySid", {"sid": "s-act"})["owner"] == "ada!"
    assert client.action("yellowpages:describe", {"sid": "nobody"}) is None


def test_the_push_keeps_what_http_crons_and_auth_config_declare(ts_server):
    hashes = httpx.post(ts_server.url + "/api/get_config_hashes", json={"version": "1.48.0", "adminKey": ts_server.admin_key}).json()
    assert hashes["config"]["authInfo"] == [{"domain": "https://issuer.example.com", "applicationID": "convex"}]
    assert {m["path"] for m in hashes["moduleHashes"]} >= {"http.js", "crons.js", "auth.config.js", "yellowpages.js"}


def test_bad_push_requests_get_clear_errors_and_the_server_keeps_serving(ts_server):
    anonymous = httpx.post(ts_server.url + "/api/deploy2/start_push", json={"appDefinition": {}})
    assert anonymous.status_code == 401 and anonymous.json()["code"] == "Unauthenticated"
    bad_key = httpx.post(ts_server.url + "/api/get_config_hashes", json={"adminKey": "convex-self-hosted|nope"})
    assert bad_key.status_code == 401 and bad_key.json()["code"] == "BadAdminKey"
    malformed = httpx.post(ts_server.url + "/api/deploy2/start_push",
                           json={"adminKey": ts_server.admin_key, "appDefinition": {"changedModules": [{"source": "x"}]}})
    assert malformed.status_code == 400 and malformed.json()["code"] == "BadJsonBody"
    not_brotli = httpx.post(ts_server.url + "/api/deploy2/start_push", content=b"\x00garbage",
                            headers={"content-encoding": "br", "content-type": "application/json"})
    assert not_brotli.status_code == 400
    forged = httpx.post(ts_server.url + "/api/deploy2/finish_push",
                        json={"adminKey": ts_server.admin_key, "startPush": {"convexpy": {"modules": [{"x": 1}], "schema": None}}})
    assert forged.status_code == 400
    assert ConvexHttpClient(ts_server.url).query("yellowpages:getBySid", {"sid": "s-1"})["sid"] == "s-1"


def test_a_push_replaces_the_functions_of_a_folder_that_yields_to_pushes(fresh_database, tmp_path):
    """The reference app (its folder has .yield-to-push) is what `scripts/serve` serves: a user's
    TypeScript Yellow Pages pushed to it replaces the Python functions of the same paths."""
    from ..conftest import REPO_ROOT

    running = _start(fresh_database, tmp_path / "data", REPO_ROOT / "functions", None, None, "--runners", "1")
    try:
        pushed = deploy(make_project(tmp_path), running)
        assert pushed.returncode == 0, pushed.stdout + pushed.stderr
        client = ConvexHttpClient(running.url)
        client.mutation("yellowpages:upsert", SERVICE)
        assert client.query("yellowpages:getService", {"name": "billing"})["sid"] == "s-1"  # the TypeScript one: by name
        assert isinstance(client.query("yellowpages:listOwners"), list)  # Python functions the push does not define stay
        # The CLI sized the tables whose indexes the push drops (over the socket); admins may ask too.
        size = httpx.post(running.url + "/api/query", json={"path": "_system/cli/tableSize:default", "args": {"tableName": "yp_services"}},
                          headers={"authorization": f"Convex {running.admin_key}"}).json()
        assert size["status"] == "success" and size["value"] == 1
        anonymous = httpx.post(running.url + "/api/query", json={"path": "_system/cli/tableSize:default", "args": {"tableName": "yp_services"}})
        assert anonymous.json()["status"] == "error"  # internal: admins only
    finally:
        running.stop()


def test_use_node_actions_run_in_node_with_its_builtins(ts_server):
    client = ConvexHttpClient(ts_server.url)
    response = httpx.post(ts_server.url + "/api/action", json={"path": "nodeTools:fingerprint", "args": {"sid": "s-1"}}).json()
    assert response["status"] == "success", response
    name = client.query("yellowpages:getBySid", {"sid": "s-1"})["name"]
    import hashlib
    import json as stdlib_json
    assert response["value"] == {"sha256": hashlib.sha256(stdlib_json.dumps(name).encode()).hexdigest(), "same": True,
                                 "emitted": [name], "node": True, "secretHidden": True, "webhook": None}
    assert response["logLines"] == ["[LOG] 'fingerprinting' 's-1'"]


def test_use_node_action_errors_come_back_as_convex_words_them(ts_server):
    client = ConvexHttpClient(ts_server.url)
    with pytest.raises(Exception, match="node action failed") as failure:
        client.action("nodeTools:fails")
    assert "at handler (../convex/nodeTools.ts:" in str(failure.value) and "convex:/" not in str(failure.value)
    failed = httpx.post(ts_server.url + "/api/action", json={"path": "nodeTools:failsWithData", "args": {}}).json()
    assert failed["status"] == "error" and failed["errorData"] == {"code": "NODE", "retry": False}
    # A ConvexError thrown by a mutation an action runs reaches the action as a ConvexError, in both runtimes.
    assert client.action("nodeTools:rejectsBadNames") == {"code": "INVALID_NAME", "sid": "n-1"}
    assert client.action("yellowpages:rejectsBadNames") == {"code": "INVALID_NAME", "sid": "v-1"}
    assert client.query("yellowpages:getBySid", {"sid": "n-1"}) is None


def test_a_syscall_left_running_by_a_finished_node_action_is_refused(ts_server):
    client = ConvexHttpClient(ts_server.url)
    assert client.action("nodeTools:leavesATimer") == "returned"
    time.sleep(0.1)  # its timer fires now, in the same runner, and must not run against the next call
    result = httpx.post(ts_server.url + "/api/action", json={"path": "nodeTools:fingerprint", "args": {"sid": "s-1"}}).json()
    assert result["status"] == "success" and result["logLines"] == ["[LOG] 'fingerprinting' 's-1'"]


def test_a_node_module_may_define_only_actions(ts_server, tmp_path):
    def add_query(convex: Path) -> None:
        text = (convex / "nodeTools.ts").read_text().replace('import { action } from "./_generated/server";',
                                                            'import { action, query } from "./_generated/server";')
        (convex / "nodeTools.ts").write_text(text + "\nexport const notHere = query({ args: {}, handler: async () => 1 });\n")

    refused = deploy(make_project(tmp_path, add_query), ts_server)
    assert refused.returncode != 0
    assert "`notHere` is a query, but a \"use node\" module can define only actions" in refused.stdout + refused.stderr
    assert httpx.post(ts_server.url + "/api/action", json={"path": "nodeTools:fingerprint", "args": {"sid": "s-1"}}).json()["status"] == "success"


def test_without_node_a_push_with_use_node_modules_is_refused_clearly(fresh_database, tmp_path):
    running = _start(fresh_database, tmp_path / "data", HERE / "python", None, None, "--runners", "1", "--node", "off")
    try:
        refused = deploy(make_project(tmp_path), running)
        assert refused.returncode != 0
        assert 'nodeTools.js: "use node" modules need a Node.js runtime, and this server has none' in refused.stdout + refused.stderr
        assert httpx.get(running.url + "/version").status_code == 200
    finally:
        running.stop()


def test_wait_for_schema_reports_staged_indexes_and_races(ts_server):
    def wait(**body):
        return httpx.post(ts_server.url + "/api/deploy2/wait_for_schema", json={"adminKey": ts_server.admin_key, **body}, timeout=30)

    ready = wait(schemaChange={"indexDiffs": {"": {"added_indexes": [{"name": "yp_services.by_sid"}]}}}, timeoutMs=100)
    assert ready.json() == {"type": "complete"}
    raced = wait(schemaChange={"indexDiffs": {"": {"added_indexes": [{"name": "yp_services.by_nothing"}]}}}, timeoutMs=100)
    assert raced.json() == {"type": "raceDetected"}
    assert wait(schemaChange={"indexDiffs": {"": {"added_indexes": [{"name": "x.y"}]}}}, dryRun=True).json() == {"type": "complete"}
    malformed = wait(schemaChange={"indexDiffs": {"": {"added_indexes": [{}]}}})
    assert malformed.status_code == 400 and malformed.json()["code"] == "BadJsonBody"


def test_search_and_vector_indexes_are_stored_and_their_queries_say_not_supported_yet(ts_server):
    search = httpx.post(ts_server.url + "/api/query", json={"path": "metrics:searchActivity", "args": {"text": "x"}}).json()
    assert search["status"] == "error" and "Search indexes are not supported by this deployment yet" in search["errorMessage"]
    assert "'activity.search_what'" in search["errorMessage"]
    vector = httpx.post(ts_server.url + "/api/action", json={"path": "metrics:similarActivity", "args": {}}).json()
    assert vector["status"] == "error" and "Vector search is not supported by this deployment yet" in vector["errorMessage"]
    assert httpx.get(ts_server.url + "/version").status_code == 200


def test_process_env_reads_the_deployments_variables_in_v8_and_node(ts_server):
    def set_env(**values) -> None:
        changes = [{"name": name, "value": value} for name, value in values.items()]
        httpx.post(ts_server.url + "/api/update_environment_variables", headers={"Authorization": f"Convex {ts_server.admin_key}"},
                   json={"changes": changes}).raise_for_status()

    client = ConvexHttpClient(ts_server.url)
    set_env(SYMFONY_WEBHOOK_URL=None, AUTH_DOMAIN=None)
    before = client.query("envs:webhook")
    assert before == {"url": None, "domain": None, "cloud": ts_server.url, "serverPath": None, "keys": [], "has": False}
    set_env(SYMFONY_WEBHOOK_URL="https://symfony.example/hook", AUTH_DOMAIN="auth.example")
    after = client.query("envs:webhook")
    assert (after["url"], after["domain"], after["has"]) == ("https://symfony.example/hook", "auth.example", True)
    assert client.query("envs:named", {"name": "AUTH_DOMAIN"}) == "auth.example"
    assert client.action("nodeTools:fingerprint", {"sid": "s-1"})["webhook"] == "https://symfony.example/hook"
    set_env(SYMFONY_WEBHOOK_URL=None, AUTH_DOMAIN=None)


def test_typescript_schedules_runs_and_cancels_jobs(ts_server):
    client = ConvexHttpClient(ts_server.url)
    user = "sched-" + str(time.monotonic_ns())

    def delivered() -> list[str]:
        return [n["text"] for n in client.query("notifications:list", {"userId": user})]

    job_id = client.mutation("scheduling:notifyLater", {"userId": user, "text": "later", "delayMs": 200})
    job = client.query("scheduling:job", {"id": job_id})
    assert job["name"] == "scheduling.js:deliver" and job["state"] == {"kind": "pending"}
    assert job["args"] == [{"userId": user, "text": "later"}]
    deadline = time.monotonic() + 20
    while not delivered() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert delivered() == ["later"]
    assert client.query("scheduling:job", {"id": job_id})["state"] == {"kind": "success"}

    doomed = client.mutation("scheduling:notifyLater", {"userId": user, "text": "never", "delayMs": 1000})
    client.mutation("scheduling:cancel", {"id": doomed})
    assert client.query("scheduling:job", {"id": doomed})["state"] == {"kind": "canceled"}
    from_action = client.action("scheduling:notifyFromAction", {"userId": user, "text": "from an action"})
    while "from an action" not in delivered() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.query("scheduling:job", {"id": from_action})["state"]["kind"] in ("pending", "success")
    time.sleep(1.3)
    assert sorted(delivered()) == ["from an action", "later"]  # the canceled one never ran
    with pytest.raises(Exception, match="`delayMs` must be non-negative"):
        client.mutation("scheduling:badDelay")


def test_crons_ts_is_registered_by_the_push_and_its_interval_runs_at_once(ts_server):
    client = ConvexHttpClient(ts_server.url)

    def cleanup() -> list:
        return next(cron for cron in client.query("scheduling:crons") if cron[0] == "presence cleanup")

    assert cleanup()[1:3] == ["presence.js:heartbeat", {"type": "interval", "seconds": 300}]
    deadline = time.monotonic() + 20
    while cleanup()[3] is None and time.monotonic() < deadline:  # an interval's first run is at the push
        time.sleep(0.1)
    assert cleanup()[3] == "success"
