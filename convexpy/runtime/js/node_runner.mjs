// The Node.js runner: runs the actions of "use node" modules, as Convex's Node executor does.
//
// `node node_runner.mjs <fd>` answers frames on the Unix socket `fd` (the host's end is
// runtime/pool.py; the framing, a 4-byte big-endian length then JSON, is runtime/channel.py's):
// `invoke` (one action at a time) and `analyze` (a push's "use node" modules). The push's modules
// are written to a scratch folder and imported natively, so Node's builtins and its module
// resolution work as they do under Convex. User code reaches the deployment only through
// `Convex.asyncSyscall`, sent to the host as the V8 and Python guests send theirs; the host
// answers them one by one, in order. A syscall made after its action finished (by a timer or
// promise the action left running) is refused here: it would otherwise run against the next call.
"use strict";

import { AsyncLocalStorage } from "node:async_hooks";
import fs from "node:fs";
import { createRequire } from "node:module";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import vm from "node:vm";

const here = path.dirname(fileURLToPath(import.meta.url));
vm.runInThisContext(fs.readFileSync(path.join(here, "shared.js"), "utf8"), { filename: "convex:/_runtime.js" });
const shared = globalThis.__convex_shared;
delete globalThis.__convex_shared;

const scratch = fs.mkdtempSync(path.join(os.tmpdir(), "convexpy-node-"));
process.on("exit", () => fs.rmSync(scratch, { recursive: true, force: true }));
// process.env: the runner's clean environment plus the deployment's variables, set for each call.
const baseEnv = { ...process.env };
function setEnv(variables) {
  process.env = { ...baseEnv, ...(variables || {}) };
}
// esbuild's ESM output for Node calls `require` for the CommonJS packages it bundled.
globalThis.require = createRequire(path.join(scratch, "index.js"));

// --- frames -------------------------------------------------------------------------------------
const socket = new net.Socket({ fd: Number(process.argv[2]), readable: true, writable: true });
let received = [];
let receivedBytes = 0;
socket.on("data", (chunk) => {
  received.push(chunk);
  receivedBytes += chunk.length;
  while (receivedBytes >= 4) {
    const buffer = received.length === 1 ? received[0] : Buffer.concat(received);
    const length = buffer.readUInt32BE(0);
    if (buffer.length < 4 + length) {
      received = [buffer];
      return;
    }
    const frame = JSON.parse(buffer.subarray(4, 4 + length).toString("utf8"));
    const rest = buffer.subarray(4 + length);
    received = rest.length ? [rest] : [];
    receivedBytes = rest.length;
    onFrame(frame);
  }
});
socket.on("close", () => process.exit(0));
socket.on("error", () => process.exit(0));

function send(message) {
  const body = Buffer.from(JSON.stringify(message), "utf8");
  const header = Buffer.alloc(4);
  header.writeUInt32BE(body.length);
  socket.write(Buffer.concat([header, body]));
}

// --- syscalls -----------------------------------------------------------------------------------
const answers = [];  // resolvers of the syscalls sent, in order: the host answers them in order
function syscall(op, argsJson) {
  return new Promise((resolve, reject) => {
    answers.push((answer) => {
      if (answer.ok) {
        resolve(answer.result);
        return;
      }
      if ("errorData" in answer) {  // a ConvexError: the library rethrows it as one, with this data
        const data = answer.errorData;
        const error = new Error(answer.convexMessage ?? (typeof data === "string" ? data : JSON.stringify(data)));
        error.data = data;
        reject(error);
        return;
      }
      reject(new Error(answer.message ?? `${op} failed`));
    });
    send({ type: "syscall", op, args: argsJson });
  });
}
async function drained() {
  while (answers.length) await new Promise((resolve) => setImmediate(resolve));
}

const calls = new AsyncLocalStorage();
let current = null;  // the running call: {logLines}
const discarded = [];
globalThis.console = shared.makeConsole(() => {
  const call = calls.getStore();
  if (call !== undefined && call === current) return call.logLines;
  discarded.length = 0;
  return discarded;
});
Object.defineProperty(globalThis, "Convex", {
  value: Object.freeze({
    syscall: (op) => {
      throw new Error(`${op} is not available in the Node.js runtime; call it from a query, mutation or a non-"use node" action.`);
    },
    asyncSyscall: (op, argsJson) => {
      const call = calls.getStore();
      if (call === undefined || call !== current) {
        return Promise.reject(new Error(`${op} was called after its action finished (by a timer or promise it left running); `
          + "await everything an action starts."));
      }
      return syscall(op, argsJson);
    },
    jsSyscall: (op) => {
      throw new Error(`Unknown jsSyscall ${op}`);
    },
  }),
  enumerable: false,
});

// --- modules ------------------------------------------------------------------------------------
const loaded = new Map();  // push id -> its folder
async function pushFolder(push) {
  let folder = loaded.get(push);
  if (folder !== undefined) return folder;
  const sources = JSON.parse(await syscall("convexpy/pushedModules", JSON.stringify({ push, environment: "node" })));
  folder = writeModules(push, sources);
  for (const [old, oldFolder] of loaded) {
    fs.rmSync(oldFolder, { recursive: true, force: true });  // imported modules stay in memory; their files can go
    loaded.delete(old);
  }
  loaded.set(push, folder);
  return folder;
}
function writeModules(name, sources) {
  const folder = path.join(scratch, name);
  fs.mkdirSync(folder, { recursive: true });
  fs.writeFileSync(path.join(folder, "package.json"), '{"type": "module"}\n');
  for (const [modulePath, [source]] of Object.entries(sources)) {
    const file = path.join(folder, modulePath);
    if (!file.startsWith(folder + path.sep)) throw new Error(`A module path leaves the push: ${modulePath}`);
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, source);
  }
  return folder;
}
function importModule(folder, modulePath) {
  return import(pathToFileURL(path.join(folder, modulePath)).href);
}
// Frames in the push's files, named as the V8 guest names them (convex:/module.js:line:col), so
// the host maps them to the user's TypeScript with the push's source maps.
function describe(error, folder) {
  const prefix = pathToFileURL(folder).href + "/";
  const described = shared.describeError(error, (line) => line.includes(prefix));
  described.message = described.message.split(prefix).join("convex:/");
  return described;
}

// --- entry points -------------------------------------------------------------------------------
function onFrame(frame) {
  if (frame.type === "invoke") invoke(frame);
  else if (frame.type === "analyze") analyze(frame);
  else {
    const answer = answers.shift();
    if (answer !== undefined) answer(frame);
  }
}

async function invoke(request) {
  const call = { logLines: [] };
  current = call;
  let folder = scratch;
  let result;
  setEnv(request.js.env);
  try {
    folder = await pushFolder(request.js.push);
    const namespace = await importModule(folder, request.js.module);
    const fn = namespace[request.js.name];
    if (fn === undefined || typeof fn.invokeAction !== "function") throw new Error(`${request.js.module} does not export an action ${request.js.name}`);
    const value = await calls.run(call, () => fn.invokeAction("node-request", JSON.stringify([request.args])));
    result = { type: "result", ok: true, value: JSON.parse(value) };
  } catch (error) {
    const described = describe(error, folder);
    result = { type: "result", ok: false, message: described.message + "\n" };
    if (described.data !== undefined) result.errorData = JSON.parse(described.data);
  }
  await drained();
  current = null;
  result.logLines = call.logLines;
  send(result);
}

async function analyze(request) {
  const folder = writeModules(`analysis-${process.hrtime.bigint()}`, request.modules);
  setEnv(request.env);
  const functions = {};
  let result;
  try {
    for (const modulePath of request.functionModules) {
      try {
        functions[modulePath] = shared.exportedFunctions(await importModule(folder, modulePath));
      } catch (error) {
        throw new Error(`Failed to analyze ${modulePath}: ${describe(error, folder).message}`);
      }
    }
    result = { type: "result", ok: true, value: { functions, schema: null, configs: {} } };
  } catch (error) {
    result = { type: "result", ok: false, message: error.message };
  }
  fs.rmSync(folder, { recursive: true, force: true });
  send(result);
}
