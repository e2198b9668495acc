"use node";
// Actions that need Node.js: its builtins, run by convexpy's Node runner.
import { createHash } from "node:crypto";
import { EventEmitter } from "node:events";
import { action } from "./_generated/server";
import { api } from "./_generated/api";
import { v, ConvexError } from "convex/values";

export const fingerprint = action({
  args: { sid: v.string() },
  handler: async (ctx, { sid }) => {
    const service = await ctx.runQuery(api.yellowpages.getBySid, { sid });
    const [again, other] = await Promise.all([
      ctx.runQuery(api.yellowpages.getBySid, { sid }),
      ctx.runQuery(api.yellowpages.getService, { name: service?.name ?? "" }),
    ]);
    console.log("fingerprinting", sid);
    const emitted: string[] = [];
    const emitter = new EventEmitter();
    emitter.on("seen", (name: string) => emitted.push(name));
    emitter.emit("seen", service?.name);
    return {
      sha256: createHash("sha256").update(JSON.stringify(service?.name)).digest("hex"),
      same: again?._id === service?._id && other?._id === service?._id,
      emitted,
      node: process.versions.node.split(".").length === 3,
      secretHidden: process.env.INSTANCE_SECRET === undefined && process.env.DATABASE_URL === undefined,
      webhook: process.env.SYMFONY_WEBHOOK_URL ?? null,
    };
  },
});

export const rejectsBadNames = action({
  args: {},
  handler: async (ctx) => {
    try {
      await ctx.runMutation(api.yellowpages.upsert, { sid: "n-1", name: " ", owner: "x", system: "x", language: "ts" });
      return "written";
    } catch (error) {
      return error instanceof ConvexError ? error.data : `not a ConvexError: ${error}`;
    }
  },
});

export const fails = action({
  args: {},
  handler: async () => {
    throw new Error("node action failed");
  },
});

export const failsWithData = action({
  args: {},
  handler: async () => {
    throw new ConvexError({ code: "NODE", retry: false });
  },
});

export const leavesATimer = action({
  args: {},
  handler: async (ctx) => {
    setTimeout(() => {
      ctx.runQuery(api.yellowpages.getBySid, { sid: "s-1" }).catch((error: Error) => console.log("late:", error.message));
    }, 20);
    return "returned";
  },
});
