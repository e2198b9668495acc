"""Functions that misbehave the way runners must contain: spinning, looping forever, dying."""

import os
import time

from convexpy import mutation, query, v


@query(args={"seconds": v.number()})
async def spin(ctx, args):
    deadline = time.monotonic() + args["seconds"]
    while time.monotonic() < deadline:
        pass
    return "finished"


@mutation(args={"tag": v.string()})
async def loopForever(ctx, args):
    await ctx.db.insert("items", {"tag": args["tag"], "rank": 1})
    while True:
        pass


@query(args={"marker": v.string()})
async def dieOnce(ctx, args):
    """Kills its runner the first time it runs for a marker; a re-run on another runner answers."""
    path = args["marker"]
    if not os.path.exists(path):
        open(path, "w").close()
        os.kill(os.getpid(), 9)
    return await ctx.db.query("items").take(0)


@query(args={"megabytes": v.number()})
async def allocate(ctx, args):
    hoard = bytearray(int(args["megabytes"]) * 1024 * 1024)
    return len(hoard)


@query(args={"seconds": v.number()})
async def stubborn(ctx, args):
    """Spins and swallows whatever interrupts it (a bare ``except``) until its deadline."""
    deadline = time.monotonic() + args["seconds"]
    while time.monotonic() < deadline:
        try:
            while time.monotonic() < deadline:
                pass
        except BaseException:  # noqa: BLE001 - the point: user code that catches everything
            pass
    return "finished"


@query(args={"seconds": v.number()})
async def block(ctx, args):
    """Blocks the runner without spending CPU."""
    time.sleep(args["seconds"])
    return "finished"


@query(args={"id": v.string(), "times": v.number()})
async def getMany(ctx, args):
    """One syscall after another: time spent waiting for their answers is not user time."""
    return [await ctx.db.get(args["id"]) for _ in range(int(args["times"]))]


@query(args={})
async def dieAlways(ctx, args):
    """Kills every runner it runs on (as code that exhausts a JavaScript heap does)."""
    os.kill(os.getpid(), 9)


@mutation(args={"tag": v.string()})
async def insertThenDie(ctx, args):
    await ctx.db.insert("items", {"tag": args["tag"], "rank": 1})
    os.kill(os.getpid(), 9)
