"""Schema changes across restarts: new indexes are backfilled, and a schema that stored
documents violate is refused with an error naming the first offending document."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from convex.http_client import ConvexExecutionError, ConvexHttpClient

from .conftest import _start

NOTES = '''
from convexpy import mutation, query, v

@mutation(args={"title": v.string()})
async def add(ctx, args):
    return await ctx.db.insert("notes", {"title": args["title"]})

@query(args={"title": v.string()})
async def byTitle(ctx, args):
    return [n["title"] for n in await ctx.db.query("notes").with_index("by_title", lambda q: q.eq("title", args["title"])).collect()]
'''


def write_app(folder: Path, schema_body: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "notes.py").write_text(NOTES)
    (folder / "schema.py").write_text("from convexpy import define_schema, define_table, v\n" + textwrap.dedent(schema_body))
    return folder


def stop(running) -> None:
    running.stop()


async def test_index_added_later_is_backfilled_and_bad_schema_refused(fresh_database, tmp_path):
    data = tmp_path / "data"
    v1 = write_app(tmp_path / "v1", 'schema = define_schema({"notes": define_table({"title": v.string()})})\n')
    running = _start(fresh_database, data, v1)
    try:
        client = ConvexHttpClient(running.url)
        for title in ("a", "b", "a"):
            client.mutation("notes:add", {"title": title})
        try:
            client.query("notes:byTitle", {"title": "a"})
            raise AssertionError("query on a missing index should fail")
        except ConvexExecutionError as error:
            assert "Index notes.by_title not found." in str(error)
    finally:
        stop(running)

    v2 = write_app(tmp_path / "v2", 'schema = define_schema({"notes": define_table({"title": v.string()}).index("by_title", ["title"])})\n')
    running = _start(fresh_database, data, v2)
    try:
        assert ConvexHttpClient(running.url).query("notes:byTitle", {"title": "a"}) == ["a", "a"]
    finally:
        stop(running)

    v3 = write_app(tmp_path / "v3", 'schema = define_schema({"notes": define_table({"title": v.string(), "body": v.string()})})\n')
    refused = subprocess.run(
        [sys.executable, "-m", "convexpy", "serve", "--functions", str(v3), "--port", "0", "--site-port", "0",
         "--data-dir", str(data), "--database-url", fresh_database, "--log-level", "warning"],
        capture_output=True, text=True, timeout=120,
    )
    assert refused.returncode == 2
    assert "Schema validation failed." in refused.stderr
    assert 'in table "notes" does not match the schema: Object is missing the required field `body`.' in refused.stderr
    assert 'Document with ID "' in refused.stderr


V1 = 'schema = define_schema({"notes": define_table({"title": v.string()})})\n'
V2 = 'schema = define_schema({"notes": define_table({"title": v.string()}).index("by_title", ["title"])})\n'


def test_a_running_replica_applies_a_schema_pushed_by_another(fresh_database, tmp_path):
    """No restart and no write needed: the schema change is a commit every replica applies."""
    old = _start(fresh_database, tmp_path / "data", write_app(tmp_path / "v1", V1))
    new = None
    try:
        client = ConvexHttpClient(old.url)
        client.mutation("notes:add", {"title": "a"})
        new = _start(fresh_database, tmp_path / "data", write_app(tmp_path / "v2", V2))
        assert client.query("notes:byTitle", {"title": "a"}) == ["a"]  # on the replica that started first
    finally:
        stop(old)
        if new is not None:
            stop(new)


def test_an_older_replica_restarting_does_not_roll_the_schema_back(fresh_database, tmp_path):
    data = tmp_path / "data"
    v1, v2 = write_app(tmp_path / "v1", V1), write_app(tmp_path / "v2", V2)
    stop(_start(fresh_database, data, v1))
    new = _start(fresh_database, data, v2)
    older = None
    try:
        ConvexHttpClient(new.url).mutation("notes:add", {"title": "kept"})
        older = _start(fresh_database, data, v1)  # an old pod restarting in the middle of a rolling deploy
        assert ConvexHttpClient(new.url).query("notes:byTitle", {"title": "kept"}) == ["kept"]
        ConvexHttpClient(older.url).mutation("notes:add", {"title": "kept"})  # still maintained by the older replica
        assert ConvexHttpClient(new.url).query("notes:byTitle", {"title": "kept"}) == ["kept", "kept"]
        assert any("is one the deployment had before and replaced" in line for line in older.output), list(older.output)
    finally:
        stop(new)
        if older is not None:
            stop(older)
