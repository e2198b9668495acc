"""Functions the benchmarks call."""

from convexpy import mutation, query, v


@mutation(args={"channel": v.string(), "n": v.number()})
async def post(ctx, args):
    return await ctx.db.insert("events", {"channel": args["channel"], "n": args["n"]})


@query(args={"channel": v.string()})
async def latest(ctx, args):
    return await ctx.db.query("events").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).order("desc").first()


@mutation(args={"start": v.number(), "count": v.number()})
async def seedServices(ctx, args):
    """Insert services with sids s0000000.. for the by_sid benchmark."""
    for n in range(int(args["start"]), int(args["start"] + args["count"])):
        await ctx.db.insert("services", {"sid": f"s{n:07d}", "name": f"service {n}", "owner": "bench"})
    return None


@query(args={"sid": v.string()})
async def getBySid(ctx, args):
    return await ctx.db.query("services").with_index("by_sid", lambda q: q.eq("sid", args["sid"])).unique()
