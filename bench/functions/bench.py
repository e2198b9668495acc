"""Functions the benchmarks call."""

import time

from convexpy import internal_mutation, mutation, query, v


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


@query(args={"channel": v.string(), "client": v.number()})
async def latestFor(ctx, args):
    """``latest`` under distinct arguments per subscriber, so each subscription is its own query run."""
    return await ctx.db.query("events").with_index("by_channel", lambda q: q.eq("channel", args["channel"])).order("desc").first()


@mutation(args={"start": v.number(), "count": v.number()})
async def seedAccounts(ctx, args):
    for n in range(int(args["start"]), int(args["start"] + args["count"])):
        await ctx.db.insert("accounts", {"name": f"a{n}", "balance": 1_000_000})
    return None


@mutation(args={"from": v.string(), "to": v.string(), "amount": v.number(), "key": v.string()})
async def transfer(ctx, args):
    """Move ``amount`` between two accounts and log the transfer under its client-chosen ``key``."""
    source = await ctx.db.query("accounts").with_index("by_name", lambda q: q.eq("name", args["from"])).unique()
    target = await ctx.db.query("accounts").with_index("by_name", lambda q: q.eq("name", args["to"])).unique()
    await ctx.db.patch(source["_id"], {"balance": source["balance"] - args["amount"]})
    await ctx.db.patch(target["_id"], {"balance": target["balance"] + args["amount"]})
    await ctx.db.insert("transfers", {"key": args["key"], "from": args["from"], "to": args["to"], "amount": args["amount"]})
    return None


@query(args={})
async def balances(ctx, args):
    """Every account's balance, as [name, balance] pairs."""
    return [[account["name"], account["balance"]] for account in await ctx.db.query("accounts").collect()]


@query(args={"paginationOpts": v.any()})
async def transferPage(ctx, args):
    """One page of the transfer log, as [key, from, to, amount] rows."""
    result = await ctx.db.query("transfers").paginate(args["paginationOpts"])
    return {**result, "page": [[t["key"], t["from"], t["to"], t["amount"]] for t in result["page"]]}


@mutation(args={"start": v.number(), "count": v.number()})
async def seedSmall(ctx, args):
    for n in range(int(args["start"]), int(args["start"] + args["count"])):
        await ctx.db.insert("small", {"n": n, "label": f"item {n}"})
    return None


@query(args={"paginationOpts": v.any()})
async def page(ctx, args):
    return await ctx.db.query("small").paginate(args["paginationOpts"])


@query(args={"ms": v.number(), "nonce": v.number()})
async def burn(ctx, args):
    """Spends ``ms`` of CPU time in user code (workload 7's noisy neighbour); ``nonce`` keeps each
    call out of the response cache."""
    deadline = time.process_time() + args["ms"] / 1000
    spins = 0
    while time.process_time() < deadline:
        spins += 1
    return args["ms"]


@query(args={"n": v.number(), "nonce": v.number()})
async def syscalls(ctx, args):
    """``n`` synchronous syscalls that touch no data (``normalize_id`` of a malformed id): the
    round trip between user code and the host, and nothing else (workload 8; ``nonce`` keeps each
    call out of the response cache)."""
    for _ in range(int(args["n"])):
        ctx.db.normalize_id("services", "not an id")
    return args["n"]


@query(args={"sid": v.string(), "nonce": v.number()})
async def getBySidUncached(ctx, args):
    """getBySid with a ``nonce`` that keeps each call out of the response cache: every call runs
    the function (its index read stays cached), workload 8."""
    return await ctx.db.query("services").with_index("by_sid", lambda q: q.eq("sid", args["sid"])).unique()


@mutation(args={"n": v.number()})
async def scheduleWork(ctx, args):
    """Workload 9: one job scheduled to run at once."""
    await ctx.scheduler.run_after(0, "bench:work", {"n": args["n"], "scheduledAt": time.time() * 1000})


@internal_mutation(args={"n": v.number(), "scheduledAt": v.number()})
async def work(ctx, args):
    await ctx.db.insert("done", {"n": args["n"], "scheduledAt": args["scheduledAt"], "ranAt": time.time() * 1000})


@query(args={})
async def doneStats(ctx, args):
    """Jobs done, the span from the first schedule to the last run, and the lag's p50/p99 (ms)."""
    done = await ctx.db.query("done").collect()
    if not done:
        return {"count": 0}
    lags = sorted(job["ranAt"] - job["scheduledAt"] for job in done)
    span = max(job["ranAt"] for job in done) - min(job["scheduledAt"] for job in done)
    return {"count": len(done), "spanMs": span, "p50": lags[len(lags) // 2], "p99": lags[min(len(lags) - 1, int(len(lags) * 0.99))]}
