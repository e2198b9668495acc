"""``yp_services:*``: the functions the platform's ConvexStore calls (seed 001)."""

from convexpy import mutation, query, v

from ._sid import get_by_sid, remove_by_sid, upsert_by_sid
from .schema import SERVICE_FIELDS

UPSERT_ARGS = {**SERVICE_FIELDS, "sid": v.optional(v.string())}  # no sid: a new nanoid is made


@query(args={"sid": v.string()})
async def getBySid(ctx, args):
    return await get_by_sid(ctx.db, "yp_services", args["sid"])


@mutation(args=UPSERT_ARGS)
async def upsert(ctx, args):
    return await upsert_by_sid(ctx.db, "yp_services", args)


@query(args={"paginationOpts": v.optional(v.object({"numItems": v.number(), "cursor": v.union(v.string(), v.null())}))})
async def list(ctx, args):
    services = ctx.db.query("yp_services").with_index("by_name")
    if "paginationOpts" in args:
        return await services.paginate(args["paginationOpts"])
    return await services.collect()


@mutation(args={"sid": v.string()})
async def remove(ctx, args):
    return await remove_by_sid(ctx.db, "yp_services", args["sid"])
