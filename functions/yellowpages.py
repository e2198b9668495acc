"""``yellowpages:*``: the Yellow Pages service catalogue (seed 000)."""

from convexpy import mutation, query, v

from ._sid import get_by_sid, remove_by_sid, require, upsert_by_sid


@query(args={"sid": v.string()})
async def getService(ctx, args):
    return await get_by_sid(ctx.db, "yp_services", args["sid"])


@query(args={"name": v.string()})
async def getServiceByName(ctx, args):
    return await ctx.db.query("yp_services").with_index("by_name", lambda q: q.eq("name", args["name"])).first()


@query(args={"system": v.optional(v.string()), "owner": v.optional(v.string())})
async def listServices(ctx, args):
    services = ctx.db.query("yp_services").with_index("by_name")
    if "system" in args:
        services = services.filter(lambda q: q.eq(q.field("system"), args["system"]))
    if "owner" in args:
        services = services.filter(lambda q: q.eq(q.field("owner"), args["owner"]))
    return await services.collect()


@query(args={"sid": v.string()})
async def getSystem(ctx, args):
    return await get_by_sid(ctx.db, "yp_systems", args["sid"])


@query(args={})
async def listSystems(ctx, args):
    return await ctx.db.query("yp_systems").with_index("by_name").collect()


@mutation(args={"sid": v.optional(v.string()), "name": v.string(), "owner": v.optional(v.string()), "description": v.optional(v.string())})
async def upsertSystem(ctx, args):
    return await upsert_by_sid(ctx.db, "yp_systems", args)


@query(args={"sid": v.string()})
async def getOwner(ctx, args):
    return await get_by_sid(ctx.db, "yp_owners", args["sid"])


@query(args={})
async def listOwners(ctx, args):
    return await ctx.db.query("yp_owners").with_index("by_name").collect()


@mutation(args={"sid": v.optional(v.string()), "name": v.string(), "email": v.optional(v.string()), "team": v.optional(v.string())})
async def upsertOwner(ctx, args):
    return await upsert_by_sid(ctx.db, "yp_owners", args)


@query(args={"sid": v.string()})
async def getSystemWithServices(ctx, args):
    """A system and the services that belong to it (by system name)."""
    system = require(await get_by_sid(ctx.db, "yp_systems", args["sid"]), "System", args["sid"])
    services = await (
        ctx.db.query("yp_services").with_index("by_name").filter(lambda q: q.eq(q.field("system"), system["name"])).collect()
    )
    return {"system": system, "services": services}


@mutation(args={"sid": v.string()})
async def removeService(ctx, args):
    return await remove_by_sid(ctx.db, "yp_services", args["sid"])
