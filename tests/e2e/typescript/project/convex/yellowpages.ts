// The Shift Platform's Yellow Pages, as its TypeScript is written (seeds/000).
import { query, mutation, action } from "./_generated/server";
import { api } from "./_generated/api";
import { v, ConvexError } from "convex/values";

export const getService = query({
  args: { name: v.string() },
  handler: async (ctx, { name }) => {
    return await ctx.db.query("yp_services").withIndex("by_name", (q) => q.eq("name", name)).unique();
  },
});

export const getBySid = query({
  args: { sid: v.string() },
  handler: async (ctx, { sid }) => {
    return await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", sid)).unique();
  },
});

export const upsert = mutation({
  args: { sid: v.string(), name: v.string(), owner: v.string(), system: v.string(), language: v.string() },
  handler: async (ctx, service) => {
    if (service.name.trim() === "") {
      throw new ConvexError({ code: "INVALID_NAME", sid: service.sid });
    }
    const existing = await ctx.db.query("yp_services").withIndex("by_sid", (q) => q.eq("sid", service.sid)).unique();
    if (existing !== null) {
      await ctx.db.patch(existing._id, service);
      console.log("updated", service.sid);
      return existing._id;
    }
    const id = await ctx.db.insert("yp_services", service);
    console.info("created", service.sid, "😀");
    return id;
  },
});

export const upsertThenFail = mutation({
  args: { sid: v.string() },
  handler: async (ctx, { sid }) => {
    await ctx.db.insert("yp_services", { sid, name: "doomed", owner: "x", system: "x", language: "ts" });
    throw new Error("failed after writing");
  },
});

export const spin = query({
  args: {},
  handler: async () => {
    for (;;) {}
  },
});

export const describe = action({
  args: { sid: v.string() },
  handler: async (ctx, { sid }) => {
    const service = await ctx.runQuery(api.yellowpages.getBySid, { sid });
    if (service === null) return null;
    await ctx.runMutation(api.yellowpages.upsert, { ...pick(service), owner: service.owner + "!" });
    return `${service.name} (${service.language}) owned by ${service.owner}`;
  },
});

function pick(s: { sid: string; name: string; owner: string; system: string; language: string }) {
  return { sid: s.sid, name: s.name, owner: s.owner, system: s.system, language: s.language };
}

export const rejectsBadNames = action({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.runMutation(api.yellowpages.upsert, { sid: "v-1", name: " ", owner: "x", system: "x", language: "ts" });
      return "written";
    } catch (error) {
      return error instanceof ConvexError ? error.data : `not a ConvexError: ${error}`;
    }
  },
});
