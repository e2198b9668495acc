"""Schema changes as deployment state: versioned in PostgreSQL, applied by every replica in order.

A schema is pushed by a commit (a *deployment change*, ``storage.postgres``):
the new schema row, index states and dropped indexes are written in the same
statement as the commit, which moves the clock like any other. Every replica
applies it in commit order (reloading its catalog and schema when a commit's
write set holds the deployment key), and every transaction that began before
it conflicts with it and runs again with the new catalog.

A new index is exact however many commits run while it is built:

1. its definition is added as *building*, and the schema commit makes every
   replica maintain it on every write from then on (no query may read it);
2. existing documents are backfilled from a snapshot taken after that commit,
   each entry at its document revision's own ts, so the backfill and the
   writes since agree wherever they meet;
3. a second deployment commit marks it ready; from then on queries use it.

If the pushing replica dies between 1 and 3, the next replica to start
finishes the backfill. Dropped and redefined indexes stop being maintained at
the schema commit; their entries are deleted after it.

A push from the CLI *stages* its schema first (``stage``, at ``start_push``):
the indexes it adds are built as above while the old schema stays current, so
``wait_for_schema`` can report their progress and ``finish_push`` then switches
schema and code in one commit with nothing left to build. A staged index no
push takes up is dropped by the next schema change.

A replica never rolls a deployment back to a schema it had before and replaced
(an older replica restarting during a rolling deploy): it logs that its
``schema.py`` is older, and serves with the deployment's current schema.
``--force-schema`` pushes it anyway (a deliberate rollback). Any schema the
deployment never had is new, and is pushed.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any, AsyncIterator, Awaitable, Callable

import orjson

from ..errors import SchemaError
from ..schema import SchemaDefinition
from ..storage.postgres import DEPLOYMENT_INDEX_ID, DEPLOYMENT_KEY, DeploymentChange, iterate_index
from ..values import json as cjson
from .catalog import BY_CREATION_TIME, BY_ID, Index, Table
from .committer import CommitRequest
from .readset import ReadSet, SortedKeys

if TYPE_CHECKING:
    from .database import Database

logger = logging.getLogger(__name__)
Writes = Callable[[Any], Awaitable[Any]]
"""A transaction body whose writes commit together with a deployment change."""
SCHEMA_CHANGE_LOCK = 0x736368656D61  # "schema": one replica changes the schema at a time
BACKFILL_BATCH = 1000


class SchemaManager:
    def __init__(self, database: "Database"):
        self.database = database
        self._builds: set[asyncio.Task] = set()

    async def load(self) -> None:
        """Adopt the deployment's current schema and catalog (at start, and after a deployment commit)."""
        database = self.database
        current = await database.persistence.current_schema()
        database.schema = None if current is None else SchemaDefinition.from_json(current[2])
        await database.reload_catalog()

    async def push(self, local: SchemaDefinition | None, *, force: bool = False, writes: Writes | None = None) -> None:
        """Make ``local`` the deployment's schema (see the module docstring for when it is not).

        ``writes`` (a transaction body: a push's code) are committed with the push's last
        deployment commit: with the schema when it builds no index, else when its indexes become
        ready; with no schema change, on their own. So code goes live exactly with the schema and
        the indexes it reads, and every replica switches to both at one commit.
        """
        async with self._schema_lock():
            await self.load()
            if local is not None and await self._is_new(local, force):
                if await self._change(local, local.fingerprint(), writes):
                    writes = None  # they went with the schema
            await self._finish_building(writes)

    async def stage(self, local: SchemaDefinition) -> list[str]:
        """Start building the indexes ``local`` adds, leaving the current schema as it is (a push's
        ``start_push``): every write maintains them from the staging commit on, a background task
        backfills them and marks them ready. Returns their names (``table.index``), which
        :meth:`progress` reports on. An index ``local`` redefines is rebuilt at the push itself (its
        old definition serves until then)."""
        database = self.database
        added: list[str] = []
        async with self._schema_lock():
            await self.load()
            for name, definition in local.tables.items():
                table = database.catalog.by_name.get(name)
                existing = {} if table is None else {index.name: index for index in [*table.indexes.values(), *table.building.values()]}
                for index_definition in definition.indexes:
                    if index_definition.name in existing:
                        continue
                    table = await database.ensure_table(name)
                    index_id = await database.persistence.add_index(table.number, index_definition.name, index_definition.fields)
                    database.catalog.add_index(index_id, table.number, index_definition.name, list(index_definition.fields), ready=False)
                    added.append(f"{name}.{index_definition.name}")
            if added:
                await self._commit(DeploymentChange())
                logger.info("staged %d index(es) for a push: %s", len(added), ", ".join(added))
        if added:
            build = asyncio.create_task(self._build_staged())
            self._builds.add(build)
            build.add_done_callback(self._builds.discard)
        return added

    async def ensure_system_index(self, table_name: str, index_name: str, fields: list[str]) -> None:
        """An index the platform itself needs on one of its system tables (the scheduler's by state and
        time): added and built like a schema's, once for the deployment, by whichever replica starts
        first. User schemas never name system tables, so no push drops it."""
        database = self.database
        table = database.catalog.by_name.get(table_name)
        if table is not None and index_name in table.indexes:
            return
        async with self._schema_lock():
            await self.load()
            table = database.catalog.by_name[table_name]
            if index_name not in table.indexes and not any(index.name == index_name for index in table.building.values()):
                index_id = await database.persistence.add_index(table.number, index_name, fields)
                database.catalog.add_index(index_id, table.number, index_name, list(fields), ready=False)
                await self._commit(DeploymentChange())
            await self._finish_building()

    async def stop(self) -> None:
        """Abandon staged builds (the next replica to start, or the push's finish, completes them)."""
        for build in list(self._builds):
            build.cancel()
        await asyncio.gather(*self._builds, return_exceptions=True)

    async def _build_staged(self) -> None:
        try:
            async with self._schema_lock():
                await self.load()
                await self._finish_building()
        except Exception:  # noqa: BLE001 - the push's finish (or the next start) builds them again
            logger.exception("building a push's staged indexes failed; its finish_push will build them")

    def progress(self, names: list[str]) -> tuple[int, int] | None:
        """``(ready, total)`` of the indexes ``names`` (``table.index``), or None if one of them is
        gone (another schema change dropped it: the push raced another)."""
        catalog = self.database.catalog
        ready = 0
        for name in names:
            table_name, _, index_name = name.rpartition(".")
            table = catalog.by_name.get(table_name)
            if table is None:
                return None
            if index_name in table.indexes:
                ready += 1
            elif not any(index.name == index_name for index in table.building.values()):
                return None
        return ready, len(names)

    @asynccontextmanager
    async def _schema_lock(self) -> AsyncIterator[None]:
        """One replica changes the schema at a time (a PostgreSQL advisory lock)."""
        async with self.database.persistence.pool.acquire() as lock_connection:
            await lock_connection.execute("SELECT pg_advisory_lock($1)", SCHEMA_CHANGE_LOCK)
            try:
                yield
            finally:
                await lock_connection.execute("SELECT pg_advisory_unlock($1)", SCHEMA_CHANGE_LOCK)

    async def _is_new(self, local: SchemaDefinition, force: bool) -> bool:
        """Whether ``local`` is to be pushed: it differs from the deployment's, and is not one the
        deployment had and replaced (unless ``force``)."""
        persistence = self.database.persistence
        current = await persistence.current_schema()
        fingerprint = local.fingerprint()
        if current is None:
            return True
        if current[1] == fingerprint:
            return False
        if not force and await persistence.schema_replaced(fingerprint):
            logger.warning(
                "this replica's schema.py is one the deployment had before and replaced (now at schema version %d): "
                "serving with the deployment's schema, not rolling it back. Update this replica's functions, or "
                "start it with --force-schema to roll back on purpose.", current[0],
            )
            return False
        return True

    async def _change(self, schema: SchemaDefinition, fingerprint: str, writes: Writes | None = None) -> bool:
        """Commit ``schema``; with ``writes`` too when no index is to be built (returns whether they went)."""
        database = self.database
        await self._check_documents(schema)
        dropped: list[int] = []
        for name, definition in schema.tables.items():
            table = await database.ensure_table(name)
            wanted = {index.name: list(index.fields) for index in definition.indexes}
            for index in list(table.indexes.values()) + list(table.building.values()):
                if index.name in (BY_ID, BY_CREATION_TIME):
                    continue
                if list(index.fields[:-1]) != wanted.get(index.name):
                    dropped.append(index.id)  # removed, or redefined (rebuilt under the same name)
            for index_definition in definition.indexes:
                existing = table.indexes.get(index_definition.name) or next(
                    (index for index in table.building.values() if index.name == index_definition.name), None
                )
                if existing is None or existing.id in dropped:
                    index_id = await database.persistence.add_index(table.number, index_definition.name, index_definition.fields)
                    database.catalog.add_index(index_id, table.number, index_definition.name, list(index_definition.fields), ready=False)
        change = DeploymentChange(orjson.dumps(schema.to_json()).decode(), fingerprint, dropped_index_ids=dropped)
        carried = writes is not None and self._building_count() == 0
        ts = await self._commit(change, writes if carried else None)
        logger.info("schema pushed at %d: %d index(es) to build, %d dropped", ts, self._building_count(), len(dropped))
        database.schema = schema
        for index_id in dropped:
            await database.persistence.delete_index_entries(index_id)
        return carried

    async def _finish_building(self, writes: Writes | None = None) -> None:
        """Backfill every index still being built (ours, or left by a replica that died), then mark them
        ready, in one commit with ``writes`` (a commit of their own if nothing is building)."""
        database = self.database
        building = [(table, index) for table in database.catalog.by_number.values() for index in table.building.values()]
        if not building:
            if writes is not None:
                await database.run_mutation(writes)
            return
        await database.refresh()
        snapshot_ts = database.latest_ts  # after the commit that made every write maintain them
        for table, index in building:
            await self._backfill(table, index, snapshot_ts)
        await self._commit(DeploymentChange(ready_index_ids=[index.id for _, index in building]), writes)
        logger.info("index(es) ready: %s", ", ".join(f"{table.name}.{index.name}" for table, index in building))

    async def _backfill(self, table: Table, index: Index, snapshot_ts: int) -> None:
        persistence = self.database.persistence
        batch: list[tuple[bytes, int, bytes]] = []
        async for row in iterate_index(persistence, table.by_id.id, table.number, snapshot_ts):
            batch.append((index.key(cjson.loads_stored(row.value), row.document_id), row.ts, row.document_id))
            if len(batch) >= BACKFILL_BATCH:
                await persistence.backfill_index(index.id, batch)
                batch = []
        await persistence.backfill_index(index.id, batch)

    async def _check_documents(self, schema: SchemaDefinition) -> None:
        """Refuse a schema that stored documents violate, naming the first one."""
        database = self.database
        snapshot_ts = database.latest_ts
        for name in schema.tables:
            table = database.catalog.by_name.get(name)
            if table is None or schema.tables[name].validator is None:
                continue
            async for row in iterate_index(database.persistence, table.by_creation_time.id, table.number, snapshot_ts):
                document = cjson.loads_stored(row.value)
                problem = schema.mismatch(name, document, database.catalog.table_name)
                if problem is not None:
                    raise SchemaError(
                        f'Schema validation failed.\nDocument with ID "{document["_id"]}" in table "{name}" '
                        f"does not match the schema: {problem}"
                    )

    async def _commit(self, change: DeploymentChange, writes: Writes | None = None) -> int:
        """Commit a deployment change (with ``writes``' documents, validated like any transaction's);
        this replica reloads its catalog once it is applied."""
        database = self.database
        request = None
        if writes is not None:
            tx = database.begin(writable=True)
            await writes(tx)
            request = tx.prepare_commit()
        if request is None:
            request = CommitRequest(database.latest_ts, ReadSet(), [], [], SortedKeys([]))
        request.written = SortedKeys([*request.written.pairs(), (DEPLOYMENT_INDEX_ID, DEPLOYMENT_KEY)])
        request.deployment = change
        ts = await database.committer.commit(request)
        await self.load()
        return ts

    def _building_count(self) -> int:
        return sum(len(table.building) for table in self.database.catalog.by_number.values())


def is_deployment_change(keys: Any) -> bool:
    """Whether a commit's written ``(index id, key)`` pairs include the deployment key."""
    return any(index_id == DEPLOYMENT_INDEX_ID for index_id, _ in keys)
