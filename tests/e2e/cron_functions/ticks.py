"""What the crons of this folder run, and what the tests read."""

import time

from convexpy import internal_action, internal_mutation, query, v


@internal_mutation(args={"cron": v.string()})
async def tick(ctx, args):
    await ctx.db.insert("ticks", {"cron": args["cron"], "at": time.time() * 1000})


@internal_action(args={})
async def tickFromAction(ctx, args):
    await ctx.run_mutation("ticks:tick", {"cron": "action"})


@internal_mutation(args={})
async def fails(ctx, args):
    raise ValueError("this cron always fails")


@query(args={"cron": v.string()})
async def times(ctx, args):
    found = await ctx.db.query("ticks").with_index("by_cron", lambda q: q.eq("cron", args["cron"])).collect()
    return [tick["at"] for tick in found]


@query(args={})
async def registered(ctx, args):
    return sorted((cron["name"], cron["cronSpec"]["cronSchedule"]["type"]) for cron in await ctx.db.system.query("_cron_jobs").collect())


@query(args={"name": v.string()})
async def lastRun(ctx, args):
    for cron in await ctx.db.system.query("_cron_jobs").collect():
        if cron["name"] == args["name"]:
            return cron.get("lastRun")
    return None
