"""Functions the benchmarks call."""

from convexpy import mutation, query, v


@mutation(args={"channel": v.string(), "n": v.number()})
async def post(ctx, args):
    return await ctx.db.insert("events", {"channel": args["channel"], "n": args["n"]})


@query(args={"channel": v.string()})
async def latest(ctx, args):
    return await ctx.db.query("events").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).order("desc").first()
