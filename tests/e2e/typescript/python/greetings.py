"""A Python function served beside the pushed TypeScript ones."""

from convexpy import query


@query
async def hello(ctx, args):
    return "hello from Python"
