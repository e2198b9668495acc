"""Retention: delete document and index revisions that no transaction can read any more.

At ``cutoff = min(latest_ts, now - window)`` a revision is dead if a newer
revision of the same key exists at or before the cutoff, and a tombstone at or
before the cutoff is dead outright. The pass records the cutoff as the
retention horizon (``cx_retention``) in the same transaction as its deletes,
and every read from PostgreSQL checks the horizon in the same statement as its
rows: a reader whose snapshot fell behind it (a replica that lagged or was
paused) is refused with :class:`OutOfRetention` and retried at a fresh
snapshot, never handed a wrong answer.

The job walks the commit log from its cursor (in ``cx_globals``) to the
cutoff: a key can only have dead revisions if some commit in that range wrote
it, so work is proportional to writes, not to data size. Document revisions
are found through the ``by_id`` keys of those commits. One replica at a time
runs it (a transaction-level advisory lock); the commit log rows it passes are
deleted too (``log_ts``), and a replica that falls further behind than that
resyncs (:class:`~convexpy.storage.postgres.CommitLogGap`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import TYPE_CHECKING

from ..services import BackgroundService
from ..storage.postgres import unpack_write_set

if TYPE_CHECKING:
    from .database import Database

logger = logging.getLogger(__name__)

_RETENTION_LOCK = 0x72657465  # "rete"
CHUNK_COMMITS = 500
SESSION_RECORD_RETENTION_NS = 14 * 24 * 3600 * 10**9

_DELETE_INDEX_REVISIONS = """
WITH keys AS (
    SELECT DISTINCT index_id, key FROM UNNEST($1::int[], $2::bytea[]) AS k(index_id, key)
), newest AS (
    SELECT keys.index_id, keys.key,
           (SELECT max(ts) FROM cx_indexes i WHERE i.index_id = keys.index_id AND i.key = keys.key AND i.ts <= $3) AS keep_ts
    FROM keys
)
DELETE FROM cx_indexes i USING newest n
WHERE i.index_id = n.index_id AND i.key = n.key
  AND (i.ts < n.keep_ts OR (i.ts = n.keep_ts AND i.document_id IS NULL))
"""

_DELETE_DOCUMENT_REVISIONS = """
WITH docs AS (
    SELECT DISTINCT table_number, id FROM UNNEST($1::int[], $2::bytea[]) AS d(table_number, id)
), newest AS (
    SELECT docs.table_number, docs.id,
           (SELECT max(ts) FROM cx_documents d WHERE d.table_number = docs.table_number AND d.id = docs.id AND d.ts <= $3) AS keep_ts
    FROM docs
)
DELETE FROM cx_documents d USING newest n
WHERE d.table_number = n.table_number AND d.id = n.id
  AND (d.ts < n.keep_ts OR (d.ts = n.keep_ts AND d.value IS NULL))
"""


class RetentionJob(BackgroundService):
    name = "retention job"

    def __init__(self, database: "Database", window_s: float):
        super().__init__()
        self.database = database
        self.window_ns = int(window_s * 1e9)
        self.interval_s = max(0.5, min(window_s / 4, 30.0))

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval_s)
            try:
                await self.run_once(min(self.database.latest_ts, time.time_ns() - self.window_ns))
            except asyncio.CancelledError:
                raise
            except Exception:  # noqa: BLE001 - retention retries on its next round
                logger.exception("retention pass failed")

    async def run_once(self, cutoff_ts: int) -> int:
        """Delete what is dead at ``cutoff_ts``; returns how many commits were processed."""
        persistence = self.database.persistence
        by_id_tables = {
            table.by_id.id: table.number for table in self.database.catalog.by_number.values() if "by_id" in table.indexes
        }
        processed = 0
        async with persistence.pool.acquire() as conn:
            async with conn.transaction():
                if not await conn.fetchval("SELECT pg_try_advisory_xact_lock($1)", _RETENTION_LOCK):
                    return 0  # another replica is on it
                cursor = await conn.fetchval("SELECT log_ts FROM cx_retention WHERE id = 1")
                # First the horizon: a reader whose statement sees any of the deletes below sees it too.
                await conn.execute("UPDATE cx_retention SET horizon_ts = GREATEST(horizon_ts, $1) WHERE id = 1", cutoff_ts)
                while cursor < cutoff_ts:
                    rows = await conn.fetch(
                        "SELECT ts, writes FROM cx_commits WHERE ts > $1 AND ts <= $2 ORDER BY ts LIMIT $3",
                        cursor, cutoff_ts, CHUNK_COMMITS,
                    )
                    if not rows:
                        break
                    index_ids, keys, tables, documents = [], [], [], []
                    for row in rows:
                        for index_id, key in unpack_write_set(row["writes"]):
                            index_ids.append(index_id)
                            keys.append(key)
                            table_number = by_id_tables.get(index_id)
                            if table_number is not None:
                                tables.append(table_number)
                                documents.append(key)
                    await conn.execute(_DELETE_INDEX_REVISIONS, index_ids, keys, cutoff_ts)
                    await conn.execute(_DELETE_DOCUMENT_REVISIONS, tables, documents, cutoff_ts)
                    cursor = rows[-1]["ts"]
                    processed += len(rows)
                    if len(rows) < CHUNK_COMMITS:
                        break
                await conn.execute("DELETE FROM cx_commits WHERE ts <= $1", cursor)
                await conn.execute("DELETE FROM cx_session_requests WHERE ts < $1", cutoff_ts - SESSION_RECORD_RETENTION_NS)
                await conn.execute("UPDATE cx_retention SET log_ts = $1 WHERE id = 1", cursor)
        return processed
