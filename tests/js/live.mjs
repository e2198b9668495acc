// A long-lived official npm ConvexClient (over `ws`), driven by JSON lines on stdin.
//
// Usage: node live.mjs <deployment url>
// Commands (one JSON object per line):
//   {"cmd":"subscribe","sub":"s1","path":"m:f","args":{...}}     -> {"event":"update","sub","value"} / {"event":"error","sub",...}
//   {"cmd":"unsubscribe","sub":"s1"}
//   {"cmd":"mutation"|"action"|"query","req":"r1","path","args"} -> {"event":"result","req","ok",...,"seen":{sub: latest value}}
//   {"cmd":"adminAuth","key":"...","actingAs":{...}?}
//   {"cmd":"journal","sub":"s1"}                                   -> {"event":"journal","sub","journal"}
//   {"cmd":"close"}
// Values travel as Convex JSON ($integer, $bytes, ...). "seen" in a mutation result is the
// latest value of every subscription at the moment the mutation's promise resolved, so a
// test can check read-your-writes exactly as an application would observe it.
import { ConvexClient } from "convex/browser";
import { convexToJson, jsonToConvex, ConvexError } from "convex/values";
import { makeFunctionReference } from "convex/server";
import WebSocket from "ws";
import readline from "node:readline";

const client = new ConvexClient(process.argv[2], { webSocketConstructor: WebSocket, unsavedChangesWarning: false, logger: false });
const subs = new Map();
const latest = {};
const emit = (event) => process.stdout.write(JSON.stringify(event) + "\n");
const errorFields = (error) => {
  const out = { ok: false, message: String(error.message), isConvexError: error instanceof ConvexError };
  if (error instanceof ConvexError) out.data = convexToJson(error.data);
  return out;
};

const handlers = {
  subscribe({ sub, path, args }) {
    const unsubscribe = client.onUpdate(makeFunctionReference(path), jsonToConvex(args ?? {}), (value) => {
      latest[sub] = convexToJson(value === undefined ? null : value);
      emit({ event: "update", sub, value: latest[sub] });
    }, (error) => emit({ event: "error", sub, ...errorFields(error) }));
    subs.set(sub, { unsubscribe, path, args });
  },
  unsubscribe({ sub }) {
    subs.get(sub)?.unsubscribe();
    subs.delete(sub);
    delete latest[sub];
  },
  async mutation({ req, path, args }) { return client.mutation(makeFunctionReference(path), jsonToConvex(args ?? {})); },
  async action({ req, path, args }) { return client.action(makeFunctionReference(path), jsonToConvex(args ?? {})); },
  async query({ req, path, args }) { return client.query(makeFunctionReference(path), jsonToConvex(args ?? {})); },
  adminAuth({ key, actingAs }) { client.setAdminAuth(key, actingAs); },
  journal({ sub }) {
    const { path, args } = subs.get(sub);
    emit({ event: "journal", sub, journal: client.client.queryJournal(path, jsonToConvex(args ?? {})) ?? null });
  },
  async close() { await client.close(); emit({ event: "closed" }); process.exit(0); },
};

const lines = readline.createInterface({ input: process.stdin });
lines.on("line", async (line) => {
  const command = JSON.parse(line);
  const handler = handlers[command.cmd];
  if (!["mutation", "action", "query"].includes(command.cmd)) {
    await handler(command);
    return;
  }
  try {
    const value = await handler(command);
    emit({ event: "result", req: command.req, ok: true, value: convexToJson(value === undefined ? null : value), seen: { ...latest } });
  } catch (error) {
    emit({ event: "result", req: command.req, ...errorFields(error), seen: { ...latest } });
  }
});
lines.on("close", () => process.exit(0));
