"""Bank accounts: the serializability test's workload."""

from convexpy import ConvexError, internal_mutation, mutation, query, v


@mutation(args={"name": v.string(), "balance": v.number()})
async def create(ctx, args):
    return await ctx.db.insert("accounts", {"name": args["name"], "balance": args["balance"]})


@mutation(args={"from_id": v.id("accounts"), "to_id": v.id("accounts"), "amount": v.number()})
async def transfer(ctx, args):
    source = await ctx.db.get(args["from_id"])
    target = await ctx.db.get(args["to_id"])
    if source["balance"] < args["amount"]:
        raise ConvexError({"code": "INSUFFICIENT_FUNDS", "balance": source["balance"]})
    await ctx.db.patch(source["_id"], {"balance": source["balance"] - args["amount"]})
    await ctx.db.patch(target["_id"], {"balance": target["balance"] + args["amount"]})
    return None


@query(args={})
async def total(ctx, args):
    accounts = await ctx.db.query("accounts").collect()
    return {"count": len(accounts), "total": sum(account["balance"] for account in accounts)}


@query(args={"name": v.string()})
async def byName(ctx, args):
    return await ctx.db.query("accounts").with_index("by_name", lambda q: q.eq("name", args["name"])).unique()


@internal_mutation(args={})
async def wipe(ctx, args):
    for account in await ctx.db.query("accounts").collect():
        await ctx.db.delete(account["_id"])
    return None


@mutation(args={"from_id": v.id("accounts"), "to_id": v.id("accounts"), "amount": v.number(), "tid": v.string()})
async def transferLogged(ctx, args):
    """A transfer that leaves a record, so a test can count how often each one was applied."""
    await transfer.handler(ctx, {key: args[key] for key in ("from_id", "to_id", "amount")})
    await ctx.db.insert("transfers", {"tid": args["tid"]})
    return None


@query(args={})
async def transferIds(ctx, args):
    return [record["tid"] for record in await ctx.db.query("transfers").collect()]
