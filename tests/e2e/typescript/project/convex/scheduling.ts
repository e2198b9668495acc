// MemberPulse breaks long work into scheduled functions (seeds/004).
import { action, internalMutation, mutation, query } from "./_generated/server";
import { internal } from "./_generated/api";
import { v } from "convex/values";

export const notifyLater = mutation({
  args: { userId: v.string(), text: v.string(), delayMs: v.number() },
  handler: async (ctx, { userId, text, delayMs }) =>
    await ctx.scheduler.runAfter(delayMs, internal.scheduling.deliver, { userId, text }),
});

export const deliver = internalMutation({
  args: { userId: v.string(), text: v.string() },
  handler: async (ctx, { userId, text }) => {
    await ctx.db.insert("notifications", { userId, text, read: false });
  },
});

export const cancel = mutation({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => {
    await ctx.scheduler.cancel(id);
  },
});

export const job = query({
  args: { id: v.id("_scheduled_functions") },
  handler: async (ctx, { id }) => await ctx.db.system.get(id),
});

export const pending = query({
  args: {},
  handler: async (ctx) =>
    (await ctx.db.system.query("_scheduled_functions").collect()).filter((job) => job.state.kind === "pending").length,
});

export const notifyFromAction = action({
  args: { userId: v.string(), text: v.string() },
  handler: async (ctx, { userId, text }) => await ctx.scheduler.runAt(Date.now(), internal.scheduling.deliver, { userId, text }),
});

export const badDelay = mutation({
  args: {},
  handler: async (ctx) => await ctx.scheduler.runAfter(-1, internal.scheduling.deliver, { userId: "x", text: "x" }),
});

export const crons = query({
  args: {},
  handler: async (ctx) =>
    (await ctx.db.system.query("_cron_jobs" as any).collect()).map((cron: any) => [cron.name, cron.cronSpec.udfPath, cron.cronSpec.cronSchedule, cron.lastRun?.status ?? null]),
});
