// What both JavaScript runners share: the V8 guest (runtime.js, in STPyV8) and the Node.js runner
// for "use node" actions (node_runner.mjs). A plain script: it leaves its functions on
// `globalThis.__convex_shared`, which each runner takes (and removes) before user code runs.
"use strict";

globalThis.__convex_shared = (function () {
  const MAX_LOG_LINES = 256;

  // Arguments rendered as Convex's runtime renders them (object-inspect, indent 2), and as the
  // Python guest does (convexpy/runtime/logs.py): strings quoted, objects over indented lines.
  function inspect(value, indent = 0) {
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

  // A console writing Convex's log lines (`[LOG] ...`) into `lines()`, the current call's list.
  function makeConsole(lines) {
    const log = (level) => (...args) => {
      const into = lines();
      if (into.length >= MAX_LOG_LINES) return;
      if (into.length === MAX_LOG_LINES - 1) {
        into.push(`[ERROR] Log overflow (maximum ${MAX_LOG_LINES}). Remaining log lines omitted.`);
        return;
      }
      into.push(`[${level}] ${args.map((arg) => inspect(arg, 0)).join(" ")}`);
    };
    return {
      log: log("LOG"), info: log("INFO"), warn: log("WARN"), error: log("ERROR"), debug: log("DEBUG"),
      trace: log("LOG"), time: () => {}, timeEnd: () => {},
    };
  }

  // The functions a module's namespace exports, as the reference backend's analysis sees them:
  // name, udfType, visibility and the args/returns validators (JSON strings).
  function exportedFunctions(namespace) {
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
    return functions;
  }

  // An uncaught error as Convex words it, keeping the stack frames `userFrame` accepts:
  // {message, data?} (data: a ConvexError's JSON).
  function describeError(error, userFrame) {
    if (error && typeof error === "object" && typeof error.data === "string" && error.ConvexErrorSymbol !== undefined) {
      return { message: `Uncaught ConvexError: ${error.message}`, data: error.data };
    }
    if (error instanceof Error) {
      const frames = (error.stack || "").split("\n").slice(1).filter(userFrame).join("\n");
      return { message: `Uncaught ${error.name}: ${error.message}${frames ? "\n" + frames : ""}` };
    }
    return { message: `Uncaught ${inspect(error, 0)}` };
  }

  return { inspect, makeConsole, exportedFunctions, describeError };
})();
