// MemberPulse's dashboard metrics, as seeds/004 writes them (the seed omits the imports).
import { query, mutation, action } from "./_generated/server";
import { v } from "convex/values";
export const dashboardStats = query({
args: { organizationId: v.string() },
handler: async (ctx, args) => {
const [activeUsers, pendingApprovals, recentActivity] = await Promise.all([
ctx.db
.query("presence")
.withIndex("by_org", (q) => q.eq("organizationId", args.organizationId))
.filter((q) => q.gt(q.field("lastSeen"), Date.now() - 300000))
.collect(),
ctx.db
.query("approvals")
.withIndex("by_org_status", (q) =>
q.eq("organizationId", args.organizationId).eq("status", "pending")
)
.collect(),
ctx.db
.query("activity")
.withIndex("by_org", (q) => q.eq("organizationId", args.organizationId))
.order("desc")
.take(20),
]);
return {
activeUsersCount: activeUsers.length,
pendingApprovalsCount: pendingApprovals.length,
recentActivity,
};
},
});
export const record = mutation({
args: { organizationId: v.string(), approvals: v.array(v.string()), activity: v.array(v.string()) },
handler: async (ctx, args) => {
for (const status of args.approvals) await ctx.db.insert("approvals", { organizationId: args.organizationId, status });
for (const what of args.activity) await ctx.db.insert("activity", { organizationId: args.organizationId, what });
},
});

// Search and vector indexes are declared in the schema; convexpy stores them and says clearly
// that their queries are not supported yet.
export const searchActivity = query({
  args: { text: v.string() },
  handler: async (ctx, { text }) =>
    await ctx.db.query("activity").withSearchIndex("search_what", (q) => q.search("what", text)).take(5),
});

export const similarActivity = action({
  args: {},
  handler: async (ctx) => await ctx.vectorSearch("activity", "by_embedding", { vector: [0.1, 0.2], limit: 3 }),
});
