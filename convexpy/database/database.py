"""The database facade: opens storage, keeps the catalog, runs transactions.

``latest_ts`` is the newest commit this replica knows to be durable; queries
read there. Mutations run through :meth:`Database.run_mutation`, which retries
on OCC conflicts with a fresh snapshot and, for its last attempt, runs with
the committer held so that a hot key cannot starve it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
from typing import Any, Awaitable, Callable, TypeVar

import orjson

from ..errors import ConflictError, SchemaError
from ..schema import SchemaDefinition
from ..storage.postgres import Persistence, iterate_index
from ..values import json as cjson
from .catalog import BY_CREATION_TIME, BY_ID, Catalog, Table
from .committer import CommitListener, Committer, SessionRecord
from .readset import SortedKeys
from .transaction import Transaction
from .writelog import WriteLog

logger = logging.getLogger(__name__)
T = TypeVar("T")
DEFAULT_MAX_RETRIES = 8


class Database:
    def __init__(self, persistence: Persistence, clock_ts: int):
        self.persistence = persistence
        self.catalog = Catalog()
        self.schema: SchemaDefinition | None = None
        self.latest_ts = clock_ts
        self.write_log = WriteLog(clock_ts)
        self.committer = Committer(persistence, self.write_log, self._on_commit)
        self.commit_listeners: list[CommitListener] = []
        """Told of every commit, in ts order, right after ``latest_ts`` moves (subscriptions)."""
        self._table_locks: dict[str, asyncio.Lock] = {}

    @classmethod
    async def open(cls, dsn: str, *, pool_size: int = 16) -> "Database":
        persistence = await Persistence.connect(dsn, max_size=pool_size)
        database = cls(persistence, await persistence.read_clock())
        await database.reload_catalog()
        database.committer.start()
        return database

    async def close(self) -> None:
        await self.committer.stop()
        await self.persistence.close()

    def _on_commit(self, ts: int, written: SortedKeys) -> None:
        if ts > self.latest_ts:
            self.latest_ts = ts
        for listener in self.commit_listeners:
            listener(ts, written)

    # --- catalog ---------------------------------------------------------------------

    async def reload_catalog(self) -> None:
        tables, indexes = await self.persistence.load_catalog()
        for row in tables:
            self.catalog.add_table(row["number"], row["name"])
        for row in indexes:
            self.catalog.add_index(row["id"], row["table_number"], row["name"], orjson.loads(row["fields"]))

    async def ensure_table(self, name: str) -> Table:
        """The table ``name``, created with its system indexes on first use."""
        table = self.catalog.by_name.get(name)
        if table is not None and BY_CREATION_TIME in table.indexes:
            return table
        lock = self._table_locks.setdefault(name, asyncio.Lock())
        async with lock:
            table = self.catalog.by_name.get(name)
            if table is not None and BY_CREATION_TIME in table.indexes:
                return table
            number = await self.persistence.create_table(name)
            table = self.catalog.add_table(number, name)
            for index_name, fields in ((BY_ID, []), (BY_CREATION_TIME, ["_creationTime"])):
                index_id, _ = await self.persistence.create_index(number, index_name, fields)
                self.catalog.add_index(index_id, number, index_name, fields)
            return table

    async def apply_schema(self, schema: SchemaDefinition | None) -> None:
        """Create the schema's tables and indexes, backfill new indexes, drop removed ones,
        and refuse a schema that stored documents violate (naming the first one)."""
        self.schema = schema
        if schema is None:
            return
        fingerprint = hashlib.sha256(
            orjson.dumps(
                {
                    name: {
                        "validator": table.validator.to_json() if table.validator else None,
                        "indexes": [[index.name, list(index.fields)] for index in table.indexes],
                    }
                    for name, table in sorted(schema.tables.items())
                },
                option=orjson.OPT_SORT_KEYS,
            )
        ).hexdigest()
        for name, definition in schema.tables.items():
            table = await self.ensure_table(name)
            wanted = {index.name: index for index in definition.indexes}
            for index_name in list(table.indexes):
                if index_name not in (BY_ID, BY_CREATION_TIME) and index_name not in wanted:
                    await self.persistence.drop_index(table.indexes[index_name].id)
                    self.catalog.remove_index(table.number, index_name)
            for index in definition.indexes:
                index_id, created = await self.persistence.create_index(table.number, index.name, index.fields)
                catalog_index = self.catalog.add_index(index_id, table.number, index.name, list(index.fields))
                if created:
                    await self._backfill(table, catalog_index)
        if await self.persistence.get_global("schema_fingerprint") != fingerprint:
            await self._check_existing_documents(schema)
            await self.persistence.set_global("schema_fingerprint", fingerprint)

    async def _backfill(self, table: Table, index: Any) -> None:
        batch: list[tuple[bytes, int, bytes]] = []
        async for row in iterate_index(self.persistence, table.by_id.id, table.number, self.latest_ts):
            batch.append((index.key(cjson.loads(row.value), row.document_id), row.ts, row.document_id))
            if len(batch) >= 1000:
                await self.persistence.backfill_index(index.id, batch)
                batch = []
        await self.persistence.backfill_index(index.id, batch)

    async def _check_existing_documents(self, schema: SchemaDefinition) -> None:
        for name in schema.tables:
            table = self.catalog.by_name[name]
            async for row in iterate_index(self.persistence, table.by_creation_time.id, table.number, self.latest_ts):
                document = cjson.loads(row.value)
                problem = schema.mismatch(name, document, self.catalog.table_name)
                if problem is not None:
                    raise SchemaError(
                        f'Schema validation failed.\nDocument with ID "{document["_id"]}" in table "{name}" '
                        f"does not match the schema: {problem}"
                    )

    def validate_document(self, table: str, document: dict[str, Any]) -> None:
        if self.schema is not None:
            self.schema.validate_write(table, document, self.catalog.table_name)

    # --- transactions ----------------------------------------------------------------

    def begin(self, *, writable: bool, snapshot_ts: int | None = None) -> Transaction:
        return Transaction(self, self.latest_ts if snapshot_ts is None else snapshot_ts, writable=writable)

    async def commit(self, tx: Transaction) -> int:
        """Commit ``tx``; returns its commit ts (the snapshot ts if it wrote nothing)."""
        request = tx.prepare_commit()
        if request is None:
            return tx.snapshot_ts
        return await self.committer.commit(request)

    async def run_mutation(
        self,
        body: Callable[[Transaction], Awaitable[T]],
        *,
        max_retries: int = DEFAULT_MAX_RETRIES,
        record: Callable[[T], SessionRecord] | None = None,
    ) -> tuple[T, int]:
        """Run ``body`` in a fresh transaction until it commits; returns ``(result, commit_ts)``.

        ``record`` turns the result into a session record stored atomically with
        the writes (and forces a commit even when nothing was written, so the
        outcome has a real commit ts). Raises :class:`ConflictError` only if even
        the exclusive last attempt lost to another replica.
        """

        async def attempt(commit: Callable[..., Awaitable[int]]) -> tuple[T, int]:
            tx = self.begin(writable=True)
            result = await body(tx)
            request = tx.prepare_commit(force=record is not None)
            if request is None:
                return result, tx.snapshot_ts
            if record is not None:
                request.session_record = record(result)
            return result, await commit(request)

        for retry in range(max_retries):
            try:
                return await attempt(self.committer.commit)
            except ConflictError:
                await asyncio.sleep(random.uniform(0, 0.002 * (retry + 1)))
        async with self.committer.exclusive() as commit_now:
            return await attempt(commit_now)
