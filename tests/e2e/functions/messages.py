"""Messages in channels: index ranges, order and pagination."""

from convexpy import mutation, query, v


@mutation(args={"channel": v.string(), "body": v.string(), "n": v.number()})
async def send(ctx, args):
    return await ctx.db.insert("messages", args)


@mutation(args={"channel": v.string(), "count": v.number()})
async def sendMany(ctx, args):
    for n in range(int(args["count"])):
        await ctx.db.insert("messages", {"channel": args["channel"], "body": f"message {n}", "n": float(n)})
    return None


@query(args={"channel": v.string(), "order": v.optional(v.string()),
             "gte": v.optional(v.number()), "lt": v.optional(v.number())})
async def byRange(ctx, args):
    def index_range(q):
        q = q.eq("channel", args["channel"])
        if "gte" in args:
            q = q.gte("n", args["gte"])
        if "lt" in args:
            q = q.lt("n", args["lt"])
        return q

    found = ctx.db.query("messages").with_index("by_channel", index_range).order(args.get("order", "asc"))
    return [message["n"] for message in await found.collect()]


@query(args={"channel": v.string(), "paginationOpts": v.object({"numItems": v.number(), "cursor": v.union(v.string(), v.null())})})
async def page(ctx, args):
    result = await (
        ctx.db.query("messages").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).paginate(args["paginationOpts"])
    )
    return {**result, "page": [message["n"] for message in result["page"]]}


@query(args={"channel": v.string(), "min": v.number()})
async def filtered(ctx, args):
    found = ctx.db.query("messages").filter(
        lambda q: q.and_(q.eq(q.field("channel"), args["channel"]), q.gte(q.field("n"), args["min"]))
    )
    return [message["n"] for message in await found.collect()]


@query(args={"channel": v.string()})
async def latest(ctx, args):
    return await ctx.db.query("messages").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).order("desc").first()


@mutation(args={"channels": v.array(v.string()), "n": v.number()})
async def sendToChannels(ctx, args):
    """One commit that touches many channels at once (subscription fan-out)."""
    for name in args["channels"]:
        await ctx.db.insert("messages", {"channel": name, "body": "fan-out", "n": args["n"]})
    return None
