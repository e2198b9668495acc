"""Value round trips: through arguments, and through storage."""

from convexpy import Int64, mutation, query, v


@query(args={"value": v.any()})
async def echo(ctx, args):
    return args["value"]


@query
async def untyped(ctx, args):
    return args


@mutation(args={"value": v.any()})
async def store(ctx, args):
    doc_id = await ctx.db.insert("values", {"value": args["value"]})
    document = await ctx.db.get(doc_id)
    return document["value"]


@query(args={})
async def make(ctx, args):
    return {"int": Int64(-(2**63)), "big": Int64(2**63 - 1), "float": 1.5, "whole": 3, "bytes": b"\x00\xff", "none": None}


@query(args={"n": v.int64()})
async def double(ctx, args):
    return Int64(args["n"] * 2)
