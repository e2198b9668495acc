import { defineSchema, defineTable } from "convex/server";
import { v } from "convex/values";

export default defineSchema({
  yp_services: defineTable({
    sid: v.string(),
    name: v.string(),
    owner: v.string(),
    system: v.string(),
    language: v.string(),
  })
    .index("by_sid", ["sid"])
    .index("by_name", ["name"]),
  // MemberPulse (seeds/004)
  notifications: defineTable({ userId: v.string(), text: v.string(), read: v.boolean() }).index("by_user", ["userId"]),
  presence: defineTable({ userId: v.string(), organizationId: v.string(), currentPage: v.string(), lastSeen: v.number() })
    .index("by_user", ["userId"])
    .index("by_org", ["organizationId"]),
  approvals: defineTable({ organizationId: v.string(), status: v.string() }).index("by_org_status", ["organizationId", "status"]),
  activity: defineTable({ organizationId: v.string(), what: v.string(), embedding: v.optional(v.array(v.float64())) })
    .index("by_org", ["organizationId"])
    .searchIndex("search_what", { searchField: "what", filterFields: ["organizationId"] })
    .vectorIndex("by_embedding", { vectorField: "embedding", dimensions: 2, filterFields: ["organizationId"] }),
});
