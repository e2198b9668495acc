"""The host side of the syscall protocol: one function's database calls, as Convex's runtime sends them.

User code reaches the database only through syscalls named and shaped like the
ones Convex's JavaScript runtime sends (``spec/convex-deploy.md`` section 3):
an operation name such as ``1.0/get`` and a JSON argument object, answered
with JSON. :class:`SyscallHost` runs them against the request's transaction,
so read sets, buffered writes, limits and OCC are exactly those of a function
called in process. Values cross as Convex-encoded JSON.

This is the seam between the host and its guests: the Python guest and the
JavaScript guest (embedded V8) both become clients of it, and one host-side
query engine serves both (``query`` JSON: a source and operators, filters in
Convex's serialized expression form, compiled here onto :mod:`.query`).

Failures are :class:`~convexpy.errors.SyscallError` (the guest re-raises its
message as the function's error) or the usual typed errors (``InvalidValueError``
for bad ids and documents), never a crash of the host.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

import orjson

from ..database.catalog import is_system_table
from ..database.transaction import Transaction
from ..errors import SyscallError
from ..values import json as cjson
from . import environment
from .context import DatabaseReader, DatabaseWriter
from .query import Expr, FilterBuilder, IndexRange, Query
from .scheduler import ScheduleBudget

if TYPE_CHECKING:
    from .executor import Identity

MAX_OPEN_QUERIES = 1024
"""Query streams one function may hold open at once."""
PREFETCH_LIMIT = 16
"""A stream whose ``limit`` is at most this is answered whole by ``1.0/queryStreamAll`` (``first()``,
``unique()``, small ``take()``): one round trip for what Convex's runtime asks in several."""

_COMPARISONS = {"$eq": "eq", "$neq": "neq", "$lt": "lt", "$lte": "lte", "$gt": "gt", "$gte": "gte",
                "$add": "add", "$sub": "sub", "$mul": "mul", "$div": "div", "$mod": "mod"}
_RANGE_BOUNDS = {"Gt": "gt", "Gte": "gte", "Lt": "lt", "Lte": "lte"}


@dataclass
class _OpenQuery:
    documents: AsyncIterator[dict[str, Any]]
    remaining: int | None
    """What the query's ``limit`` operator still allows (None: no limit)."""


class SyscallHost:
    """Runs the syscalls of one function execution against its transaction."""

    def __init__(self, tx: Transaction, identity: "Identity", built_in_env: dict[str, str] | None = None, jobs: Any = None):
        self.tx = tx
        self.identity = identity
        self.built_in_env = built_in_env or {}
        self._jobs = jobs
        """``ScheduledJobs`` (``runtime/scheduler.py``): ``ctx.scheduler`` of a mutation."""
        self._budget = ScheduleBudget()
        self.db: DatabaseReader = DatabaseWriter(tx) if tx.writable else DatabaseReader(tx)
        self._queries: dict[int, _OpenQuery] = {}
        self.identity_used = False
        """Whether the function read the caller's identity (its result then is not shared)."""
        self._next_query_id = 0
        self._handlers: dict[str, Callable[[dict[str, Any]], Awaitable[Any]]] = {
            "1.0/get": self._get,
            "1.0/insert": self._insert,
            "1.0/shallowMerge": self._shallow_merge,
            "1.0/replace": self._replace,
            "1.0/remove": self._remove,
            "1.0/queryStreamNext": self._query_stream_next,
            "1.0/queryStreamAll": self._query_stream_all,
            "1.0/queryPage": self._query_page,
            "1.0/getUserIdentity": self._get_user_identity,
            "environmentVariables/get": self._environment_variable,
            "1.0/schedule": functools.partial(self._scheduler, "1.0/schedule"),
            "1.0/cancel_job": functools.partial(self._scheduler, "1.0/cancel_job"),
        }
        self._sync_handlers: dict[str, Callable[[dict[str, Any]], Any]] = {
            "1.0/db/normalizeId": self._normalize_id,
            "1.0/queryStream": self._query_stream,
            "1.0/queryCleanup": self._query_cleanup,
        }

    async def call(self, op: str, args_json: str | bytes) -> str:
        """Run syscall ``op`` with its JSON arguments; returns its JSON result."""
        handler = self._handlers.get(op)
        if handler is None:
            if op in self._sync_handlers:
                return self.call_sync(op, args_json)
            raise SyscallError(f"Unknown operation {op}" if op.startswith("1.0/") else f"Unknown async operation {op}")
        return orjson.dumps(await handler(_arguments(op, args_json))).decode()

    def call_sync(self, op: str, args_json: str | bytes) -> str:
        """A synchronous syscall (Convex's ``Convex.syscall``): these need no database round trip."""
        handler = self._sync_handlers.get(op)
        if handler is None:
            raise SyscallError(f"Unknown operation {op}")
        return orjson.dumps(handler(_arguments(op, args_json))).decode()

    # --- documents ---------------------------------------------------------------------

    async def _get(self, args: dict[str, Any]) -> Any:
        table = args.get("table")
        reader = self.db.system if args.get("isSystem") else self.db
        document = await (reader.get(table, _field(args, "id", str)) if table else reader.get(_field(args, "id", str)))
        return None if document is None else cjson.to_json(document)

    async def _scheduler(self, op: str, args: dict[str, Any]) -> Any:
        if not self.tx.writable or self._jobs is None:
            raise SyscallError("ctx.scheduler is available in mutations and actions only")
        return await self._jobs.syscall(self.tx, self._budget, op, args)

    async def _environment_variable(self, args: dict[str, Any]) -> Any:
        return await environment.lookup(self.tx, _field(args, "name", str), self.built_in_env)

    async def _insert(self, args: dict[str, Any]) -> Any:
        writer = self._writer("insert")
        doc_id = await writer.insert(_field(args, "table", str), cjson.from_json(_field(args, "value", dict)))
        return {"_id": doc_id}

    async def _shallow_merge(self, args: dict[str, Any]) -> Any:
        writer = self._writer("patch")
        doc_id = _field(args, "id", str)
        patch = _field(args, "value", dict)
        removed = [name for name, value in patch.items() if value == {"$undefined": None}]
        fields = cjson.from_json({name: value for name, value in patch.items() if name not in removed})
        await writer.merge(doc_id, fields, removed)
        return cjson.to_json(await writer.get(doc_id))

    async def _replace(self, args: dict[str, Any]) -> Any:
        writer = self._writer("replace")
        doc_id = _field(args, "id", str)
        await writer.replace(doc_id, cjson.from_json(_field(args, "value", dict)))
        return cjson.to_json(await writer.get(doc_id))

    async def _remove(self, args: dict[str, Any]) -> Any:
        await self._writer("delete").delete(_field(args, "id", str))
        return None

    def _normalize_id(self, args: dict[str, Any]) -> Any:
        return {"id": self.db.normalize_id(_field(args, "table", str), args.get("idString"))}

    def _writer(self, operation: str) -> DatabaseWriter:
        if not isinstance(self.db, DatabaseWriter):
            raise SyscallError(f"db.{operation}() is not available here: this function is a query, and queries cannot write to the database. Use a mutation.")
        return self.db

    # --- queries -----------------------------------------------------------------------

    def _query_stream(self, args: dict[str, Any]) -> Any:
        if len(self._queries) >= MAX_OPEN_QUERIES:
            raise SyscallError(f"Too many open queries in one function execution (limit: {MAX_OPEN_QUERIES})")
        query, limit = self.compile(_field(args, "query", dict))
        query_id = self._next_query_id
        self._next_query_id += 1
        self._queries[query_id] = _OpenQuery(query.__aiter__(), limit)
        return {"queryId": query_id}

    async def _query_stream_next(self, args: dict[str, Any]) -> Any:
        open_query = self._queries.get(_field(args, "queryId", int))
        if open_query is None:
            raise SyscallError(f"Query {args['queryId']} is not open (never started, or already cleaned up)")
        if open_query.remaining == 0:
            return {"value": None, "done": True}
        try:
            document = await open_query.documents.__anext__()
        except StopAsyncIteration:
            open_query.remaining = 0
            return {"value": None, "done": True}
        if open_query.remaining is not None:
            open_query.remaining -= 1
        return {"value": cjson.to_json(document), "done": False}

    def _query_cleanup(self, args: dict[str, Any]) -> Any:
        # Dropping the stream is enough: what it read is already in the read set (it is recorded as
        # each document is handed out), and the generator is finalized by the event loop.
        return self._queries.pop(_field(args, "queryId", int), None) is not None

    async def _query_stream_all(self, args: dict[str, Any]) -> Any:
        """convexpy's own: every document of a query with a small ``limit``, in one answer."""
        query, limit = self.compile(_field(args, "query", dict))
        if limit is None or limit > PREFETCH_LIMIT:
            raise SyscallError(f"1.0/queryStreamAll needs a limit of at most {PREFETCH_LIMIT}")
        # take() sizes its index read to the limit, as first() and unique() do in process, so the
        # read is the one the index cache already holds.
        documents = [cjson.to_json(document) for document in await query.take(limit)] if limit else []
        return {"page": documents}

    async def _query_page(self, args: dict[str, Any]) -> Any:
        query, _ = self.compile(_field(args, "query", dict))
        options = {"numItems": _field(args, "pageSize", (int, float)), "cursor": args.get("cursor")}
        if args.get("endCursor") is not None:
            options["endCursor"] = args["endCursor"]
        result = await query.paginate(options)
        return {"page": [cjson.to_json(document) for document in result["page"]], "isDone": result["isDone"],
                "continueCursor": result["continueCursor"], "splitCursor": None, "pageStatus": None}

    async def close(self) -> None:
        """End every query stream still open (the function returned)."""
        for open_query in self._queries.values():
            await open_query.documents.aclose()  # type: ignore[attr-defined]
        self._queries.clear()

    def compile(self, query_json: dict[str, Any]) -> tuple[Query, int | None]:
        """Convex's query JSON (``{source, operators}``) as a :class:`Query` and its limit."""
        source = _field(query_json, "source", dict)
        kind = source.get("type")
        if kind == "FullTableScan":
            table = _field(source, "tableName", str)
            query = self._reader_for(table).query(table)
        elif kind == "IndexRange":
            table, _, index = _field(source, "indexName", str).partition(".")
            ranges = source.get("range") or []
            query = self._reader_for(table).query(table).with_index(index, lambda q: _apply_range(q, ranges))
        elif kind == "Search":
            raise SyscallError(f"Search indexes are not supported by this deployment yet (withSearchIndex on "
                               f"{source.get('indexName')!r}); its definition is stored, so it will work once they are.")
        else:
            raise SyscallError(f"Unsupported query source {kind!r}")
        if source.get("order") is not None:
            query = query.order(source["order"])
        limit = None
        for operator in query_json.get("operators") or []:
            if not isinstance(operator, dict):
                raise SyscallError(f"Invalid query operator {operator!r}")
            if "filter" in operator:
                expression = compile_filter(operator["filter"])
                query = query.filter(lambda _q, expression=expression: expression)
            elif "limit" in operator:
                value = operator["limit"]
                if not isinstance(value, (int, float)) or isinstance(value, bool) or value < 0:
                    raise SyscallError(f"Invalid query limit {value!r}")
                limit = int(value) if limit is None else min(limit, int(value))
            else:
                raise SyscallError(f"Unknown query operator {sorted(operator)}")
        return query, limit

    def _reader_for(self, table: str) -> DatabaseReader:
        """System tables are read through ``db.system`` (the JavaScript runtime names them in the query)."""
        return self.db.system if is_system_table(table) else self.db

    async def _get_user_identity(self, args: dict[str, Any]) -> Any:
        self.identity_used = True
        return None if self.identity.user is None else cjson.to_json(self.identity.user)


def _arguments(op: str, args_json: str | bytes) -> dict[str, Any]:
    try:
        args = orjson.loads(args_json)
    except orjson.JSONDecodeError as exc:
        raise SyscallError(f"Invalid arguments for {op}: {exc}") from None
    if not isinstance(args, dict):
        raise SyscallError(f"Invalid arguments for {op}: expected an object")
    return args


def _apply_range(q: IndexRange, ranges: list[Any]) -> IndexRange:
    for bound in ranges:
        if not isinstance(bound, dict):
            raise SyscallError(f"Invalid index range expression {bound!r}")
        kind, field_path = bound.get("type"), _field(bound, "fieldPath", str)
        value = cjson.from_json(bound.get("value"))
        if kind == "Eq":
            q = q.eq(field_path, value)
        elif kind in _RANGE_BOUNDS:
            q = getattr(q, _RANGE_BOUNDS[kind])(field_path, value)
        else:
            raise SyscallError(f"Unknown index range expression type {kind!r}")
    return q


def compile_filter(expression: Any) -> Expr:
    """A serialized Convex filter expression (``{"$eq": [{"$field": "a"}, {"$literal": 1}]}``)."""
    if not isinstance(expression, dict) or len(expression) != 1:
        raise SyscallError(f"Invalid filter expression {expression!r}"[:300])
    (op, operand), = expression.items()
    if op == "$field":
        return FilterBuilder.field(operand)
    if op == "$literal":
        return Expr(_constant(cjson.from_json(operand)))
    if op in _COMPARISONS:
        if not isinstance(operand, list) or len(operand) != 2:
            raise SyscallError(f"{op} takes two operands")
        return getattr(FilterBuilder, _COMPARISONS[op])(compile_filter(operand[0]), compile_filter(operand[1]))
    if op == "$neg":
        return FilterBuilder.neg(compile_filter(operand))
    if op == "$not":
        return FilterBuilder.not_(compile_filter(operand))
    if op in ("$and", "$or"):
        if not isinstance(operand, list):
            raise SyscallError(f"{op} takes a list of operands")
        terms = [compile_filter(term) for term in operand]
        return FilterBuilder.and_(*terms) if op == "$and" else FilterBuilder.or_(*terms)
    raise SyscallError(f"Unknown filter operator {op!r}")


def _constant(value: Any) -> Callable[[dict], Any]:
    return lambda _document: value


def _field(args: dict[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = args.get(name)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise SyscallError(f"Invalid syscall arguments: `{name}` is missing or has the wrong type")
    return value
