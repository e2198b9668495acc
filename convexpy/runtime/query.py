"""``ctx.db.query(table)``: index ranges, filters, order, and the terminals.

A query is an index scan (``by_creation_time`` unless ``with_index`` names
one) over an interval built from the range expression, optionally filtered.
The range expression compiles to a byte interval of sort keys::

    q.eq("a", 1).gte("b", 5)   ->   [enc(1) enc(5), successor(enc(1)))

Filters run in Python over the scanned documents, with Convex's comparison
semantics, so a filter never narrows the read set (as in Convex, filtered-out
documents still count as read).
"""

from __future__ import annotations

import base64
import hashlib
from typing import Any, Callable

import orjson

from ..database.catalog import BY_CREATION_TIME, Index, Table, field_value
from ..database.readset import Interval
from ..database.transaction import IndexScan, Transaction
from ..errors import InvalidCursor, QueryError
from ..values import sortkey
from ..values.model import normalize

MAX_PAGE_ITEMS = 8192


# --- index ranges ---------------------------------------------------------------------


class IndexRange:
    """The ``q`` passed to a ``with_index`` lambda: ``eq`` on a prefix, then bounds on one field."""

    def __init__(self, index: Index):
        self._index = index
        self._fields = list(index.fields)
        self._eq: list[Any] = []
        self._lower: tuple[str, Any] | None = None
        self._upper: tuple[str, Any] | None = None
        self._bound_field: str | None = None

    def _next_field(self, field: str, op: str) -> None:
        position = len(self._eq)
        if self._bound_field is not None and field != self._bound_field:
            raise QueryError(f"Index range for {self._index.name} already bounds {self._bound_field!r}; cannot add {op}({field!r}) after it.")
        if self._bound_field is None and (position >= len(self._fields) or self._fields[position] != field):
            expected = self._fields[position] if position < len(self._fields) else None
            raise QueryError(
                f"Uncaught Error: Tried to query index {self._index.name} but the query didn't use the index fields in order. "
                f"Index fields: [{', '.join(self._fields)}], expected {expected!r} but got {field!r}."
            )

    def eq(self, field: str, value: Any) -> "IndexRange":
        if self._bound_field is not None:
            raise QueryError(f"eq({field!r}) must come before range bounds in an index range")
        self._next_field(field, "eq")
        self._eq.append(normalize(value))
        return self

    def _bound(self, field: str, op: str, value: Any) -> "IndexRange":
        self._next_field(field, op)
        self._bound_field = field
        if op in ("gt", "gte"):
            if self._lower is not None:
                raise QueryError(f"Index range on {field!r} has two lower bounds")
            self._lower = (op, normalize(value))
        else:
            if self._upper is not None:
                raise QueryError(f"Index range on {field!r} has two upper bounds")
            self._upper = (op, normalize(value))
        return self

    def gt(self, field: str, value: Any) -> "IndexRange":
        return self._bound(field, "gt", value)

    def gte(self, field: str, value: Any) -> "IndexRange":
        return self._bound(field, "gte", value)

    def lt(self, field: str, value: Any) -> "IndexRange":
        return self._bound(field, "lt", value)

    def lte(self, field: str, value: Any) -> "IndexRange":
        return self._bound(field, "lte", value)

    def interval(self) -> Interval:
        prefix = sortkey.encode_tuple(self._eq)
        lower, upper = prefix, sortkey.successor(prefix)
        if self._lower is not None:
            op, value = self._lower
            key = prefix + sortkey.encode(value)
            lower = key if op == "gte" else (sortkey.successor(key) or key)
        if self._upper is not None:
            op, value = self._upper
            key = prefix + sortkey.encode(value)
            upper = key if op == "lt" else sortkey.successor(key)
        return Interval(lower, upper)


# --- filter expressions -----------------------------------------------------------------


class Expr:
    """A filter expression node; evaluates against a document."""

    def __init__(self, evaluate: Callable[[dict], Any]):
        self.evaluate = evaluate


def _expr(value: Any) -> Expr:
    if isinstance(value, Expr):
        return value
    constant = normalize(value)
    return Expr(lambda _doc: constant)


def _compare(op: Callable[[int], bool]) -> Callable[[Any, Any], Expr]:
    def build(left: Any, right: Any) -> Expr:
        left_expr, right_expr = _expr(left), _expr(right)
        return Expr(lambda doc: op(sortkey.compare(left_expr.evaluate(doc), right_expr.evaluate(doc))))

    return build


def _numeric(name: str, op: Callable[[Any, Any], Any]) -> Callable[[Any, Any], Expr]:
    def build(left: Any, right: Any) -> Expr:
        left_expr, right_expr = _expr(left), _expr(right)

        def evaluate(doc: dict) -> Any:
            a, b = left_expr.evaluate(doc), right_expr.evaluate(doc)
            if not isinstance(a, (int, float)) or isinstance(a, bool) or type(a) is not type(b):
                raise QueryError(f"q.{name}() needs two numbers of the same type, got {a!r} and {b!r}")
            return type(a)(op(a, b))

        return Expr(evaluate)

    return build


class FilterBuilder:
    """The ``q`` passed to a ``filter`` lambda, mirroring Convex's filter builder."""

    @staticmethod
    def field(path: str) -> Expr:
        return Expr(lambda doc: field_value(doc, path))

    eq = staticmethod(_compare(lambda c: c == 0))
    neq = staticmethod(_compare(lambda c: c != 0))
    lt = staticmethod(_compare(lambda c: c < 0))
    lte = staticmethod(_compare(lambda c: c <= 0))
    gt = staticmethod(_compare(lambda c: c > 0))
    gte = staticmethod(_compare(lambda c: c >= 0))
    add = staticmethod(_numeric("add", lambda a, b: a + b))
    sub = staticmethod(_numeric("sub", lambda a, b: a - b))
    mul = staticmethod(_numeric("mul", lambda a, b: a * b))
    div = staticmethod(_numeric("div", lambda a, b: a / b))
    mod = staticmethod(_numeric("mod", lambda a, b: a % b))

    @staticmethod
    def neg(value: Any) -> Expr:
        inner = _expr(value)
        return Expr(lambda doc: -inner.evaluate(doc))

    @staticmethod
    def and_(*terms: Any) -> Expr:
        exprs = [_expr(term) for term in terms]
        return Expr(lambda doc: all(expr.evaluate(doc) is True for expr in exprs))

    @staticmethod
    def or_(*terms: Any) -> Expr:
        exprs = [_expr(term) for term in terms]
        return Expr(lambda doc: any(expr.evaluate(doc) is True for expr in exprs))

    @staticmethod
    def not_(term: Any) -> Expr:
        expr = _expr(term)
        return Expr(lambda doc: expr.evaluate(doc) is not True)


# --- cursors ----------------------------------------------------------------------------

_END = "_end"


def query_fingerprint(index: Index, interval: Interval, descending: bool) -> str:
    """What a cursor is bound to: the index, the range and the order of the query that made it."""
    digest = hashlib.blake2b(digest_size=8)
    for part in (index.id.to_bytes(4, "little"), interval.lower, b"\x01" + interval.upper if interval.upper is not None else b"\x00"):
        digest.update(len(part).to_bytes(4, "little"))
        digest.update(part)
    digest.update(b"d" if descending else b"a")
    return digest.hexdigest()


def encode_cursor(key: bytes | None, fingerprint: str) -> str:
    """An opaque cursor for "after ``key``" (None: the end of the range) of the query ``fingerprint``."""
    payload = orjson.dumps({"k": None if key is None else base64.b64encode(key).decode(), "q": fingerprint})
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


def decode_cursor(cursor: str, fingerprint: str, interval: Interval) -> bytes | str:
    """The key a cursor continues after (or ``_END``), refusing a cursor of another query.

    A position outside the query's range is refused too, so a hand-made cursor can never make a
    scan leave the range the query asked for.
    """
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = orjson.loads(base64.urlsafe_b64decode(padded))
        key = data["k"]
        position = _END if key is None else base64.b64decode(key, validate=True)
        bound_to = data["q"]
    except Exception:  # noqa: BLE001 - any malformed cursor gets the same clear error
        text = cursor if len(cursor) <= 100 else cursor[:100] + "..."
        raise QueryError(f"InvalidCursor: Failed to parse cursor {text!r}: cursors must come from a previous paginate() call on the same query.") from None
    if bound_to != fingerprint or (position != _END and not interval.contains(position)):
        raise InvalidCursor()
    return position


# --- the query builder -------------------------------------------------------------------


class Query:
    def __init__(self, tx: Transaction, table: Table | None, table_name: str):
        self._tx = tx
        self._table = table
        self._table_name = table_name
        self._index: Index | None = None
        self._interval = Interval(b"", None)
        self._descending = False
        self._filters: list[Expr] = []
        self._ordered = False

    def with_index(self, name: str, range_fn: Callable[[IndexRange], IndexRange] | None = None) -> "Query":
        if self._index is not None:
            raise QueryError("with_index() can only be called once per query")
        if self._table is None:
            raise QueryError(f"Index {self._table_name}.{name} not found.")
        index = self._table.indexes.get(name)
        if index is None and any(building.name == name for building in self._table.building.values()):
            raise QueryError(f"Index {self._table_name}.{name} is currently backfilling and not available to query yet.")
        if index is None or name == "by_id":
            raise QueryError(f"Index {self._table_name}.{name} not found.")
        self._index = index
        if range_fn is not None:
            built = range_fn(IndexRange(index))
            if not isinstance(built, IndexRange):
                raise QueryError("The with_index() range function must return the range builder (q.eq(...)...)")
            self._interval = built.interval()
        return self

    withIndex = with_index

    def filter(self, predicate: Callable[[FilterBuilder], Expr]) -> "Query":
        expr = predicate(FilterBuilder())
        if not isinstance(expr, Expr):
            raise QueryError("filter() takes a function that builds an expression with q (e.g. lambda q: q.eq(q.field('a'), 1))")
        self._filters.append(expr)
        return self

    def order(self, order: str) -> "Query":
        if self._ordered:
            raise QueryError("order() can only be called once per query")
        if order not in ("asc", "desc"):
            raise QueryError(f"order() takes 'asc' or 'desc', got {order!r}")
        self._ordered = True
        self._descending = order == "desc"
        return self

    def full_table_scan(self) -> "Query":
        """Explicitly scan the whole table in creation order (the default without ``with_index``)."""
        return self

    fullTableScan = full_table_scan

    async def _resolve_index(self) -> Index:
        if self._table is None:
            # Reading a table that does not exist yet creates it (empty), so the read set names
            # a real index and the first insert into the table invalidates this result.
            self._table = await self._tx.db.ensure_table(self._table_name)
        return self._index or self._table.indexes[BY_CREATION_TIME]

    async def _scan(self, interval: Interval | None = None, size_hint: int | None = None) -> IndexScan:
        index = await self._resolve_index()
        return self._tx.scan(index, interval or self._interval, descending=self._descending, size_hint=size_hint)

    def _matches(self, document: dict) -> bool:
        return all(expr.evaluate(document) is True for expr in self._filters)

    async def _take(self, limit: int | None, size_hint: int | None = None) -> list[dict]:
        scan = await self._scan(size_hint=size_hint if not self._filters else None)
        results: list[dict] = []
        try:
            while (document := await scan.next()) is not None:
                if not self._filters or self._matches(document):
                    results.append(document)
                    if limit is not None and len(results) >= limit:
                        break
        finally:
            scan.close()
        return results

    async def collect(self) -> list[dict]:
        return await self._take(None)

    async def take(self, n: int) -> list[dict]:
        if not isinstance(n, (int, float)) or isinstance(n, bool) or n < 0 or int(n) != n:
            raise QueryError(f"take() needs a non-negative integer, got {n!r}")
        if n == 0:
            return []
        return await self._take(int(n), int(n))

    async def first(self) -> dict | None:
        found = await self._take(1, 1)
        return found[0] if found else None

    async def unique(self) -> dict | None:
        found = await self._take(2, 2)
        if len(found) > 1:
            raise QueryError(
                f"unique() query returned more than one result from table {self._table_name}:\n"
                f" [{found[0]['_id']}, {found[1]['_id']}, ...]"
            )
        return found[0] if found else None

    def __aiter__(self):
        return self._iterate()

    async def _iterate(self):
        scan = await self._scan()
        try:
            async for document in scan:
                if self._matches(document):
                    yield document
        finally:
            scan.close()

    async def paginate(self, options: dict) -> dict:
        """One page: ``{"page", "isDone", "continueCursor"}`` as Convex returns it."""
        if not isinstance(options, dict) or "numItems" not in options:
            raise QueryError("paginate() takes {'numItems': n, 'cursor': string or None}")
        num_items = options.get("numItems")
        if not isinstance(num_items, (int, float)) or isinstance(num_items, bool) or num_items != num_items:
            raise QueryError(f"paginationOpts.numItems must be a number, got {num_items!r}")
        num_items = max(1, min(int(num_items), MAX_PAGE_ITEMS))
        if self._tx.paginated:
            raise QueryError(
                "This query or mutation function ran multiple paginated queries. Convex only supports a single paginated query in each function."
            )
        self._tx.paginated = True
        cursor = options.get("cursor")
        end_cursor = options.get("endCursor")
        if end_cursor is None and self._tx.journal_in is not None:
            # A subscription re-run: keep the page's end where the first run put it.
            end_cursor = self._tx.journal_in
        interval = self._interval
        fingerprint = query_fingerprint(await self._resolve_index(), interval, self._descending)
        if cursor is not None:
            if not isinstance(cursor, str):
                raise QueryError("paginationOpts.cursor must be a string or null")
            position = decode_cursor(cursor, fingerprint, self._interval)
            if position == _END:
                return {"page": [], "isDone": True, "continueCursor": cursor}
            interval = Interval(interval.lower, position) if self._descending else Interval(position + b"\x00", interval.upper)
        end: bytes | str | None = None
        if end_cursor is not None and not isinstance(end_cursor, str):
            raise QueryError("paginationOpts.endCursor must be a string or null")
        if isinstance(end_cursor, str):
            end = decode_cursor(end_cursor, fingerprint, self._interval)
            if end != _END:
                interval = Interval(end, interval.upper) if self._descending else Interval(interval.lower, end + b"\x00")
        scan = await self._scan(interval, size_hint=num_items + 1 if not self._filters else None)
        page: list[dict] = []
        last_key: bytes | None = None
        done = True
        try:
            async for document in scan:
                if len(page) >= num_items and end_cursor is None:
                    done = False
                    break
                last_key = scan.last_key
                if self._matches(document):
                    page.append(document)
        finally:
            scan.close()
        if end_cursor is not None:
            result = {"page": page, "isDone": end == _END, "continueCursor": end_cursor}
        else:
            result = {"page": page, "isDone": done, "continueCursor": encode_cursor(None if done else last_key, fingerprint)}
        self._tx.journal_out = result["continueCursor"]
        return result
