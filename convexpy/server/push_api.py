"""The push protocol of `npx convex deploy` / `dev` / `codegen` (CLI 1.48, "deploy2").

The conversation (``spec/convex-deploy.md`` section 1): ``get_config_hashes``
tells the CLI which modules the deployment already has; ``start_push``
analyzes the pushed modules (in a runner: V8 never runs in the server
process) and stages the indexes its schema adds (``SchemaManager.stage``:
built in the background while the old schema and code serve);
``wait_for_schema`` long-polls their progress; ``finish_push`` receives the
whole ``start_push`` answer back and makes the push live: its modules and its
schema in one commit (``SchemaManager.push``), which every replica follows
whole. ``evaluate_schema`` is
answered 404, which the CLI takes as "not supported" and falls back to
``evaluate_push``.

Stateless between calls: what ``finish_push`` needs travels in the
``start_push`` answer under ``convexpy`` (the CLI echoes unknown keys back), so
any replica may take any step.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import brotli
import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..errors import BadRequest, ConvexpyError, PayloadTooLarge, PushRefused, SchemaError, Unauthenticated
from ..runtime import environment
from ..runtime.calls import Deployment
from ..runtime.cron_specs import spec_from_export
from ..runtime.js.pushed import PushedCode, PushedModule, function_path, module_hash
from ..runtime.js.sourcemap import SourceMap, remap
from ..runtime.pool import RunnerPool
from ..schema import SchemaDefinition
from .http_api import header, json_response

logger = logging.getLogger(__name__)
MAX_PUSH_BYTES = 256 * 1024 * 1024
"""A push's request body, decompressed (the reference backend's limit is of this order)."""
SERVER_VERSION = "1.48.0"
WAIT_POLL_S = 0.1
"""How often ``wait_for_schema`` looks at the staged indexes (the catalog follows the commit log)."""
CONFIG_MODULES = ("http.js", "crons.js", "auth.config.js")
"""Modules that declare routes, crons and auth providers rather than functions."""
_NOT_FUNCTIONS = ("convex.config.js", "schema.js", *CONFIG_MODULES)


async def _read_push_body(request: Request) -> dict[str, Any]:
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_PUSH_BYTES:
            raise PayloadTooLarge(f"The push is too large (limit: {MAX_PUSH_BYTES} bytes)")
        chunks.append(chunk)
    body = b"".join(chunks)
    if (header(request, "content-encoding") or "").lower() == "br":
        try:
            body = brotli.decompress(body)
        except brotli.error as exc:
            raise BadRequest(f"Failed to decompress the request body: {exc}", code="BadJsonBody") from None
        if len(body) > MAX_PUSH_BYTES:
            raise PayloadTooLarge(f"The push is too large (limit: {MAX_PUSH_BYTES} bytes)")
    try:
        parsed = orjson.loads(body) if body else {}
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Failed to parse JSON body: {exc}", code="BadJsonBody") from None
    if not isinstance(parsed, dict):
        raise BadRequest("Expected a JSON object body", code="BadJsonBody")
    return parsed


async def _analyze_node(
    pool: RunnerPool, modules: dict[str, PushedModule], function_modules: list[str], env: dict[str, str]
) -> dict[str, Any]:
    """The functions of the push's "use node" modules, analyzed in a Node.js runner: only actions
    may live there, as in Convex."""
    sources = {path: [module.source, module.source_map] for path, module in modules.items()}
    result = await pool.analyze(sources, function_modules, None, env=env)
    if not result.ok:
        maps = {path: SourceMap(module.source_map) for path, module in modules.items() if module.source_map}
        raise PushRefused(remap(result.message, maps).rstrip("\n"))
    for path, functions in result.value["functions"].items():
        for entry in functions:
            if entry["udfType"] != "Action":
                raise PushRefused(f"{path}: `{entry['name']}` is a {entry['udfType'].lower()}, but a \"use node\" module can "
                                  "define only actions. Move it to a module without \"use node\".")
    return result.value["functions"]


def build_push_routes(deployment: Deployment, pushed: PushedCode) -> list[Route]:
    executor = deployment.executor

    def require_admin(request: Request, body: dict[str, Any]) -> None:
        """The admin key from the body (the CLI repeats it there) or the Authorization header."""
        key = body.get("adminKey")
        identity = deployment.keys.check(key) if isinstance(key, str) else deployment.keys.identity_from_header(header(request, "authorization"))
        if not identity.admin:
            raise Unauthenticated("Pushing code needs the deployment's admin key (`--admin-key` or CONVEX_SELF_HOSTED_ADMIN_KEY).")

    async def config_hashes(request: Request) -> Response:
        body = await _read_push_body(request)
        require_admin(request, body)
        await pushed.refresh()
        return json_response({
            "config": {"functions": "convex/", "authInfo": pushed.declared("authProviders") or []},
            "moduleHashes": [{"path": m.path, "hash": m.sha256, "environment": m.environment} for m in pushed.modules],
            "nodeDependencies": [], "udfServerVersion": SERVER_VERSION if pushed.modules else None, "nodeVersion": None,
        })

    async def not_implemented(request: Request) -> Response:
        return json_response({"code": "NotFound", "message": "evaluate_schema is not supported; use evaluate_push"}, 404)

    async def analyze(body: dict[str, Any]) -> dict[str, Any]:
        """The push's modules, analyzed: what start_push answers and finish_push makes live."""
        try:
            return await _analyze(body)
        except (KeyError, TypeError, AttributeError) as exc:
            raise BadRequest(f"The push request is malformed: {exc!r}", code="BadJsonBody") from None

    async def _analyze(body: dict[str, Any]) -> dict[str, Any]:
        app = body.get("appDefinition")
        if not isinstance(app, dict):
            raise BadRequest("missing field `appDefinition`", code="BadJsonBody")
        if body.get("componentDefinitions") or app.get("dependencies"):
            raise PushRefused("Components (app.use(...) in convex.config.ts) are not supported by this deployment yet.")
        known = pushed.by_hash()
        modules: dict[str, PushedModule] = {}
        for entry in app.get("changedModules") or []:
            runtime = entry.get("environment") or "isolate"
            if runtime not in ("isolate", "node"):
                raise BadRequest(f"{entry['path']}: unknown module environment {runtime!r}", code="BadJsonBody")
            if runtime == "node" and executor.node_pool is None:
                raise PushRefused(f"{entry['path']}: \"use node\" modules need a Node.js runtime, and this server has none "
                                  "(install node on its PATH, or point --node / CONVEXPY_NODE at one).")
            modules[entry["path"]] = PushedModule(entry["path"], entry["source"], module_hash(entry["source"], entry.get("sourceMap")),
                                                  runtime, source_map=entry.get("sourceMap"))
        if body.get("nodeDependencies"):
            names = ", ".join(str(dependency.get("name")) for dependency in body["nodeDependencies"])
            raise PushRefused(f"External packages for \"use node\" modules (node.externalPackages in convex.json: {names}) "
                              "are not supported by this deployment yet; let the CLI bundle them.")
        for entry in app.get("unchangedModuleHashes") or []:
            old = known.get((entry["path"], entry["sha256"]))
            if old is None:
                raise PushRefused(f"{entry['path']} was sent as unchanged, but this deployment does not have it; push again.")
            modules[old.path] = PushedModule(old.path, old.source, old.sha256, old.environment, source_map=old.source_map)
        schema_module = app.get("schema")
        isolate = {path: module for path, module in modules.items() if module.environment == "isolate"}
        node = {path: module for path, module in modules.items() if module.environment == "node"}
        sources = {path: [module.source, module.source_map] for path, module in isolate.items()}
        if schema_module:
            sources[schema_module["path"]] = [schema_module["source"], schema_module.get("sourceMap")]
        function_modules = [path for path in modules if not path.startswith("_deps/") and path not in _NOT_FUNCTIONS]
        config_modules = [path for path in CONFIG_MODULES if path in modules]
        if executor.pool is None:
            raise PushRefused("This server runs user code in process (--runners 0), so it cannot analyze or run pushed "
                              "JavaScript; start it with --runners 1 or more.")
        env = await environment.snapshot(executor.db, executor.built_in_env)  # modules may read it as they load
        result = await executor.pool.analyze(sources, [path for path in function_modules if path in isolate],
                                             schema_module["path"] if schema_module else None, config_modules, env)
        if not result.ok:
            raise PushRefused(result.message.rstrip("\n"))
        analyzed = dict(result.value["functions"])
        if node and executor.node_pool is not None:
            analyzed.update(await _analyze_node(executor.node_pool, node, [path for path in function_modules if path in node], env))
        for path, functions in analyzed.items():
            modules[path].functions = functions
        for path, config in result.value["configs"].items():
            modules[path].config = config
        crons_config = (modules["crons.js"].config or {}) if "crons.js" in modules else {}
        for identifier, exported in (crons_config.get("cronSpecs") or {}).items():
            try:
                spec_from_export(identifier, exported)
            except (ConvexpyError, KeyError, TypeError) as error:
                raise PushRefused(f"Hit an error while pushing: convex/crons.js: cron {identifier!r}: {error}") from None
        conflicts = [str(function_path(path, entry["name"])) for path in function_modules
                     for entry in modules[path].functions if function_path(path, entry["name"]) in executor.registry.functions]
        if conflicts and executor.registry.yields_to_push:
            logger.warning("the push replaces these Python functions of the functions folder: %s", ", ".join(sorted(conflicts)))
        elif conflicts:
            raise PushRefused(f"These functions are defined both in the functions folder (Python) and in this push: "
                              f"{', '.join(sorted(conflicts))}. Rename or remove one of each (or put a .yield-to-push "
                              "file in the functions folder to let pushes replace its functions).")
        schema = result.value.get("schema")
        if schema is not None:
            try:
                SchemaDefinition.from_json(schema)
            except SchemaError as error:
                raise PushRefused(f"Hit an error while evaluating your schema: {error}", code="InvalidSchema") from None
        return {"modules": [module.__dict__ for module in modules.values()], "schema": schema}

    def index_diff(schema: dict[str, Any] | None) -> dict[str, Any]:
        """What the push changes in the indexes. A push without a schema keeps the deployment's (the
        functions folder's, say): no change."""
        if schema is None:
            return {"added_indexes": [], "removed_indexes": []}

        def indexes(tables: list[dict[str, Any]]) -> dict[str, list[str]]:
            return {f"{t['tableName']}.{i['indexDescriptor']}": list(i["fields"]) for t in tables for i in t.get("indexes", [])}

        current = executor.db.schema.to_json()["tables"] if executor.db.schema is not None else []
        before, after = indexes(current), indexes(schema["tables"] if schema else [])
        def describe(name: str, fields: list[str]) -> dict[str, Any]:
            return {"name": name, "type": "database", "fields": fields}

        return {"added_indexes": [describe(n, f) for n, f in after.items() if before.get(n) != f],
                "removed_indexes": [describe(n, f) for n, f in before.items() if after.get(n) != f]}

    def start_answer(analysis: dict[str, Any]) -> dict[str, Any]:
        functions = {
            module["path"]: {"functions": [{**entry, "pos": None} for entry in module["functions"]],
                             "httpRoutes": (module["config"] or {}).get("httpRoutes"),
                             "cronSpecs": (module["config"] or {}).get("cronSpecs"), "sourceMapped": None}
            for module in analysis["modules"] if module["functions"] or module.get("config")
        }
        providers = next((m["config"]["authProviders"] for m in analysis["modules"] if (m.get("config") or {}).get("authProviders")), [])
        routes = functions.get("http.js", {}).get("httpRoutes")
        http_routes = None if routes is None else [entry["route"] for entry in routes]
        return {
            "environmentVariables": {}, "externalDepsId": None, "componentDefinitionPackages": {}, "appAuth": providers,
            "analysis": {"": {
                "definition": {"path": "", "definitionType": {"type": "app"}, "childComponents": [], "httpMounts": {},
                               "exports": {"type": "branch", "branch": []}},
                "schema": analysis["schema"], "functions": functions,
                "udfConfig": {"serverVersion": SERVER_VERSION, "importPhaseRngSeed": None, "importPhaseUnixTimestamp": None},
            }},
            "app": {"definitionPath": "", "componentPath": "", "args": {}, "childComponents": {},
                    "httpRoutes": {"httpModuleRoutes": http_routes, "mounts": []}, "exports": {}},
            "schemaChange": {"allocatedComponentIds": {}, "schemaIds": {"": None}, "indexDiffs": {"": index_diff(analysis["schema"])}},
            "convexpy": analysis,
        }

    async def evaluate_push(request: Request) -> Response:
        body = await _read_push_body(request)
        require_admin(request, body)
        analysis = await analyze(body)
        return json_response({"schemaChange": {"allocatedComponentIds": {}, "schemaIds": {}, "indexDiffs": {"": index_diff(analysis["schema"])}}})

    async def start_push(request: Request) -> Response:
        body = await _read_push_body(request)
        require_admin(request, body)
        await pushed.refresh()
        analysis = await analyze(body)
        answer = start_answer(analysis)
        if analysis["schema"] is not None and not body.get("dryRun") and not body.get("forCodegen"):
            await executor.db.schemas.stage(SchemaDefinition.from_json(analysis["schema"]))  # backfills while the CLI waits
        return json_response(answer)

    async def wait_for_schema(request: Request) -> Response:
        """The staged indexes' progress, long-polled: answers once they are ready or ``timeoutMs`` passed."""
        body = await _read_push_body(request)
        require_admin(request, body)
        if body.get("dryRun"):
            return json_response({"type": "complete"})
        try:
            diff = (body.get("schemaChange") or {}).get("indexDiffs", {}).get("", {})
            names = [str(index["name"]) for index in diff.get("added_indexes") or []]
            timeout_s = min(max(float(body.get("timeoutMs", 10_000)), 0.0), 60_000.0) / 1000
        except (AttributeError, KeyError, TypeError, ValueError) as exc:
            raise BadRequest(f"wait_for_schema needs the start_push answer's schemaChange: {exc!r}", code="BadJsonBody") from None
        deadline = time.monotonic() + timeout_s
        while True:
            progress = executor.db.schemas.progress(names)
            if progress is None:
                return json_response({"type": "raceDetected"})  # another schema change dropped a staged index
            ready, total = progress
            if ready == total:
                return json_response({"type": "complete"})
            if time.monotonic() >= deadline:
                return json_response({"type": "inProgress", "components": {"": {
                    "schemaValidationComplete": True, "indexesComplete": ready, "indexesTotal": total}}})
            await asyncio.sleep(WAIT_POLL_S)

    async def finish_push(request: Request) -> Response:
        body = await _read_push_body(request)
        require_admin(request, body)
        start = body.get("startPush")
        if not isinstance(start, dict) or not isinstance(start.get("convexpy"), dict):
            raise BadRequest("finish_push needs the start_push answer of this deployment as `startPush`", code="BadJsonBody")
        analysis = start["convexpy"]
        try:
            modules = [PushedModule(**module) for module in analysis["modules"]]
        except (KeyError, TypeError) as exc:
            raise BadRequest(f"finish_push got a start_push answer this deployment did not make: {exc!r}", code="BadJsonBody") from None
        await pushed.refresh()
        before = {module.path for module in pushed.modules}
        crons_before = set(pushed.declared("cronSpecs") or {})
        crons_after = set(next((m.config["cronSpecs"] for m in modules if m.config and "cronSpecs" in m.config), {}))
        diff_indexes = index_diff(analysis["schema"])
        if not body.get("dryRun"):
            schema = SchemaDefinition.from_json(analysis["schema"]) if analysis["schema"] is not None else None
            await pushed.replace(modules, schema)  # code and schema switch in one commit
            executor.registry.pushed = pushed.functions
        after = {module.path for module in modules}
        return json_response({
            "authDiff": {"added": [], "removed": []},
            "definitionDiffs": {"": {}},
            "componentDiffs": {"": {
                "diffType": {"type": "modify" if before else "create"},
                "moduleDiff": {"added": sorted(after - before), "removed": sorted(before - after)},
                "udfConfigDiff": None,
                "cronDiff": {"added": sorted(crons_after - crons_before), "updated": [], "deleted": sorted(crons_before - crons_after)},
                "indexDiff": diff_indexes,
                "schemaDiff": None,
            }},
        })

    async def push_completed(request: Request) -> Response:
        await _read_push_body(request)
        return json_response(None)

    async def canonical_urls(request: Request) -> Response:
        host = header(request, "host") or "127.0.0.1"
        scheme = request.url.scheme
        site = f"{scheme}://{host.rsplit(':', 1)[0]}:{deployment.site_port}"
        return json_response({"convexCloudUrl": f"{scheme}://{host}", "convexSiteUrl": site})

    return [
        Route("/api/get_config_hashes", config_hashes, methods=["POST"]),
        Route("/api/deploy2/evaluate_schema", not_implemented, methods=["POST"]),
        Route("/api/deploy2/evaluate_push", evaluate_push, methods=["POST"]),
        Route("/api/deploy2/start_push", start_push, methods=["POST"]),
        Route("/api/deploy2/wait_for_schema", wait_for_schema, methods=["POST"]),
        Route("/api/deploy2/finish_push", finish_push, methods=["POST"]),
        Route("/api/deploy2/report_push_completed", push_completed, methods=["POST"]),
        Route("/api/v1/get_canonical_urls", canonical_urls, methods=["GET"]),
    ]

