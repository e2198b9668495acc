// The JavaScript guest's runtime: what Convex's bundled `convex/server` library expects of its
// host (the `Convex` global), a loader for the rewritten modules (convexpy/js/modules.py), and the
// entry points the Python side calls (analyze, invoke). Loaded once into every fresh context.
//
// Every string that crosses to Python is ASCII: the V8 binding mangles characters outside the
// Basic Multilingual Plane in both directions, so JSON crossing it escapes everything non-ASCII.
"use strict";

(function (global) {
  const host = global.__convex_host;
  delete global.__convex_host;

  const NON_ASCII = /[^\x00-\x7f]/;
  function ascii(text) {
    if (!NON_ASCII.test(text)) return text;
    return text.replace(/[\u0080-\uffff]/g, (c) => "\\u" + c.charCodeAt(0).toString(16).padStart(4, "0"));
  }

  // --- syscalls: the one contract with the bundled library ------------------------------------
  // The host answers "1" + result JSON, or "0" + {message, data?} JSON: nothing is thrown across.
  function call(op, argsJson) {
    const answer = host.syscall(op, ascii(argsJson));
    if (answer[0] === "1") return answer.slice(1);
    const failure = JSON.parse(answer.slice(1));
    const error = new Error(failure.message);
    if (failure.data !== undefined) error.data = failure.data;
    throw error;
  }
  // Query streams are kept here until their first document is asked for: one whose `limit` is
  // small (first(), unique(), take(n)) is then read whole in one round trip (convexpy's
  // 1.0/queryStreamAll, as the Python guest does); any other opens a stream on the host.
  const PREFETCH_LIMIT = 16;
  let streams = new Map();
  let nextStream = 1;
  function smallLimit(query) {
    const limits = (query.operators || []).filter((op) => "limit" in op).map((op) => op.limit);
    const limit = limits.length ? Math.min(...limits) : null;
    return limit !== null && limit <= PREFETCH_LIMIT ? limit : null;
  }
  const local = {
    "1.0/queryStream": (args) => {
      const id = nextStream++;
      streams.set(id, { args, page: null, hostId: null });
      return { queryId: id };
    },
    "1.0/queryStreamNext": (args) => {
      const stream = streams.get(args.queryId);
      if (stream === undefined) return undefined;  // not ours: let the host answer
      if (stream.page === null && stream.hostId === null) {
        if (smallLimit(stream.args.query) !== null) {
          stream.page = JSON.parse(call("1.0/queryStreamAll", JSON.stringify(stream.args))).page;
        } else {
          stream.hostId = JSON.parse(call("1.0/queryStream", JSON.stringify(stream.args))).queryId;
        }
      }
      if (stream.page !== null) {
        return stream.page.length ? { value: stream.page.shift(), done: false } : { value: null, done: true };
      }
      return JSON.parse(call("1.0/queryStreamNext", JSON.stringify({ queryId: stream.hostId })));
    },
    "1.0/queryCleanup": (args) => {
      const stream = streams.get(args.queryId);
      if (stream === undefined) return false;
      streams.delete(args.queryId);
      if (stream.hostId !== null) call("1.0/queryCleanup", JSON.stringify({ queryId: stream.hostId }));
      return true;
    },
  };
  function dispatch(op, argsJson) {
    const handler = local[op];
    if (handler !== undefined) {
      const answer = handler(JSON.parse(argsJson));
      if (answer !== undefined) return JSON.stringify(answer);
    }
    return call(op, argsJson);
  }
  const Convex = {
    syscall: (op, argsJson) => dispatch(op, argsJson),
    asyncSyscall: (op, argsJson) => {
      try {
        return Promise.resolve(dispatch(op, argsJson));
      } catch (error) {
        return Promise.reject(error);
      }
    },
    jsSyscall: (op) => {
      throw new Error(`Unknown jsSyscall ${op}`);
    },
  };
  Object.defineProperty(global, "Convex", { value: Object.freeze(Convex), enumerable: false });

  // --- console: log lines with Convex's levels ------------------------------------------------
  let logLines = [];
  const MAX_LOG_LINES = 256;
  // Arguments rendered as Convex's runtime renders them (object-inspect, indent 2), and as the
  // Python guest does (convexpy/runtime/logs.py): strings quoted, objects over indented lines.
  function inspect(value, indent) {
    if (typeof value === "string") return `'${value.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`;
    if (value === null || value === undefined || typeof value === "boolean") return String(value);
    if (typeof value === "number") return Object.is(value, -0) ? "-0" : String(value);
    if (typeof value === "bigint") return `${value}n`;
    if (typeof value === "symbol") return value.toString();
    if (typeof value === "function") return `[Function: ${value.name || "(anonymous)"}]`;
    if (value instanceof Error) return value.stack || `${value.name}: ${value.message}`;
    if (value instanceof ArrayBuffer) return `ArrayBuffer { byteLength: ${value.byteLength} }`;
    if (indent > 8) return Array.isArray(value) ? "[Array]" : "[Object]";
    const pad = "  ".repeat(indent + 1), close = "  ".repeat(indent);
    if (Array.isArray(value)) {
      if (!value.length) return "[]";
      if (value.every((item) => item === null || typeof item !== "object")) return `[ ${value.map((item) => inspect(item, 0)).join(", ")} ]`;
      return `[\n${value.map((item) => pad + inspect(item, indent + 1)).join(",\n")}\n${close}]`;
    }
    const entries = Object.entries(value);
    if (!entries.length) return "{}";
    return `{\n${entries.map(([key, item]) => `${pad}${key}: ${inspect(item, indent + 1)}`).join(",\n")}\n${close}}`;
  }
  function log(level) {
    return (...args) => {
      if (logLines.length >= MAX_LOG_LINES) return;
      if (logLines.length === MAX_LOG_LINES - 1) {
        logLines.push(`[ERROR] Log overflow (maximum ${MAX_LOG_LINES}). Remaining log lines omitted.`);
        return;
      }
      logLines.push(`[${level}] ${args.map((arg) => inspect(arg, 0)).join(" ")}`);
    };
  }
  global.console = {
    log: log("LOG"), info: log("INFO"), warn: log("WARN"), error: log("ERROR"), debug: log("DEBUG"),
    trace: log("LOG"), time: () => {}, timeEnd: () => {},
  };

  // --- determinism: seeded Math.random, a frozen clock in queries and mutations -----------------
  let seed = 1;
  Math.random = function random() {
    // xorshift32 over the request's seed: the same sequence for the same request, as Convex does.
    seed ^= seed << 13; seed ^= seed >>> 17; seed ^= seed << 5;
    return (seed >>> 0) / 4294967296;
  };
  const RealDate = Date;
  let frozenNow = null;
  function ConvexDate(...args) {
    if (!new.target) return new RealDate(frozenNow ?? RealDate.now()).toString();
    return args.length ? new RealDate(...args) : new RealDate(frozenNow ?? RealDate.now());
  }
  ConvexDate.prototype = RealDate.prototype;
  ConvexDate.now = () => frozenNow ?? RealDate.now();
  ConvexDate.parse = RealDate.parse;
  ConvexDate.UTC = RealDate.UTC;
  global.Date = ConvexDate;
  global.process = { env: {} };

  // --- modules ------------------------------------------------------------------------------
  const factories = new Map();
  const namespaces = new Map();
  function dirname(path) {
    const slash = path.lastIndexOf("/");
    return slash < 0 ? "" : path.slice(0, slash);
  }
  function resolve(importer, specifier) {
    if (!specifier.startsWith(".")) throw new Error(`Module not found: ${specifier} (imported by ${importer})`);
    const parts = dirname(importer) ? dirname(importer).split("/") : [];
    for (const part of specifier.split("/")) {
      if (part === "..") parts.pop();
      else if (part !== ".") parts.push(part);
    }
    return parts.join("/");
  }
  function load(path) {
    const existing = namespaces.get(path);
    if (existing !== undefined) return existing;
    const factory = factories.get(path);
    if (factory === undefined) throw new Error(`Module not found: ${path}`);
    const namespace = Object.create(null);
    Object.defineProperty(namespace, Symbol.toStringTag, { value: "Module" });
    namespaces.set(path, namespace);  // before running it: an import cycle sees the partial namespace
    const define = (getters, stars) => {
      for (const star of stars) {
        for (const key of Object.keys(star)) {
          if (key !== "default" && !(key in getters)) {
            Object.defineProperty(namespace, key, { get: () => star[key], enumerable: true });
          }
        }
      }
      for (const [key, get] of Object.entries(getters)) Object.defineProperty(namespace, key, { get, enumerable: true });
    };
    const dynamicImport = (specifier) => {
      try {
        return Promise.resolve(load(resolve(path, String(specifier))));
      } catch (error) {
        return Promise.reject(error);
      }
    };
    factory((specifier) => load(resolve(path, specifier)), dynamicImport, { url: `convex:/${path}` }, define);
    return namespace;
  }

  // --- entry points for the host ----------------------------------------------------------------
  function describeError(error) {
    if (error && typeof error === "object" && typeof error.data === "string" && error.ConvexErrorSymbol !== undefined) {
      return { message: `Uncaught ConvexError: ${error.message}`, data: error.data };
    }
    if (error instanceof Error) {
      const frames = (error.stack || "").split("\n").slice(1)
        .filter((line) => line.includes("convex:/") && !line.includes("convex:/_deps/") && !line.includes("convex:/_runtime.js"))
        .join("\n");
      return { message: `Uncaught ${error.name}: ${error.message}${frames ? "\n" + frames : ""}` };
    }
    return { message: `Uncaught ${inspect(error, 0)}` };
  }

  const entry = {
    register(path, factory) {
      factories.set(path, factory);
    },
    // The exports of every function module, as the reference backend's analysis sees them.
    // Answers {ok, functions} or {ok: false, message}: a module that throws as it loads is the
    // push's error, worded as Convex words an uncaught error.
    analyze(path) {
      try {
        const namespace = load(path);
        const functions = [];
        for (const name of Object.keys(namespace)) {
          const value = namespace[name];
          if (value === null || (typeof value !== "object" && typeof value !== "function")) continue;
          const kinds = ["isQuery", "isMutation", "isAction", "isHttp"].filter((marker) => marker in value);
          if (kinds.length !== 1) continue;
          const isPublic = "isPublic" in value, isInternal = "isInternal" in value;
          if (isPublic && isInternal) continue;
          functions.push({
            name,
            udfType: { isQuery: "Query", isMutation: "Mutation", isAction: "Action", isHttp: "HttpAction" }[kinds[0]],
            visibility: isPublic ? { kind: "public" } : isInternal ? { kind: "internal" } : null,
            args: typeof value.exportArgs === "function" ? value.exportArgs() : null,
            returns: typeof value.exportReturns === "function" ? value.exportReturns() : null,
          });
        }
        return ascii(JSON.stringify({ ok: true, functions }));
      } catch (error) {
        return ascii(JSON.stringify({ ok: false, message: describeError(error).message }));
      }
    },
    // The default export's `export()` (schema.js, convex.config.js): {ok, value} or {ok: false, message}.
    exportDefault(path) {
      try {
        const value = load(path).default;
        if (value === undefined || typeof value.export !== "function") throw new Error(`${path} has no default export with an export() method`);
        const exported = value.export();
        return ascii(JSON.stringify({ ok: true, value: typeof exported === "string" ? JSON.parse(exported) : exported }));
      } catch (error) {
        return ascii(JSON.stringify({ ok: false, message: describeError(error).message }));
      }
    },
    // Starts one call; the result lands in `settled` once its promise settles (the host then reads it).
    invoke(path, name, udfType, argsJson, requestSeed, now) {
      logLines = [];
      streams = new Map();
      seed = requestSeed | 0 || 1;
      frozenNow = udfType === "Action" ? null : now;
      entry.settled = null;
      const outcome = (ok, payload) => {
        entry.settled = ascii(JSON.stringify({ ok, ...payload, logLines }));
      };
      let promise;
      try {
        const fn = load(path)[name];
        if (fn === undefined) throw new Error(`${path} does not export ${name}`);
        if (udfType === "Query") promise = fn.invokeQuery(argsJson);
        else if (udfType === "Mutation") promise = fn.invokeMutation(argsJson);
        else promise = fn.invokeAction("dummy_request_id", argsJson);
      } catch (error) {
        outcome(false, describeError(error));
        return;
      }
      Promise.resolve(promise).then(
        (value) => outcome(true, { value }),
        (error) => outcome(false, describeError(error)),
      );
    },
    settled: null,
  };
  Object.defineProperty(global, "__convex", { value: entry, enumerable: false });
})(globalThis);
