"""The Python guest's ``ctx.db``: the documented Python API, as a client of the syscall protocol.

Everything here turns a call into a syscall (``runtime/syscalls.py`` is the
other end) and its JSON answer back into Python values: ``with_index`` ranges
and ``filter`` expressions serialize to the query JSON Convex's JavaScript
sends, so one host-side query engine serves both languages. Nothing here
touches the database or a transaction, so the same code runs in a runner
process, with the syscalls crossing a pipe, as in the server's own process.

A transport has two calls, as Convex's runtime has: ``call`` for the async
syscalls (reads and writes) and ``call_sync`` for the synchronous ones
(``1.0/queryStream``, ``1.0/queryCleanup``, ``1.0/db/normalizeId``), which
need no database round trip.
"""

from __future__ import annotations

from typing import Any, AsyncIterator, Awaitable, Callable, Protocol

import orjson

from ..errors import InvalidValueError, QueryError
from ..values import json as cjson
from ..values.ids import try_decode
from ..values.model import normalize

PREFETCH_LIMIT = 16
"""``first()``, ``unique()`` and ``take(n <= 16)`` ask for all their documents in one syscall."""
PROTOCOL_VERSION = "1.48.0"
"""Sent as ``version`` where Convex's runtime sends its npm version."""


class Transport(Protocol):
    async def call(self, op: str, args_json: str) -> str: ...

    def call_sync(self, op: str, args_json: str) -> str: ...


def _request(transport: Transport, op: str, args: dict[str, Any]) -> Awaitable[str]:
    return transport.call(op, orjson.dumps(args).decode())


async def _ask(transport: Transport, op: str, args: dict[str, Any]) -> Any:
    return orjson.loads(await _request(transport, op, args))


def _ask_sync(transport: Transport, op: str, args: dict[str, Any]) -> Any:
    return orjson.loads(transport.call_sync(op, orjson.dumps(args).decode()))


def _decode(value: Any) -> Any:
    return None if value is None else cjson.from_json(value)


# --- index ranges and filters, serialized as Convex serializes them ---------------------------


class RangeBuilder:
    """The ``q`` of a ``with_index`` lambda: ``eq`` on leading fields, then bounds on one field."""

    def __init__(self) -> None:
        self.range: list[dict[str, Any]] = []

    def _add(self, kind: str, field: str, value: Any) -> "RangeBuilder":
        self.range.append({"type": kind, "fieldPath": field, "value": cjson.to_json(normalize(value))})
        return self

    def eq(self, field: str, value: Any) -> "RangeBuilder":
        return self._add("Eq", field, value)

    def gt(self, field: str, value: Any) -> "RangeBuilder":
        return self._add("Gt", field, value)

    def gte(self, field: str, value: Any) -> "RangeBuilder":
        return self._add("Gte", field, value)

    def lt(self, field: str, value: Any) -> "RangeBuilder":
        return self._add("Lt", field, value)

    def lte(self, field: str, value: Any) -> "RangeBuilder":
        return self._add("Lte", field, value)


class Expression:
    """A serialized filter expression (``{"$eq": [...]}``)."""

    def __init__(self, serialized: dict[str, Any]):
        self.serialized = serialized


def _operand(value: Any) -> dict[str, Any]:
    return value.serialized if isinstance(value, Expression) else {"$literal": cjson.to_json(normalize(value))}


def _binary(op: str) -> Callable[[Any, Any], Expression]:
    return lambda left, right: Expression({op: [_operand(left), _operand(right)]})


class FilterExpressions:
    """The ``q`` of a ``filter`` lambda, mirroring Convex's filter builder."""

    field = staticmethod(lambda path: Expression({"$field": path}))
    eq, neq = staticmethod(_binary("$eq")), staticmethod(_binary("$neq"))
    lt, lte = staticmethod(_binary("$lt")), staticmethod(_binary("$lte"))
    gt, gte = staticmethod(_binary("$gt")), staticmethod(_binary("$gte"))
    add, sub = staticmethod(_binary("$add")), staticmethod(_binary("$sub"))
    mul, div, mod = staticmethod(_binary("$mul")), staticmethod(_binary("$div")), staticmethod(_binary("$mod"))
    neg = staticmethod(lambda value: Expression({"$neg": _operand(value)}))
    not_ = staticmethod(lambda value: Expression({"$not": _operand(value)}))
    and_ = staticmethod(lambda *terms: Expression({"$and": [_operand(term) for term in terms]}))
    or_ = staticmethod(lambda *terms: Expression({"$or": [_operand(term) for term in terms]}))


# --- queries ----------------------------------------------------------------------------------


class GuestQuery:
    """``ctx.db.query(table)``: builds Convex's query JSON, runs it through query syscalls."""

    def __init__(self, transport: Transport, table: str):
        self._transport = transport
        self._table = table
        self._index: str | None = None
        self._range: list[dict[str, Any]] = []
        self._order: str | None = None
        self._filters: list[dict[str, Any]] = []

    def with_index(self, name: str, range_fn: Callable[[RangeBuilder], RangeBuilder] | None = None) -> "GuestQuery":
        if self._index is not None:
            raise QueryError("with_index() can only be called once per query")
        self._index = name
        if range_fn is not None:
            built = range_fn(RangeBuilder())
            if not isinstance(built, RangeBuilder):
                raise QueryError("The with_index() range function must return the range builder (q.eq(...)...)")
            self._range = built.range
        return self

    withIndex = with_index

    def filter(self, predicate: Callable[[FilterExpressions], Expression]) -> "GuestQuery":
        expression = predicate(FilterExpressions())
        if not isinstance(expression, Expression):
            raise QueryError("filter() takes a function that builds an expression with q (e.g. lambda q: q.eq(q.field('a'), 1))")
        self._filters.append(expression.serialized)
        return self

    def order(self, order: str) -> "GuestQuery":
        if self._order is not None:
            raise QueryError("order() can only be called once per query")
        if order not in ("asc", "desc"):
            raise QueryError(f"order() takes 'asc' or 'desc', got {order!r}")
        self._order = order
        return self

    def full_table_scan(self) -> "GuestQuery":
        return self

    fullTableScan = full_table_scan

    def to_json(self, limit: int | None = None) -> dict[str, Any]:
        """The query as Convex's runtime sends it to ``1.0/queryStream`` and ``1.0/queryPage``."""
        if self._index is None:
            source: dict[str, Any] = {"type": "FullTableScan", "tableName": self._table, "order": self._order}
        else:
            source = {"type": "IndexRange", "indexName": f"{self._table}.{self._index}", "range": self._range, "order": self._order}
        operators: list[dict[str, Any]] = [{"filter": expression} for expression in self._filters]
        if limit is not None:
            operators.append({"limit": limit})
        return {"source": source, "operators": operators}

    async def _stream(self, limit: int | None = None) -> AsyncIterator[dict[str, Any]]:
        query_id = _ask_sync(self._transport, "1.0/queryStream", {"query": self.to_json(limit), "version": PROTOCOL_VERSION})["queryId"]
        try:
            while True:
                step = await _ask(self._transport, "1.0/queryStreamNext", {"queryId": query_id})
                if step["done"]:
                    return
                yield cjson.from_json(step["value"])
        finally:
            _ask_sync(self._transport, "1.0/queryCleanup", {"queryId": query_id})

    def __aiter__(self) -> AsyncIterator[dict[str, Any]]:
        return self._stream()

    async def _take(self, limit: int | None) -> list[dict[str, Any]]:
        if limit is not None and limit <= PREFETCH_LIMIT:
            answer = await _ask(self._transport, "1.0/queryStreamAll", {"query": self.to_json(limit), "version": PROTOCOL_VERSION})
            return [cjson.from_json(document) for document in answer["page"]]
        found = []
        stream = self._stream(limit)
        try:
            async for document in stream:
                found.append(document)
        finally:
            await stream.aclose()  # type: ignore[attr-defined]
        return found

    async def collect(self) -> list[dict[str, Any]]:
        return await self._take(None)

    async def take(self, n: int) -> list[dict[str, Any]]:
        if not isinstance(n, (int, float)) or isinstance(n, bool) or n < 0 or int(n) != n:
            raise QueryError(f"take() needs a non-negative integer, got {n!r}")
        return [] if n == 0 else await self._take(int(n))

    async def first(self) -> dict[str, Any] | None:
        found = await self._take(1)
        return found[0] if found else None

    async def unique(self) -> dict[str, Any] | None:
        found = await self._take(2)
        if len(found) > 1:
            raise QueryError(
                f"unique() query returned more than one result from table {self._table}:\n [{found[0]['_id']}, {found[1]['_id']}, ...]"
            )
        return found[0] if found else None

    async def paginate(self, options: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(options, dict) or "numItems" not in options:
            raise QueryError("paginate() takes {'numItems': n, 'cursor': string or None}")
        args = {"query": self.to_json(), "cursor": options.get("cursor"), "endCursor": options.get("endCursor"),
                "pageSize": options["numItems"], "version": PROTOCOL_VERSION}
        result = await _ask(self._transport, "1.0/queryPage", args)
        return {"page": [cjson.from_json(document) for document in result["page"]], "isDone": result["isDone"],
                "continueCursor": result["continueCursor"]}


# --- ctx.db -------------------------------------------------------------------------------------


def _split(args: tuple[Any, ...], operation: str) -> tuple[str | None, Any, tuple[Any, ...]]:
    """Accept both ``op(id, ...)`` and the newer ``op(table, id, ...)`` forms."""
    if len(args) >= 2 and isinstance(args[0], str) and try_decode(args[0]) is None and try_decode(args[1]) is not None:
        return args[0], args[1], args[2:]
    if not args:
        raise QueryError(f"db.{operation} needs a document ID")
    return None, args[0], args[1:]


class GuestDatabaseReader:
    """``ctx.db`` of a query (``system``: ``ctx.db.system``)."""

    def __init__(self, transport: Transport, *, system: bool = False):
        self._transport = transport
        self._system = system

    @property
    def system(self) -> "GuestDatabaseReader":
        return GuestDatabaseReader(self._transport, system=True)

    async def get(self, *args: Any) -> dict[str, Any] | None:
        table, doc_id, _ = _split(args, "get")
        request: dict[str, Any] = {"id": doc_id, "isSystem": self._system, "version": PROTOCOL_VERSION}
        if table is not None:
            request["table"] = table
        return _decode(await _ask(self._transport, "1.0/get", request))

    def query(self, table: str) -> GuestQuery:
        return GuestQuery(self._transport, table)

    def normalize_id(self, table: str, doc_id: Any) -> str | None:
        return _ask_sync(self._transport, "1.0/db/normalizeId", {"table": table, "idString": doc_id})["id"]

    normalizeId = normalize_id

    def __getattr__(self, name: str) -> Any:
        if name in ("insert", "patch", "replace", "delete"):
            raise InvalidValueError(f"db.{name}() is not available here: this function is a query, and queries cannot write to the database. Use a mutation.")
        raise AttributeError(name)


class GuestDatabaseWriter(GuestDatabaseReader):
    """``ctx.db`` of a mutation."""

    async def insert(self, table: str, document: dict[str, Any]) -> str:
        value = cjson.to_json(normalize(document))
        return (await _ask(self._transport, "1.0/insert", {"table": table, "value": value}))["_id"]

    async def _write(self, op: str, args: tuple[Any, ...], operation: str, *, with_value: bool) -> Any:
        table, doc_id, rest = _split(args, operation)
        request: dict[str, Any] = {"id": doc_id}
        if table is not None:
            request["table"] = table
        if with_value:
            if len(rest) != 1:
                raise QueryError(f"db.{operation} takes an ID and an object of fields")
            request["value"] = cjson.to_json(normalize(rest[0]))
        return await _ask(self._transport, op, request)

    async def patch(self, *args: Any) -> None:
        await self._write("1.0/shallowMerge", args, "patch", with_value=True)

    async def replace(self, *args: Any) -> None:
        await self._write("1.0/replace", args, "replace", with_value=True)

    async def delete(self, *args: Any) -> None:
        await self._write("1.0/remove", args, "delete", with_value=False)


class GuestEnv:
    """``ctx.env`` in a runner: the deployment's environment variables, read through the host."""

    def __init__(self, transport: Transport):
        self._transport = transport

    async def get(self, name: str, default: str | None = None) -> str | None:
        value = await _ask(self._transport, "environmentVariables/get", {"name": name})
        return default if value is None else value


class GuestAuth:
    def __init__(self, transport: Transport):
        self._transport = transport

    async def get_user_identity(self) -> dict[str, Any] | None:
        return _decode(await _ask(self._transport, "1.0/getUserIdentity", {}))

    getUserIdentity = get_user_identity
