"""A counter whose query result is large: for backpressure tests."""

import base64
import os

from convexpy import mutation, query, v

# Random, so that permessage-deflate cannot shrink it: the result really is large on the wire.
PAD = base64.b64encode(os.urandom(150_000)).decode()


@mutation(args={"name": v.string()})
async def bump(ctx, args):
    counter = await ctx.db.query("values").filter(lambda q: q.eq(q.field("value.name"), args["name"])).first()
    if counter is None:
        await ctx.db.insert("values", {"value": {"name": args["name"], "n": 1}})
    else:
        await ctx.db.patch(counter["_id"], {"value": {"name": args["name"], "n": counter["value"]["n"] + 1}})
    return None


@query(args={"name": v.string(), "padded": v.boolean()})
async def read(ctx, args):
    counter = await ctx.db.query("values").filter(lambda q: q.eq(q.field("value.name"), args["name"])).first()
    n = 0 if counter is None else counter["value"]["n"]
    return {"n": n, "pad": PAD if args["padded"] else ""}
