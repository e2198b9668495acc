"""Functions that do what careless or hostile user code does: edit what they read, stop scans
early, hand a cursor to another query."""

from convexpy import mutation, query, v


@mutation(args={"owner": v.string(), "text": v.string()})
async def addNote(ctx, args):
    return await ctx.db.insert("notes", args)


@mutation(args={"id": v.id("notes"), "owner": v.string()})
async def moveNoteEditingInPlace(ctx, args):
    """Edit the dict db.get returned, then replace with it: the old index entry must still go."""
    note = await ctx.db.get(args["id"])
    note["owner"] = args["owner"]
    await ctx.db.replace(args["id"], {"owner": note["owner"], "text": note["text"]})


@query(args={"owner": v.string()})
async def notesOf(ctx, args):
    found = await ctx.db.query("notes").with_index("by_owner", lambda q: q.eq("owner", args["owner"])).collect()
    return sorted(note["text"] for note in found)


@query(args={"owner": v.string(), "paginationOpts": v.object({"numItems": v.number(), "cursor": v.union(v.string(), v.null())})})
async def notesPage(ctx, args):
    result = await ctx.db.query("notes").with_index("by_owner", lambda q: q.eq("owner", args["owner"])).paginate(args["paginationOpts"])
    return {**result, "page": [note["text"] for note in result["page"]]}


@mutation(args={"ward": v.string(), "doctor": v.string(), "on_call": v.boolean()})
async def addShift(ctx, args):
    return await ctx.db.insert("shifts", args)


@query(args={"ward": v.string()})
async def firstOnCall(ctx, args):
    """Stops its scan with `break`: what it read must still be in its read set."""
    async for shift in ctx.db.query("shifts").with_index("by_ward", lambda q: q.eq("ward", args["ward"])):
        if shift["on_call"]:
            return shift["doctor"]
    return None


@mutation(args={"ward": v.string(), "doctor": v.string()})
async def goOffCall(ctx, args):
    """Write skew guard: a doctor may go off call only if another one stays on call (checked with break)."""
    others = 0
    mine = None
    async for shift in ctx.db.query("shifts").with_index("by_ward", lambda q: q.eq("ward", args["ward"])):
        if shift["doctor"] == args["doctor"]:
            mine = shift
        elif shift["on_call"]:
            others += 1
        if mine is not None and others > 0:
            break
    if mine is None or others == 0:
        return False
    await ctx.db.patch(mine["_id"], {"on_call": False})
    return True


@query(args={"ward": v.string()})
async def onCall(ctx, args):
    shifts = await ctx.db.query("shifts").with_index("by_ward", lambda q: q.eq("ward", args["ward"])).collect()
    return sorted(shift["doctor"] for shift in shifts if shift["on_call"])
