"""PostgreSQL as a versioned log (DESIGN.md section 3).

User tables are not SQL tables. Everything lives in a handful of tables:

``cx_documents``  one row per document revision; ``value`` NULL is a delete.
``cx_indexes``    one row per index-entry revision; ``document_id`` NULL is a
                  tombstone. ``key`` is the order-preserving encoding of the
                  indexed values followed by the document's internal id.
``cx_commits``    one row per commit: the index keys it wrote. Replicas follow
                  it to learn what changed (OCC validation, subscriptions).
``cx_clock``      one row: the latest commit timestamp. Every commit moves it
                  with a compare-and-set (or under its row lock), which totally
                  orders commits across replicas.
``cx_session_requests``  outcomes of WebSocket mutations by (session, request id),
                  written with the mutation's rows, so a re-sent mutation is not re-run.
``cx_retention``  one row: how far retention has cut. ``horizon_ts``: revisions
                  dead at that ts may be gone, so a read at an older snapshot may
                  be wrong and is refused (every range read checks it in the same
                  statement). ``log_ts``: commit log rows up to it are gone.
``cx_schemas``    every schema the deployment has had, in order, each written by
                  the commit that made it current (a deployment change).
``cx_tables``, ``cx_index_defs`` (``state``: ``backfilling`` or ``ready``), ``cx_globals``:
                  catalog and settings.

A deployment change (a schema pushed, an index ready) is a commit like any
other: it moves the clock, and its write set holds :data:`DEPLOYMENT_KEY`,
so every replica applies it in commit order and every transaction that began
before it conflicts with it (each writable transaction reads that key).

Reading at snapshot ``T`` takes, per key, the newest entry with ``ts <= T``
and skips tombstones; that is one ``DISTINCT ON`` over the primary key.
"""

from __future__ import annotations

import asyncio
import struct
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterable, Sequence

import asyncpg
import orjson

from ..errors import DatabaseUnavailable, OutOfRetention

SCHEMA_SQL = """
CREATE TABLE IF NOT EXISTS cx_clock (
    id INT PRIMARY KEY,
    ts BIGINT NOT NULL
);
INSERT INTO cx_clock (id, ts) VALUES (1, 0) ON CONFLICT DO NOTHING;

CREATE TABLE IF NOT EXISTS cx_documents (
    table_number INT NOT NULL,
    id BYTEA NOT NULL,
    ts BIGINT NOT NULL,
    value BYTEA,
    prev_ts BIGINT,
    PRIMARY KEY (table_number, id, ts)
);

CREATE TABLE IF NOT EXISTS cx_indexes (
    index_id INT NOT NULL,
    key BYTEA NOT NULL,
    ts BIGINT NOT NULL,
    document_id BYTEA,
    PRIMARY KEY (index_id, key, ts)
);

CREATE TABLE IF NOT EXISTS cx_commits (
    ts BIGINT PRIMARY KEY,
    writes BYTEA NOT NULL
);

CREATE TABLE IF NOT EXISTS cx_tables (
    number INT PRIMARY KEY,
    name TEXT NOT NULL UNIQUE
);

CREATE TABLE IF NOT EXISTS cx_index_defs (
    id SERIAL PRIMARY KEY,
    table_number INT NOT NULL,
    name TEXT NOT NULL,
    fields JSONB NOT NULL,
    UNIQUE (table_number, name)
);

CREATE TABLE IF NOT EXISTS cx_session_requests (
    session_id TEXT NOT NULL,
    request_id BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    result BYTEA NOT NULL,
    log_lines JSONB NOT NULL,
    PRIMARY KEY (session_id, request_id)
);

CREATE TABLE IF NOT EXISTS cx_globals (
    key TEXT PRIMARY KEY,
    value JSONB NOT NULL
);

CREATE TABLE IF NOT EXISTS cx_retention (
    id INT PRIMARY KEY,
    horizon_ts BIGINT NOT NULL,
    log_ts BIGINT NOT NULL
);
INSERT INTO cx_retention (id, horizon_ts, log_ts)
SELECT 1, cursor, cursor FROM (
    SELECT COALESCE((SELECT (value #>> '{}')::bigint FROM cx_globals WHERE key = 'retention_cursor'), 0) AS cursor
) AS previous
ON CONFLICT DO NOTHING;

ALTER TABLE cx_session_requests ADD COLUMN IF NOT EXISTS identity TEXT NOT NULL DEFAULT '';

ALTER TABLE cx_index_defs ADD COLUMN IF NOT EXISTS state TEXT NOT NULL DEFAULT 'ready';
-- A redefined index is built under its name while the old one still serves: one ready index per name.
ALTER TABLE cx_index_defs DROP CONSTRAINT IF EXISTS cx_index_defs_table_number_name_key;
CREATE UNIQUE INDEX IF NOT EXISTS cx_index_defs_ready_name ON cx_index_defs (table_number, name) WHERE state = 'ready';

CREATE TABLE IF NOT EXISTS cx_schemas (
    version BIGSERIAL PRIMARY KEY,
    ts BIGINT NOT NULL,
    fingerprint TEXT NOT NULL,
    schema JSONB NOT NULL
);
"""

CONNECTION_ERRORS = (OSError, asyncpg.InterfaceError, asyncpg.PostgresConnectionError, asyncpg.CannotConnectNowError)
"""What asyncpg raises when the server or the network goes away."""

COMMIT_CHANNEL = "convexpy_commits"
"""The LISTEN/NOTIFY channel on which every commit announces its ts to the other replicas."""

# One advisory lock key for schema creation, so replicas starting together don't race.
_SCHEMA_LOCK = 0x636F6E766578  # "convex"
FIRST_USER_TABLE_NUMBER = 10001


DEPLOYMENT_INDEX_ID = 0
"""Not an index: the id under which a commit's write set says "the deployment's state changed"."""
DEPLOYMENT_KEY = b"deployment"


@dataclass(slots=True)
class DeploymentChange:
    """What a deployment commit changes, written in the same statement as the commit."""

    schema_json: str | None = None
    fingerprint: str | None = None
    ready_index_ids: list[int] = field(default_factory=list)
    dropped_index_ids: list[int] = field(default_factory=list)


class CommitLogGap(Exception):
    """Commit log rows this replica has not applied were already deleted by retention: resync."""


@dataclass(frozen=True, slots=True)
class IndexRow:
    """One live index entry at a snapshot, joined to its document revision."""

    key: bytes
    ts: int
    document_id: bytes
    value: bytes


@dataclass(slots=True)
class DocumentWrite:
    table_number: int
    internal_id: bytes
    value: bytes | None  # None: delete
    prev_ts: int | None


@dataclass(slots=True)
class IndexWrite:
    index_id: int
    key: bytes
    document_id: bytes | None  # None: tombstone


def pack_write_set(keys: Iterable[tuple[int, bytes]]) -> bytes:
    """Serialize a commit's written index keys for ``cx_commits``."""
    out = bytearray()
    for index_id, key in keys:
        out += struct.pack("<II", index_id, len(key))
        out += key
    return bytes(out)


def unpack_write_set(data: bytes) -> list[tuple[int, bytes]]:
    keys = []
    offset = 0
    while offset < len(data):
        index_id, length = struct.unpack_from("<II", data, offset)
        offset += 8
        keys.append((index_id, bytes(data[offset : offset + length])))
        offset += length
    return keys


def _range_sql(descending: bool, bounded: bool) -> str:
    """The snapshot range scan: per key the newest entry at or before the snapshot, tombstones skipped.

    Both directions stream from the primary key ``(index_id, key, ts)`` and stop
    at the limit. Descending, a backward scan meets each key's newest version
    first, so ``DISTINCT ON`` keeps it. Ascending, versions arrive oldest first,
    so the newest is the row whose successor has another key (``lead``); a
    ``DISTINCT ON ... ORDER BY key, ts DESC`` would sort the whole range first.
    """
    upper = "AND key < $3" if bounded else ""
    snapshot, limit, table = ("$4", "$5", "$6") if bounded else ("$3", "$4", "$5")
    where = f"index_id = $1 AND key >= $2 {upper} AND ts <= {snapshot}"
    if descending:
        versions = f"""
            SELECT DISTINCT ON (key) key, ts, document_id FROM cx_indexes
            WHERE {where} ORDER BY key DESC, ts DESC"""
        newest = "TRUE"
    else:
        versions = f"""
            SELECT key, ts, document_id, lead(key) OVER (ORDER BY key, ts) AS next_key FROM cx_indexes
            WHERE {where}"""
        newest = "(next_key IS NULL OR next_key <> key)"
    order = "key DESC" if descending else "key"
    # The last branch adds a row with a NULL key when retention already cut past the snapshot: read
    # in the same statement (one PostgreSQL snapshot) as the rows, so rows and horizon agree.
    return f"""
        WITH versions AS ({versions}
        ), live AS (
            SELECT key, ts, document_id FROM versions WHERE {newest} AND document_id IS NOT NULL ORDER BY {order} LIMIT {limit}
        )
        SELECT live.key, live.ts, live.document_id, d.value
        FROM live JOIN cx_documents d
          ON d.table_number = {table} AND d.id = live.document_id AND d.ts = live.ts
        UNION ALL
        SELECT NULL, horizon_ts, NULL, NULL FROM cx_retention WHERE id = 1 AND horizon_ts > {snapshot}
    """


_RANGE_SQL = {(desc, bounded): _range_sql(desc, bounded) for desc in (False, True) for bounded in (False, True)}


LEASE_KEY = 0x736F6C6F  # "solo"
"""The advisory lock of the solo lease (``database/freshness.py``): held exclusively by a replica that
is the only writer, taken shared by every other replica's commit statement."""

LEASE_ALIVE_CLASS = 0x6C697665  # "live"
"""The solo replica's lease session also holds the two-part advisory lock (this, its own pid)."""

_LEASE_GUARD = f"""CASE WHEN $20::int = 0 THEN pg_try_advisory_xact_lock_shared({LEASE_KEY})
    ELSE NOT pg_try_advisory_xact_lock({LEASE_ALIVE_CLASS}, $20::int) END"""
"""$20 = 0: this commit takes the lease shared (fails while a solo replica holds it). Else $20 is the
pid of this replica's own lease session, which must still be alive: its lock on (LEASE_ALIVE_CLASS,
pid) makes the try fail. Both are one probe of the lock table (a scan of pg_locks cost 0.2 ms)."""

_WRITE_COMMITS_SQL = """
WITH clock AS (
    UPDATE cx_clock SET ts = $17 WHERE id = 1 AND ts = $19 AND """ + _LEASE_GUARD + """ RETURNING ts
), documents AS (
    INSERT INTO cx_documents (table_number, id, ts, value, prev_ts)
    SELECT * FROM UNNEST($1::int[], $2::bytea[], $3::bigint[], $4::bytea[], $5::bigint[]) WHERE EXISTS (SELECT FROM clock)
), index_entries AS (
    INSERT INTO cx_indexes (index_id, key, ts, document_id)
    SELECT * FROM UNNEST($6::int[], $7::bytea[], $8::bigint[], $9::bytea[]) WHERE EXISTS (SELECT FROM clock)
), commit_log AS (
    INSERT INTO cx_commits (ts, writes)
    SELECT * FROM UNNEST($10::bigint[], $11::bytea[]) WHERE EXISTS (SELECT FROM clock)
), sessions AS (
    INSERT INTO cx_session_requests (session_id, request_id, ts, result, log_lines, identity)
    SELECT s, r, t, v, l::jsonb, i FROM UNNEST($12::text[], $13::bigint[], $14::bigint[], $15::bytea[], $16::text[], $21::text[])
        AS u(s, r, t, v, l, i)
    WHERE EXISTS (SELECT FROM clock)
), schemas AS (
    INSERT INTO cx_schemas (ts, fingerprint, schema)
    SELECT t, f, s::jsonb FROM UNNEST($22::bigint[], $23::text[], $24::text[]) AS u(t, f, s) WHERE EXISTS (SELECT FROM clock)
), ready AS (
    UPDATE cx_index_defs SET state = 'ready' WHERE id = ANY($25::int[]) AND EXISTS (SELECT FROM clock)
), dropped AS (
    DELETE FROM cx_index_defs WHERE id = ANY($26::int[]) AND EXISTS (SELECT FROM clock)
)
SELECT pg_notify('""" + COMMIT_CHANNEL + """', $18) FROM clock
"""
"""Everything is conditional on the clock still being at ``$19``: if another replica committed since,
the clock UPDATE matches no row (READ COMMITTED re-checks the condition on the row it waited for),
nothing is inserted, and the statement returns no row."""


PLANNER_SETTINGS = {"enable_bitmapscan": "off", "enable_sort": "off", "jit": "off"}
"""Every range read here must stream from the primary key in key order and stop at its LIMIT. Right
after a bulk load, before autovacuum has analyzed the tables, the planner would otherwise pick a
bitmap scan of the whole rest of the range plus an on-disk sort: measured 44 ms instead of 4.5 ms for
a 1,000-document page of a 50k-document table, and growing with the table. JIT is off: every statement
here is short, and a plan whose cost a disabled sort inflates was JIT-compiled for 46 ms per run."""


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Returning a connection to the pool costs no round trip.

    asyncpg's default reset sends ``pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL``
    on every release, a second round trip for every read and commit. Nothing here leaves session
    state behind: advisory locks are transaction-scoped, LISTEN has its own connection, settings
    come from the startup packet. (An open transaction is still rolled back by asyncpg itself.)
    """


class Persistence:
    """The only module that writes SQL. Everything above it speaks in keys and timestamps."""

    def __init__(self, pool: asyncpg.Pool):
        self.pool = pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 2, max_size: int = 16) -> "Persistence":
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, server_settings=PLANNER_SETTINGS, reset=_keep_session
        )
        persistence = cls(pool)
        await persistence.create_schema()
        return persistence

    async def close(self, timeout_s: float = 10.0) -> None:
        """Close the pool; connections still busy after ``timeout_s`` are cut."""
        try:
            await asyncio.wait_for(self.pool.close(), timeout_s)
        except asyncio.TimeoutError:
            self.pool.terminate()

    async def create_schema(self) -> None:
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                await conn.execute(SCHEMA_SQL)

    # --- clock and commit log ------------------------------------------------------

    async def read_clock(self) -> int:
        return await self.pool.fetchval("SELECT ts FROM cx_clock WHERE id = 1")

    async def commits_since(self, after_ts: int, conn: asyncpg.Connection | None = None) -> list[tuple[int, list[tuple[int, bytes]]]]:
        """The write sets of every commit with ``ts > after_ts``, oldest first.

        Raises :class:`CommitLogGap` if retention already deleted log rows after ``after_ts``
        (checked in the same statement, so the answer is never silently incomplete).
        """
        runner = conn or self.pool
        # One row at least (the horizon's), joined to the commits: no UNION to sort, which with
        # enable_sort off made PostgreSQL scan the whole log for every catch-up.
        rows = await runner.fetch(
            """SELECT r.log_ts, c.ts, c.writes FROM cx_retention r
               LEFT JOIN LATERAL (SELECT ts, writes FROM cx_commits WHERE ts > $1 ORDER BY ts) c ON TRUE
               WHERE r.id = 1""",
            after_ts,
        )
        if rows and rows[0]["log_ts"] > after_ts:
            raise CommitLogGap(f"the commit log after {after_ts} was already cut by retention")
        commits = [(row["ts"], unpack_write_set(row["writes"])) for row in rows if row["ts"] is not None]
        commits.sort(key=lambda commit: commit[0])
        return commits

    async def retention_horizon(self) -> tuple[int, int]:
        """``(horizon_ts, log_ts)``: see ``cx_retention``."""
        row = await self.pool.fetchrow("SELECT horizon_ts, log_ts FROM cx_retention WHERE id = 1")
        return row["horizon_ts"], row["log_ts"]

    # --- reads ---------------------------------------------------------------------

    async def index_range(self, *args: Any, **kwargs: Any) -> list[IndexRow]:
        """Live entries of an index range at a snapshot; see :meth:`_index_range`.

        A lost connection becomes :class:`DatabaseUnavailable`: reads write nothing, so it is
        always safe to retry.
        """
        try:
            return await self._index_range(*args, **kwargs)
        except CONNECTION_ERRORS as exc:
            raise DatabaseUnavailable(f"Lost the connection to PostgreSQL while reading ({type(exc).__name__}). Try again.") from exc

    async def count_live(self, index_id: int, snapshot_ts: int) -> int:
        """How many live entries ``index_id`` has at ``snapshot_ts`` (a table's size, from its by_id index)."""
        return await self.pool.fetchval(
            """SELECT count(*) FROM (SELECT DISTINCT ON (key) document_id FROM cx_indexes
               WHERE index_id = $1 AND ts <= $2 ORDER BY key, ts DESC) newest WHERE document_id IS NOT NULL""",
            index_id, snapshot_ts,
        )

    async def _index_range(
        self,
        index_id: int,
        table_number: int,
        lower: bytes,
        upper: bytes | None,
        snapshot_ts: int,
        limit: int,
        descending: bool = False,
    ) -> list[IndexRow]:
        """Live entries of ``index_id`` with ``lower <= key < upper`` as of ``snapshot_ts``, in order.

        Raises :class:`OutOfRetention` if retention has cut past ``snapshot_ts``: the rows might be wrong.
        """
        if upper is None:
            rows = await self.pool.fetch(_RANGE_SQL[(descending, False)], index_id, lower, snapshot_ts, limit, table_number)
        else:
            if upper <= lower:
                return []
            rows = await self.pool.fetch(_RANGE_SQL[(descending, True)], index_id, lower, upper, snapshot_ts, limit, table_number)
        result = [IndexRow(row[0], row[1], row[2], row[3]) for row in rows]
        if result and (result[-1].key is None or any(row.key is None for row in result)):
            horizon = next(row.ts for row in result if row.key is None)
            raise OutOfRetention(
                f"Snapshot {snapshot_ts} is older than the retention horizon ({horizon}): its revisions may be "
                "deleted. Read at a newer timestamp."
            )
        result.sort(key=lambda row: row.key, reverse=descending)
        return result

    # --- writes --------------------------------------------------------------------

    async def write_commits(
        self, conn: asyncpg.Connection, commits: Sequence[tuple[int, Any]], clock_ts: int, lease_pid: int = 0
    ) -> bool:
        """Write a batch of commits ``(commit_ts, request)`` in one statement, move the clock from
        ``clock_ts`` to the last one and notify the other replicas; False (nothing written) if the
        clock is no longer at ``clock_ts``, or the solo lease forbids it (``lease_pid``: 0 unless
        this replica holds the lease, then the PostgreSQL pid of its lease session).

        One statement is one round trip for the whole batch, whatever its size
        (group commit), and outside a transaction block it is its own atomic
        transaction: the compare-and-set on the clock replaces locking it first.
        ``pg_notify`` is delivered only if the statement commits.
        """
        doc_table, doc_id, doc_ts, doc_value, doc_prev = [], [], [], [], []
        idx_id, idx_key, idx_ts, idx_doc = [], [], [], []
        log_ts, log_writes = [], []
        ses_id, ses_request, ses_ts, ses_result, ses_logs, ses_identity = [], [], [], [], [], []
        schema_ts, schema_fingerprint, schema_json, ready_ids, dropped_ids = [], [], [], [], []
        for commit_ts, request in commits:
            for doc in request.documents:
                doc_table.append(doc.table_number)
                doc_id.append(doc.internal_id)
                doc_ts.append(commit_ts)
                doc_value.append(doc.value)
                doc_prev.append(doc.prev_ts)
            for entry in request.index_writes:
                idx_id.append(entry.index_id)
                idx_key.append(entry.key)
                idx_ts.append(commit_ts)
                idx_doc.append(entry.document_id)
            log_ts.append(commit_ts)
            log_writes.append(pack_write_set(request.written.pairs()))
            record = request.session_record
            if record is not None:
                ses_id.append(record.session_id)
                ses_request.append(record.request_id)
                ses_ts.append(commit_ts)
                ses_result.append(record.result)
                ses_logs.append(orjson.dumps(record.log_lines).decode())
                ses_identity.append(record.identity)
            change = request.deployment
            if change is not None:
                if change.schema_json is not None:
                    schema_ts.append(commit_ts)
                    schema_fingerprint.append(change.fingerprint)
                    schema_json.append(change.schema_json)
                ready_ids += change.ready_index_ids
                dropped_ids += change.dropped_index_ids
        last_ts = commits[-1][0]
        applied = await conn.fetch(
            _WRITE_COMMITS_SQL,
            doc_table, doc_id, doc_ts, doc_value, doc_prev,
            idx_id, idx_key, idx_ts, idx_doc,
            log_ts, log_writes,
            ses_id, ses_request, ses_ts, ses_result, ses_logs,
            last_ts, str(last_ts), clock_ts, lease_pid, ses_identity,
            schema_ts, schema_fingerprint, schema_json, ready_ids, dropped_ids,
        )
        return bool(applied)

    async def end_backend(self, server_pid: int, timeout_s: float = 10.0) -> None:
        """Terminate the server process of a connection this side lost, and wait until it has exited.

        PostgreSQL goes on with a statement whose client vanished; once the process is gone its
        transaction is committed or rolled back for good. Raises TimeoutError if it lingers.
        """
        deadline = time.monotonic() + timeout_s
        await self.pool.execute("SELECT pg_terminate_backend($1)", server_pid)
        while await self.pool.fetchval("SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", server_pid):
            if time.monotonic() > deadline:
                raise TimeoutError(f"PostgreSQL process {server_pid} did not exit within {timeout_s:g} s")
            await asyncio.sleep(0.01)

    async def committed(self, ts: int, written: Iterable[tuple[int, bytes]]) -> bool:
        """Whether the commit at ``ts`` with exactly these writes is in the log (a batch lands whole).

        The writes are compared too, so another replica's commit that happened to take the same
        timestamp is not mistaken for this one.
        """
        return bool(await self.pool.fetchval(
            "SELECT EXISTS (SELECT 1 FROM cx_commits WHERE ts = $1 AND writes = $2)", ts, pack_write_set(written)))

    async def read_session_record(self, session_id: str, request_id: int, identity: str) -> tuple[int, bytes, list[str]] | None:
        """The stored outcome of a WebSocket mutation run by ``identity``: ``(commit_ts, encoded result,
        log lines)``; None if there is none, or it belongs to another caller."""
        row = await self.pool.fetchrow(
            "SELECT ts, result, log_lines FROM cx_session_requests WHERE session_id = $1 AND request_id = $2 AND identity = $3",
            session_id, request_id, identity,
        )
        return None if row is None else (row["ts"], row["result"], orjson.loads(row["log_lines"]))

    # --- catalog -------------------------------------------------------------------

    async def load_catalog(self) -> tuple[list[asyncpg.Record], list[asyncpg.Record]]:
        async with self.pool.acquire() as conn:
            tables = await conn.fetch("SELECT number, name FROM cx_tables ORDER BY number")
            indexes = await conn.fetch("SELECT id, table_number, name, fields, state FROM cx_index_defs ORDER BY id")
        return tables, indexes

    async def current_schema(self) -> tuple[int, str, Any] | None:
        """``(version, fingerprint, schema JSON)`` of the deployment's schema, or None before the first."""
        row = await self.pool.fetchrow("SELECT version, fingerprint, schema FROM cx_schemas ORDER BY version DESC LIMIT 1")
        return None if row is None else (row["version"], row["fingerprint"], orjson.loads(row["schema"]))

    async def schema_replaced(self, fingerprint: str) -> bool:
        """Whether the deployment had this schema once and has moved on from it since."""
        return bool(await self.pool.fetchval(
            """SELECT EXISTS (SELECT 1 FROM cx_schemas WHERE fingerprint = $1
                              AND version < (SELECT max(version) FROM cx_schemas))""", fingerprint))

    async def add_index(self, table_number: int, name: str, fields: Sequence[str]) -> int:
        """Define a new index, not readable until a deployment commit marks it ready."""
        return await self.pool.fetchval(
            "INSERT INTO cx_index_defs (table_number, name, fields, state) VALUES ($1, $2, $3::jsonb, 'backfilling') RETURNING id",
            table_number, name, orjson.dumps(list(fields)).decode(),
        )

    async def delete_index_entries(self, index_id: int) -> None:
        """Delete a dropped index's entries (after the commit that dropped it)."""
        await self.pool.execute("DELETE FROM cx_indexes WHERE index_id = $1", index_id)

    async def create_table(self, name: str, number: int | None = None) -> int:
        """The number of table ``name``, creating it if needed (safe across replicas); ``number``
        reserves it (system tables), else the next user table number is taken."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                existing = await conn.fetchval("SELECT number FROM cx_tables WHERE name = $1", name)
                if existing is not None:
                    return existing
                if number is None:
                    number = await conn.fetchval(
                        "SELECT GREATEST(COALESCE(MAX(number) + 1, $1), $1) FROM cx_tables", FIRST_USER_TABLE_NUMBER
                    )
                await conn.execute("INSERT INTO cx_tables (number, name) VALUES ($1, $2)", number, name)
                return number

    async def create_index(self, table_number: int, name: str, fields: Sequence[str]) -> tuple[int, bool]:
        """The id of an index, creating it if needed. Returns ``(id, created)``."""
        async with self.pool.acquire() as conn:
            async with conn.transaction():
                await conn.execute("SELECT pg_advisory_xact_lock($1)", _SCHEMA_LOCK)
                row = await conn.fetchrow(
                    "SELECT id, fields FROM cx_index_defs WHERE table_number = $1 AND name = $2 AND state = 'ready'", table_number, name
                )
                if row is not None and orjson.loads(row["fields"]) == list(fields):
                    return row["id"], False
                if row is not None:
                    await conn.execute("DELETE FROM cx_indexes WHERE index_id = $1", row["id"])
                    await conn.execute("DELETE FROM cx_index_defs WHERE id = $1", row["id"])
                index_id = await conn.fetchval(
                    "INSERT INTO cx_index_defs (table_number, name, fields) VALUES ($1, $2, $3::jsonb) RETURNING id",
                    table_number,
                    name,
                    orjson.dumps(list(fields)).decode(),
                )
                return index_id, True

    async def backfill_index(self, index_id: int, rows: Sequence[tuple[bytes, int, bytes]]) -> None:
        """Insert index entries ``(key, ts, document_id)`` for existing documents."""
        if not rows:
            return
        await self.pool.execute(
            """INSERT INTO cx_indexes (index_id, key, ts, document_id)
               SELECT $1, k, t, d FROM UNNEST($2::bytea[], $3::bigint[], $4::bytea[]) AS u(k, t, d)
               ON CONFLICT DO NOTHING""",
            index_id,
            [row[0] for row in rows],
            [row[1] for row in rows],
            [row[2] for row in rows],
        )

    async def get_global(self, key: str, conn: asyncpg.Connection | None = None) -> Any:
        value = await (conn or self.pool).fetchval("SELECT value FROM cx_globals WHERE key = $1", key)
        return None if value is None else orjson.loads(value)

    async def set_global(self, key: str, value: Any, conn: asyncpg.Connection | None = None) -> None:
        await (conn or self.pool).execute(
            "INSERT INTO cx_globals (key, value) VALUES ($1, $2::jsonb) ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            key,
            orjson.dumps(value).decode(),
        )


async def iterate_index(
    persistence: Persistence, index_id: int, table_number: int, snapshot_ts: int, page_size: int = 512
) -> AsyncIterator[IndexRow]:
    """Stream a whole index at a snapshot, page by page (bounded memory)."""
    lower = b""
    while True:
        page = await persistence.index_range(index_id, table_number, lower, None, snapshot_ts, page_size)
        for row in page:
            yield row
        if len(page) < page_size:
            return
        lower = page[-1].key + b"\x00"
