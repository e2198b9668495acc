"""Internal functions: reachable only with the admin key, or from actions."""

from convexpy import action, internal_query, query


@internal_query(args={})
async def secret(ctx, args):
    return "internal value"


@query(args={})
async def whoami(ctx, args):
    return await ctx.auth.get_user_identity()


@action(args={})
async def callSecret(ctx, args):
    return await ctx.run_query(secret, {})
