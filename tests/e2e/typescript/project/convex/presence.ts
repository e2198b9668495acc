// MemberPulse's presence, as seeds/004 writes it (the seed omits the imports).
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const heartbeat = mutation({
args: {
userId: v.string(),
organizationId: v.string(),
currentPage: v.string(),
},
handler: async (ctx, args) => {
const existing = await ctx.db
.query("presence")
.withIndex("by_user", (q) => q.eq("userId", args.userId))
.unique();
if (existing) {
await ctx.db.patch(existing._id, {
lastSeen: Date.now(),
currentPage: args.currentPage,
});
} else {
await ctx.db.insert("presence", {
...args,
lastSeen: Date.now(),
});
}
},
});
export const getOnlineUsers = query({
args: { organizationId: v.string() },
handler: async (ctx, args) => {
return await ctx.db
.query("presence")
.withIndex("by_org", (q) => q.eq("organizationId", args.organizationId))
.filter((q) => q.gt(q.field("lastSeen"), Date.now() - 60000))
.collect();
},
});
