"""Functions that read the deployment's environment variables (`npx convex env set`)."""

from convexpy import action, query, v


@query(args={"name": v.string()})
async def read(ctx, args):
    return await ctx.env.get(args["name"])


@query(args={})
async def greeting(ctx, args):
    return f"{await ctx.env.get('GREETING', 'hello')}, {await ctx.env.get('AUDIENCE', 'world')}"


@action(args={"name": v.string()})
async def readInAction(ctx, args):
    return await ctx.env.get(args["name"])
