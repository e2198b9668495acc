"""Scheduled functions: ctx.scheduler from mutations and actions, and what the jobs do."""

import time

from convexpy import ConvexError, action, internal_action, internal_mutation, mutation, query, v


@mutation(args={"tag": v.string(), "delay": v.number()})
async def scheduleMark(ctx, args):
    return await ctx.scheduler.run_after(args["delay"], "jobs:mark", {"tag": args["tag"], "by": "mutation"})


@mutation(args={"tag": v.string()})
async def scheduleThenFail(ctx, args):
    await ctx.scheduler.run_after(0, "jobs:mark", {"tag": args["tag"], "by": "rolled back"})
    raise ConvexError("rolled back")


@mutation(args={"tag": v.string(), "count": v.number(), "spreadMs": v.optional(v.number())})
async def scheduleMany(ctx, args):
    for n in range(int(args["count"])):
        await ctx.scheduler.run_after(n * args.get("spreadMs", 0), mark, {"tag": args["tag"], "by": f"many-{n}"})
    return None


@mutation(args={"name": v.string()})
async def scheduleByName(ctx, args):
    return await ctx.scheduler.run_after(0, args["name"], {})


@mutation(args={"id": v.string()})
async def cancel(ctx, args):
    await ctx.scheduler.cancel(args["id"])


@action(args={"tag": v.string()})
async def scheduleFromAction(ctx, args):
    return await ctx.scheduler.run_after(0, "jobs:markFromAction", {"tag": args["tag"]})


@mutation(args={})
async def scheduleFailing(ctx, args):
    return await ctx.scheduler.run_at(time.time() * 1000, "jobs:boom", {})


@internal_mutation(args={"tag": v.string(), "by": v.string()})
async def mark(ctx, args):
    await ctx.db.insert("marks", {"tag": args["tag"], "by": args["by"]})


@internal_action(args={"tag": v.string()})
async def markFromAction(ctx, args):
    await ctx.run_mutation("jobs:mark", {"tag": args["tag"], "by": "action"})
    return "done"


@internal_mutation(args={})
async def boom(ctx, args):
    raise ValueError("the scheduled mutation failed")


@query(args={"tag": v.string()})
async def marks(ctx, args):
    found = await ctx.db.query("marks").with_index("by_tag", lambda q: q.eq("tag", args["tag"])).collect()
    return [document["by"] for document in found]


@query(args={"id": v.string()})
async def job(ctx, args):
    document = await ctx.db.system.get(args["id"])
    return None if document is None else {key: value for key, value in document.items() if key != "_creationTime"}


@query(args={})
async def jobCount(ctx, args):
    return len(await ctx.db.system.query("_scheduled_functions").collect())


@mutation(args={"seconds": v.number()})
async def scheduleSlowAction(ctx, args):
    return await ctx.scheduler.run_after(0, "jobs:slowAction", {"seconds": args["seconds"]})


@internal_action(args={"seconds": v.number()})
async def slowAction(ctx, args):
    import asyncio

    await asyncio.sleep(args["seconds"])
    await ctx.run_mutation("jobs:mark", {"tag": "slow", "by": "slow action"})
