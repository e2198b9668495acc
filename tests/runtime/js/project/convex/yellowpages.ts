import { query, mutation, internalMutation } from "./_generated/server";
import { v, ConvexError } from "convex/values";
import { bump, count } from "./counter";

export const getBySid = query({
  args: { sid: v.string() },
  handler: async (ctx, args) => {
    return await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", args.sid)).unique();
  },
});

export const upsert = mutation({
  args: { sid: v.string(), name: v.string(), owner: v.string() },
  returns: v.id("yp_services"),
  handler: async (ctx, args) => {
    if (args.name === "") throw new ConvexError({ code: "EMPTY_NAME", sid: args.sid });
    console.log("upsert", args.sid, { owner: args.owner });
    console.warn("careful 😀");
    const existing = await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", args.sid)).unique();
    if (existing) {
      await ctx.db.patch(existing._id, { name: args.name, owner: args.owner });
      return existing._id;
    }
    return await ctx.db.insert("yp_services", args);
  },
});

export const everything = query({ args: {}, handler: async (ctx) => await ctx.db.query("yp_services").collect() });

export const clock = query({ args: {}, handler: async () => [Date.now(), Math.random(), new Date().getTime()] });

export const counted = query({ args: {}, handler: async () => [count, bump(), count] });

export const fails = internalMutation({
  args: { n: v.number() },
  handler: async (_ctx, { n }) => {
    throw new Error(`no ${n}`);
  },
});
