// Runs a list of calls through the official ConvexHttpClient and prints one JSON result per call.
//
// Usage: node driver.mjs <deployment url>  < calls.json
// Each call: {"op": "query"|"mutation"|"action"|"function"|"consistentQuery",
//             "path": "...", "args": <convex JSON>, "admin": "<key>"?, "parallel": [calls]?}
// Each result: {"ok": true, "value": <convex JSON>} or {"ok": false, "message", "data"?, "isConvexError"}.
import { ConvexHttpClient } from "convex/browser";
import { convexToJson, jsonToConvex, ConvexError } from "convex/values";

const url = process.argv[2];
const input = JSON.parse(await new Promise((resolve) => {
  let text = "";
  process.stdin.on("data", (chunk) => (text += chunk));
  process.stdin.on("end", () => resolve(text));
}));

function client(call) {
  const c = new ConvexHttpClient(url, { logger: false });
  if (call.admin) c.setAdminAuth(call.admin, call.actingAs);
  return c;
}

async function run(call) {
  if (call.op === "parallel") {
    return { ok: true, value: await Promise.all(call.calls.map(run)) };
  }
  const c = client(call);
  const args = jsonToConvex(call.args ?? {});
  try {
    let value;
    if (call.op === "query") value = await c.query(call.path, args);
    else if (call.op === "mutation") value = await c.mutation(call.path, args, call.skipQueue ? { skipQueue: true } : undefined);
    else if (call.op === "action") value = await c.action(call.path, args);
    else if (call.op === "function") value = await c.function(call.path, undefined, args);
    else if (call.op === "consistentQuery") value = await c.consistentQuery(call.path, args);
    else throw new Error(`unknown op ${call.op}`);
    return { ok: true, value: convexToJson(value === undefined ? null : value) };
  } catch (error) {
    const result = { ok: false, message: String(error.message), isConvexError: error instanceof ConvexError };
    if (error instanceof ConvexError) result.data = convexToJson(error.data);
    return result;
  }
}

const results = [];
for (const call of input) results.push(await run(call));
process.stdout.write(JSON.stringify(results));
