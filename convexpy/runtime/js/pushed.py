"""Pushed code as deployment state: the modules of the last push, in the ``_modules`` system table.

Each module is one document (path, hash, the functions or the routes, crons
and auth providers its analysis found) plus its source and source map in
parts, all written in one commit by ``finish_push`` together with the push's
schema (``SchemaManager.push``), so every replica sees a push whole or not at
all, in commit order: each one reloads its pushed functions when a commit
writes ``_modules`` (a commit listener), and the push id (a hash over every
module) names the version that runners load into V8.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable

import orjson

from ...database import Database
from ...database.catalog import SYSTEM_TABLES
from ...database.readset import Interval
from ...errors import ModuleLoadError
from ...schema import SchemaDefinition
from ...values.ids import DocumentId
from ...values.validators import validator_from_json
from ..functions import ConvexFunction, FunctionKind, JsExport
from ..paths import FunctionPath
from .sourcemap import SourceMap

MODULES_TABLE = "_modules"
TEXT_PART = 256 * 1024
"""Characters of a module's source (or source map) per ``_modules`` document."""
KINDS = {"Query": FunctionKind.QUERY, "Mutation": FunctionKind.MUTATION, "Action": FunctionKind.ACTION}


def module_hash(source: str, source_map: str | None) -> str:
    """The CLI's hash of a module: sha256 over the source and its source map, in hex."""
    return hashlib.sha256((source + (source_map or "")).encode()).hexdigest()


@dataclass
class PushedModule:
    path: str
    """Relative to the functions folder, with ``.js`` (``yellowpages.js``, ``_deps/X.js``)."""
    source: str
    sha256: str
    environment: str = "isolate"
    functions: list[dict[str, Any]] = field(default_factory=list)
    """The analysis: ``name``, ``udfType``, ``visibility``, ``args`` and ``returns`` (validator JSON)."""
    source_map: str | None = None
    config: dict[str, Any] | None = None
    """For http.js, crons.js and auth.config.js: what they declare (``httpRoutes``, ``cronSpecs``,
    ``authProviders``), stored for the platform services that serve them."""

    def to_documents(self) -> list[dict[str, Any]]:
        """The module as ``_modules`` documents: one describing it, and its source and source map in
        parts of at most ``TEXT_PART`` characters (a bundle with its map can pass a document's 1 MiB)."""
        documents: list[dict[str, Any]] = [{"kind": "module", "path": self.path, "sha256": self.sha256,
                                            "environment": self.environment, "functions": orjson.dumps(self.functions).decode(),
                                            "config": orjson.dumps(self.config).decode()}]
        for name, text in (("source", self.source), ("sourceMap", self.source_map)):
            for index, start in enumerate(range(0, len(text or ""), TEXT_PART)):
                documents.append({"kind": "text", "path": self.path, "field": name, "index": index,
                                  "text": text[start:start + TEXT_PART]})  # type: ignore[index]
        return documents

    @classmethod
    def from_documents(cls, documents: list[dict[str, Any]]) -> list["PushedModule"]:
        texts: dict[tuple[str, str], list[tuple[int, str]]] = {}
        for document in documents:
            if document.get("kind") == "text":
                texts.setdefault((document["path"], document["field"]), []).append((document["index"], document["text"]))

        def joined(path: str, name: str) -> str | None:
            parts = texts.get((path, name))
            return None if parts is None else "".join(text for _, text in sorted(parts))

        return [
            cls(document["path"], joined(document["path"], "source") or "", document["sha256"], document.get("environment", "isolate"),
                orjson.loads(document.get("functions") or "[]"), joined(document["path"], "sourceMap"),
                orjson.loads(document.get("config") or "null"))
            for document in documents if document.get("kind") == "module"
        ]


def push_id(modules: list[PushedModule]) -> str:
    return hashlib.sha256("\n".join(f"{m.path}:{m.sha256}" for m in sorted(modules, key=lambda m: m.path)).encode()).hexdigest()[:16]


def function_path(module_path: str, name: str) -> FunctionPath:
    """``yellowpages.js`` + ``getBySid`` -> ``yellowpages:getBySid`` (``default`` stays ``default``)."""
    return FunctionPath(module_path[:-3] if module_path.endswith(".js") else module_path, name)


def functions_of(modules: list[PushedModule]) -> dict[FunctionPath, ConvexFunction]:
    """The registry entries of a push: validators from the analysis, run in V8 by a runner."""
    push = push_id(modules)
    found: dict[FunctionPath, ConvexFunction] = {}
    for module in modules:
        for entry in module.functions:
            kind = KINDS.get(entry["udfType"])
            if kind is None:
                continue
            visibility = entry.get("visibility") or {"kind": "public"}
            try:
                args = None if entry.get("args") in (None, "null") else validator_from_json(orjson.loads(entry["args"]))
                returns = None if entry.get("returns") in (None, "null") else validator_from_json(orjson.loads(entry["returns"]))
            except Exception as exc:  # noqa: BLE001 - a validator this server cannot read
                raise ModuleLoadError(f"Failed to analyze {module.path}: the validators of {entry['name']} are invalid: {exc}") from None
            path = function_path(module.path, entry["name"])
            found[path] = ConvexFunction(None, kind, visibility["kind"] == "public", args, returns, str(path),  # type: ignore[arg-type]
                                         js=JsExport(module.path, entry["name"], push, module.environment))
    return found


class PushedCode:
    """This replica's copy of the last push, reloaded whenever a commit writes ``_modules``."""

    def __init__(self, database: Database):
        self.database = database
        self.modules: list[PushedModule] = []
        self.functions: dict[FunctionPath, ConvexFunction] = {}
        self.push_id = ""
        self.version = 0
        """Bumped on every reload: cached query results of older code must not be served."""
        self.on_change: list[Callable[[], None]] = []
        """Called when a commit writes ``_modules`` (subscriptions re-run their queries then)."""
        self._stale = False
        self._maps: dict[str, SourceMap] | None = None

    def sources(self, environment: str = "isolate") -> dict[str, list[str | None]]:
        """What a runner loads: path -> [source, source map] of the modules of one environment
        (``isolate`` for V8, ``node`` for the Node.js runner)."""
        return {module.path: [module.source, module.source_map] for module in self.modules if module.environment == environment}

    @property
    def source_maps(self) -> dict[str, SourceMap]:
        """The push's source maps by module path (each decoded on first use)."""
        if self._maps is None:
            self._maps = {module.path: SourceMap(module.source_map) for module in self.modules if module.source_map}
        return self._maps

    def declared(self, key: str) -> Any:
        """What the push's http.js / crons.js / auth.config.js declare under ``key`` (None if not)."""
        for module in self.modules:
            if module.config and key in module.config:
                return module.config[key]
        return None

    def by_hash(self) -> dict[tuple[str, str], PushedModule]:
        return {(module.path, module.sha256): module for module in self.modules}

    async def load(self) -> None:
        tx = self.database.begin(writable=False)
        table = self.database.catalog.by_name.get(MODULES_TABLE)
        documents = []
        if table is not None:
            documents = [document async for document in tx.scan(table.by_id, Interval(b"", None))]
        self.modules = sorted(PushedModule.from_documents(documents), key=lambda module: module.path)
        self.functions = functions_of(self.modules)
        self.push_id = push_id(self.modules)
        self._maps = None
        self.version += 1

    def watch(self) -> None:
        """Reload after every commit that writes ``_modules`` (this replica's or another's)."""

        def changed() -> None:
            self._stale = True
            for callback in self.on_change:
                callback()

        self.database.on_table_write(SYSTEM_TABLES[MODULES_TABLE], changed)

    async def refresh(self) -> None:
        """Reload if a commit wrote ``_modules`` since the last load (cheap when nothing did)."""
        if self._stale:
            self._stale = False
            await self.load()

    async def replace(self, modules: list[PushedModule], schema: SchemaDefinition | None) -> None:
        """Make ``modules`` the deployment's code and ``schema`` its schema (None: keep the current
        one), switched in one commit (``SchemaManager.push``)."""
        database = self.database

        async def write_modules(tx: Any) -> None:
            table = await database.ensure_table(MODULES_TABLE, SYSTEM_TABLES[MODULES_TABLE])
            old = [document async for document in tx.scan(table.by_id, Interval(b"", None))]
            for document in old:
                await tx.delete(table, DocumentId.decode(document["_id"]).internal_id)
            for module in modules:
                for document in module.to_documents():
                    await tx.insert(table, document)

        await database.schemas.push(schema, force=True, writes=write_modules)
        await self.load()
