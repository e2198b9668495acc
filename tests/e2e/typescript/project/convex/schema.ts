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
});
