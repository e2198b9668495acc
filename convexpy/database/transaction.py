"""A transaction: snapshot reads, buffered writes, and the read set they produce.

Reads see the snapshot ``snapshot_ts`` plus the transaction's own writes.
Writes stay in memory until :meth:`Transaction.prepare_commit` turns them into
rows for the committer. Nothing reaches PostgreSQL before the commit, so a
transaction that raises leaves no trace.

Two rules keep the read set and the writes exact whatever user code does:

* every document handed out is the caller's own copy: editing it in place
  changes nothing the transaction holds (the old revision an update's stale
  index keys are computed from, or a pending write);
* every read is in the read set the moment its document is handed out, not
  when the scan ends: a scan abandoned half-way (``async for`` with ``break``,
  a generator never closed) still covers everything it returned.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..errors import InvalidValueError, OutOfRetention, ReadLimitExceeded
from ..storage.postgres import DEPLOYMENT_INDEX_ID, DEPLOYMENT_KEY, DocumentWrite, IndexWrite
from ..values import json as cjson
from ..values.ids import DocumentId
from ..values.model import MAX_DOCUMENT_NESTING, MAX_DOCUMENT_SIZE, copy_value, format_size, nesting_of, size_of
from .catalog import Index, Table
from .committer import CommitRequest
from .readset import MAX_READ_INTERVALS, Interval, ReadSet, SortedKeys, point

if TYPE_CHECKING:
    from .database import Database

MAX_WRITES = 16_000
MAX_DOCUMENTS_READ = 32_000
MAX_PAGE = 1024
_UNSET = object()


@dataclass(slots=True)
class PendingWrite:
    table: Table
    internal_id: bytes
    old: dict[str, Any] | None
    old_ts: int | None
    new: dict[str, Any] | None


def ts_to_ms(ts_ns: int) -> float:
    return ts_ns // 1_000_000 + (ts_ns % 1_000_000) / 1_000_000


class Transaction:
    def __init__(self, database: "Database", snapshot_ts: int, *, writable: bool):
        self.db = database
        self.snapshot_ts = snapshot_ts
        self.writable = writable
        self.read_set = ReadSet()
        self.writes: dict[tuple[int, bytes], PendingWrite] = {}
        self.documents_read = 0
        self.journal_in: str | None = None
        """The end cursor a re-run paginated query must stop at (from its journal)."""
        self.journal_out: str | None = None
        self.paginated = False
        self.refused: OutOfRetention | None = None
        """Set when a read was refused because retention cut past ``snapshot_ts``."""
        self._snapshot_docs: dict[tuple[int, bytes], tuple[bytes | None, int | None]] = {}
        """Stored revisions read so far, ``(encoded value, ts)``: decoded anew for each caller."""
        self._next_creation_ms = ts_to_ms(max(snapshot_ts, time.time_ns())) if writable else 0.0
        if writable:
            # Every write was prepared with the deployment's indexes as of the snapshot: a deployment
            # change committed since (a new index to maintain) makes this transaction conflict.
            self.read_set.add(DEPLOYMENT_INDEX_ID, point(DEPLOYMENT_KEY))

    # --- reads -----------------------------------------------------------------------

    def record_read(self, index: Index, interval: Interval) -> None:
        self.read_set.add(index.id, interval)
        self._check_read_count()

    def record_open_read(self, index: Index, interval: Interval) -> int:
        """Record ``interval`` (possibly empty) and return its slot, for a scan to widen as it goes."""
        slot = self.read_set.add_slot(index.id, interval)
        self._check_read_count()
        return slot

    def _check_read_count(self) -> None:
        if self.read_set.count > MAX_READ_INTERVALS:
            raise ReadLimitExceeded(
                f"Too many reads in a single function execution (limit: {MAX_READ_INTERVALS}). "
                "Consider using smaller limits in your queries, paginating your queries, or using indexed queries with a selective index range expressions."
            )

    def count_document_read(self) -> None:
        self.documents_read += 1
        if self.documents_read > MAX_DOCUMENTS_READ:
            raise ReadLimitExceeded(
                f"Too many documents read in a single function execution (limit: {MAX_DOCUMENTS_READ}). "
                "Consider using smaller limits in your queries, paginating your queries, or using indexed queries with a selective index range expressions."
            )

    async def read_range(self, index: Index, lower: bytes, upper: bytes | None, limit: int, descending: bool = False) -> list:
        """An index range at this snapshot; a refusal (retention cut past it) is remembered."""
        try:
            return await self.db.read_range(index.id, index.table_number, lower, upper, self.snapshot_ts, limit, descending)
        except OutOfRetention as refusal:
            self.refused = refusal
            raise

    def raise_if_refused(self) -> None:
        """Raise the refusal of a read, if there was one, even if user code caught it: the
        transaction's result cannot be trusted, and its caller retries at a fresh snapshot."""
        if self.refused is not None:
            raise self.refused

    async def _snapshot_get(self, table: Table, internal_id: bytes) -> tuple[bytes | None, int | None]:
        cache_key = (table.number, internal_id)
        cached = self._snapshot_docs.get(cache_key)
        if cached is not None:
            return cached
        rows = await self.read_range(table.by_id, internal_id, internal_id + b"\x00", 1)
        found = (rows[0].value, rows[0].ts) if rows else (None, None)
        self._snapshot_docs[cache_key] = found
        return found

    async def _stored(self, table: Table, internal_id: bytes) -> tuple[dict[str, Any] | None, int | None]:
        """The stored revision at the snapshot, decoded into a new object."""
        raw, ts = await self._snapshot_get(table, internal_id)
        return (None if raw is None else cjson.loads_stored(raw)), ts

    async def get(self, table: Table, internal_id: bytes) -> dict[str, Any] | None:
        """The document as this transaction sees it (the caller's own copy), or None."""
        pending = self.writes.get((table.number, internal_id))
        if pending is not None:
            return None if pending.new is None else copy_value(pending.new)
        self.record_read(table.by_id, point(internal_id))
        document, _ = await self._stored(table, internal_id)
        if document is not None:
            self.count_document_read()
        return document

    def scan(self, index: Index, interval: Interval, *, descending: bool = False, size_hint: int | None = None) -> "IndexScan":
        """Iterate documents of ``index`` in ``interval``, in key order."""
        return IndexScan(self, index, interval, descending, size_hint)

    # --- writes ----------------------------------------------------------------------

    def _check_writable(self) -> None:
        if not self.writable:
            raise InvalidValueError("This function is a query: it cannot write to the database. Use a mutation.")

    def _check_document(self, table: Table, document: dict[str, Any]) -> None:
        size = size_of(document)
        if size > MAX_DOCUMENT_SIZE:
            raise InvalidValueError(f"Value is too large ({format_size(size)} > maximum size {format_size(MAX_DOCUMENT_SIZE)})")
        nesting = nesting_of(document)
        if nesting > MAX_DOCUMENT_NESTING:
            raise InvalidValueError(
                f"Document is too nested (nested {nesting} levels deep > maximum nesting {MAX_DOCUMENT_NESTING})"
            )
        self.db.validate_document(table.name, document)

    def _stage(self, table: Table, internal_id: bytes, old: dict | None, old_ts: int | None, new: dict | None) -> None:
        key = (table.number, internal_id)
        pending = self.writes.get(key)
        if pending is None:
            if len(self.writes) >= MAX_WRITES:
                raise InvalidValueError(f"Too many writes in a single function execution (limit: {MAX_WRITES})")
            self.writes[key] = PendingWrite(table, internal_id, old, old_ts, new)
        else:
            pending.new = new

    async def insert(self, table: Table, fields: dict[str, Any]) -> str:
        self._check_writable()
        doc_id = DocumentId.new(table.number)
        creation_ms = self._next_creation_ms
        self._next_creation_ms = math.nextafter(creation_ms, math.inf)
        document = {"_id": doc_id.encode(), "_creationTime": creation_ms, **fields}
        self._check_document(table, document)
        self._stage(table, doc_id.internal_id, None, None, document)
        return document["_id"]

    async def replace(self, table: Table, internal_id: bytes, document: dict[str, Any]) -> None:
        """Store ``document`` (system fields included) as the new version of an existing document."""
        self._check_writable()
        self._check_document(table, document)
        pending = self.writes.get((table.number, internal_id))
        if pending is None:
            old, old_ts = await self._stored(table, internal_id)
            self._stage(table, internal_id, old, old_ts, document)
        else:
            pending.new = document

    async def delete(self, table: Table, internal_id: bytes) -> None:
        self._check_writable()
        pending = self.writes.get((table.number, internal_id))
        if pending is None:
            old, old_ts = await self._stored(table, internal_id)
            self._stage(table, internal_id, old, old_ts, None)
        else:
            pending.new = None

    # --- commit ----------------------------------------------------------------------

    def prepare_commit(self, *, force: bool = False) -> CommitRequest | None:
        """The rows and written keys of this transaction, or None if it wrote nothing (unless ``force``)."""
        documents: list[DocumentWrite] = []
        index_writes: list[IndexWrite] = []
        written: list[tuple[int, bytes]] = []
        for pending in self.writes.values():
            if pending.old is None and pending.new is None:
                continue  # inserted then deleted within the transaction
            documents.append(
                DocumentWrite(
                    pending.table.number,
                    pending.internal_id,
                    None if pending.new is None else cjson.dumps(pending.new),
                    pending.old_ts,
                )
            )
            for index in pending.table.maintained():
                old_key = None if pending.old is None else index.key(pending.old, pending.internal_id)
                new_key = None if pending.new is None else index.key(pending.new, pending.internal_id)
                if old_key is not None and old_key != new_key:
                    index_writes.append(IndexWrite(index.id, old_key, None))
                    written.append((index.id, old_key))
                if new_key is not None:
                    index_writes.append(IndexWrite(index.id, new_key, pending.internal_id))
                    written.append((index.id, new_key))
        if not documents and not force:
            return None
        return CommitRequest(self.snapshot_ts, self.read_set, documents, index_writes, SortedKeys(written))


class IndexScan:
    """Walks one index interval at a snapshot, merged with the transaction's own writes.

    Pages are fetched lazily, so ``first()`` costs one small query. The part of
    the interval walked so far is in the read set at every step: one slot of it
    that grows with each document handed out, and becomes the whole interval
    once the scan reaches its end.
    """

    def __init__(self, tx: Transaction, index: Index, interval: Interval, descending: bool, size_hint: int | None):
        self.tx = tx
        self.index = index
        self.interval = interval
        self.descending = descending
        self._page_size = min(MAX_PAGE, max(1, size_hint or 64))
        self._db_rows: list = []
        self._db_position = 0
        self._db_done = False
        self._db_cursor: bytes | None = None
        self._last_key: bytes | None = None
        self._exhausted = False
        self._closed = False
        table_number = index.table_number
        self._shadowed: set[bytes] = set()
        overlay: list[tuple[bytes, dict[str, Any]]] = []
        if tx.writes:  # the transaction's own writes in this interval shadow and join the stored rows
            self._shadowed = {iid for (number, iid) in tx.writes if number == table_number}
            for (number, iid), pending in tx.writes.items():
                if number == table_number and pending.new is not None:
                    key = index.key(pending.new, iid)
                    if interval.contains(key):
                        overlay.append((key, pending.new))
            overlay.sort(key=lambda item: item[0], reverse=descending)
        self._overlay = overlay
        self._overlay_position = 0
        self._db_peek: object = _UNSET
        self._slot: int | None = None
        """Where this scan's interval sits in ``tx.read_set`` (taken on the first step)."""

    @property
    def last_key(self) -> bytes | None:
        """The index key of the last document handed out (None before the first)."""
        return self._last_key

    def _record(self, walked: Interval) -> None:
        if self._slot is None:
            self._slot = self.tx.record_open_read(self.index, walked)
        else:
            self.tx.read_set.replace(self.index.id, self._slot, walked)

    def __aiter__(self) -> "IndexScan":
        return self

    async def _next_db(self) -> tuple[bytes, bytes] | None:
        while True:
            if self._db_position < len(self._db_rows):
                row = self._db_rows[self._db_position]
                self._db_position += 1
                if row.document_id in self._shadowed:
                    continue
                return row.key, row.value
            if self._db_done:
                return None
            await self._fetch_page()

    async def _fetch_page(self) -> None:
        lower, upper = self.interval.lower, self.interval.upper
        if self._db_cursor is not None:
            if self.descending:
                upper = self._db_cursor
            else:
                lower = self._db_cursor + b"\x00"
        rows = await self.tx.read_range(self.index, lower, upper, self._page_size, self.descending)
        self._db_rows = rows
        self._db_position = 0
        if len(rows) < self._page_size:
            self._db_done = True
        else:
            self._db_cursor = rows[-1].key
        self._page_size = min(MAX_PAGE, self._page_size * 2)

    async def __anext__(self) -> dict[str, Any]:
        document = await self.next()
        if document is None:
            raise StopAsyncIteration
        return document

    async def next(self) -> dict[str, Any] | None:
        """The next document, or None at the end (no exception: the hot path ends every scan)."""
        if self._closed or self._exhausted:
            return None
        if self._slot is None:
            self._record(Interval(self.interval.lower, self.interval.lower))  # nothing walked yet
        if self._db_peek is _UNSET:
            self._db_peek = await self._next_db()
        db_item = self._db_peek
        overlay_item = self._overlay[self._overlay_position] if self._overlay_position < len(self._overlay) else None
        if db_item is None and overlay_item is None:
            self._exhausted = True
            self._record(self.interval)
            return None
        take_overlay = db_item is None or (
            overlay_item is not None and ((overlay_item[0] > db_item[0]) if self.descending else (overlay_item[0] < db_item[0]))
        )
        if take_overlay:
            self._overlay_position += 1
            key, document = overlay_item
        else:
            key, raw = db_item
            self.tx.count_document_read()
            document = cjson.loads_stored(raw)
            self._db_peek = _UNSET
        self._last_key = key
        if self.descending:
            self._record(Interval(key, self.interval.upper))
        else:
            self._record(Interval(self.interval.lower, key + b"\x00"))
        return document if not take_overlay else copy_value(document)

    def close(self) -> None:
        """End the scan (what it walked is already recorded). Safe to call more than once."""
        self._closed = True
