"""Failures: thrown errors, ConvexError data, rollback, logs, bad documents."""

from convexpy import ConvexError, mutation, query, v


@query(args={})
async def boom(ctx, args):
    raise ValueError("boom")


@mutation(args={"data": v.any()})
async def convexError(ctx, args):
    raise ConvexError(args["data"])


@mutation(args={"tag": v.string()})
async def insertThenFail(ctx, args):
    await ctx.db.insert("items", {"tag": args["tag"], "rank": 1})
    print("about to fail", 42)
    raise ConvexError("rolled back")


@query(args={"tag": v.string()})
async def countTag(ctx, args):
    return len(await ctx.db.query("items").with_index("by_tag", lambda q: q.eq("tag", args["tag"])).collect())


@query(args={})
async def logs(ctx, args):
    print("hello", 42, {"a": 1})
    return "logged"


@mutation(args={"doc": v.any()})
async def insertItem(ctx, args):
    return await ctx.db.insert("items", args["doc"])


@query(args={})
async def tryWrite(ctx, args):
    await ctx.db.insert("items", {"tag": "x", "rank": 1})


@mutation(args={"tag": v.string()})
async def insertPair(ctx, args):
    """Two documents in one commit: after a crash, either both exist or neither."""
    await ctx.db.insert("items", {"tag": args["tag"], "rank": 1})
    await ctx.db.insert("items", {"tag": args["tag"], "rank": 2})
    return None


@query(args={"cursor": v.union(v.string(), v.null())})
async def tagsPage(ctx, args):
    result = await ctx.db.query("items").paginate({"numItems": 4000, "cursor": args["cursor"]})
    return {**result, "page": [item["tag"] for item in result["page"]]}


@mutation(args={"length": v.number()})
async def throwLong(ctx, args):
    raise ValueError("x" * int(args["length"]))
