"""Actions calling queries and mutations."""

from convexpy import ConvexError, action, v


@action(args={"channel": v.string()})
async def sendAndCount(ctx, args):
    await ctx.run_mutation("messages:send", {"channel": args["channel"], "body": "from action", "n": 1000.0})
    numbers = await ctx.run_query("messages:byRange", {"channel": args["channel"]})
    print("counted", len(numbers))
    return len(numbers)


@action(args={})
async def failsWithData(ctx, args):
    try:
        await ctx.run_mutation("errors:convexError", {"data": {"why": "nested"}})
    except ConvexError as error:
        raise ConvexError({"caught": error.data}) from None


@action(args={"value": v.any()})
async def echo(ctx, args):
    return args["value"]
