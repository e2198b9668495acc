// MemberPulse's notifications, as seeds/004 writes them (plus `send`, which the seed leaves to Symfony).
import { query, mutation } from "./_generated/server";
import { v } from "convex/values";
export const list = query({
args: { userId: v.string() },
handler: async (ctx, args) => {
return await ctx.db
.query("notifications")
.withIndex("by_user", (q) => q.eq("userId", args.userId))
.filter((q) => q.eq(q.field("read"), false))
.order("desc")
.take(50);
},
});
export const markAsRead = mutation({
args: { notificationId: v.id("notifications") },
handler: async (ctx, args) => {
await ctx.db.patch(args.notificationId, { read: true });
},
});
export const send = mutation({
args: { userId: v.string(), text: v.string() },
handler: async (ctx, args) => await ctx.db.insert("notifications", { ...args, read: false }),
});
