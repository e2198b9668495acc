"""A mutation that takes a while, so a test can drop the socket while it runs."""

import asyncio

from convexpy import mutation, v


@mutation(args={"tag": v.string(), "delay_ms": v.number()})
async def insertAfter(ctx, args):
    await asyncio.sleep(args["delay_ms"] / 1000)
    return await ctx.db.insert("items", {"tag": args["tag"], "rank": 1})
