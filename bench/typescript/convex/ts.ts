// Workload 8's TypeScript twin of bench:getBySidUncached, pushed with `npx convex deploy`. No
// schema.ts: it reads the Python bench functions' `services` table and its by_sid index.
import { queryGeneric as query } from "convex/server";
import { v } from "convex/values";

export const getBySidUncached = query({
  args: { sid: v.string(), nonce: v.number() },
  handler: async (ctx, { sid }) => {
    return await ctx.db.query("services").withIndex("by_sid", (q) => q.eq("sid", sid)).unique();
  },
});
