// MemberPulse reads its webhook URL and auth domain from `npx convex env set` (seeds/004).
import { query } from "./_generated/server";
import { v } from "convex/values";

const loadedWith = process.env.SYMFONY_WEBHOOK_URL ?? null; // readable as modules load, too

export const webhook = query({
  args: {},
  handler: async () => ({
    url: process.env.SYMFONY_WEBHOOK_URL ?? null,
    domain: process.env.AUTH_DOMAIN ?? null,
    cloud: process.env.CONVEX_CLOUD_URL,
    serverPath: process.env.PATH ?? null,
    keys: Object.keys(process.env),
    has: "AUTH_DOMAIN" in process.env,
  }),
});

export const named = query({ args: { name: v.string() }, handler: async (_ctx, { name }) => process.env[name] ?? null });

// Keeps the read at module load in the bundle: the push's analysis runs it.
export const readAtImport = query({ args: {}, handler: async () => loadedWith === undefined });
