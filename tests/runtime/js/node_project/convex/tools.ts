"use node";
import { createHash } from "node:crypto";
import { action } from "./_generated/server";
import { api } from "./_generated/api";

export const digest = action({
  handler: async (ctx, { text }: { text: string }) => {
    const found = await ctx.runQuery(api.lookups.find, { text });
    console.log("digesting", text);
    return { sha1: createHash("sha1").update(text).digest("hex"), found };
  },
});

export const spin = action({
  handler: async () => {
    for (;;) {}
  },
});

export const wait = action({
  handler: async (_ctx, { ms }: { ms: number }) => {
    await new Promise((resolve) => setTimeout(resolve, ms));
    return "waited";
  },
});
