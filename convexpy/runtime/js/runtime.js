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

  // --- web platform globals Convex functions expect ------------------------------------------
  class TextEncoder {
    get encoding() { return "utf-8"; }
    encode(input = "") {
      const text = String(input), bytes = [];
      for (let i = 0; i < text.length; i++) {
        let code = text.codePointAt(i);
        if (code > 0xffff) i++;
        else if (code >= 0xd800 && code <= 0xdfff) code = 0xfffd;  // a lone surrogate
        if (code < 0x80) bytes.push(code);
        else if (code < 0x800) bytes.push(0xc0 | (code >> 6), 0x80 | (code & 63));
        else if (code < 0x10000) bytes.push(0xe0 | (code >> 12), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
        else bytes.push(0xf0 | (code >> 18), 0x80 | ((code >> 12) & 63), 0x80 | ((code >> 6) & 63), 0x80 | (code & 63));
      }
      return new Uint8Array(bytes);
    }
  }
  class TextDecoder {
    constructor(label = "utf-8", options = {}) {
      if (!["utf-8", "utf8", "unicode-1-1-utf-8"].includes(String(label).toLowerCase())) throw new RangeError(`The encoding "${label}" is not supported`);
      this.fatal = Boolean(options.fatal);
      this.ignoreBOM = Boolean(options.ignoreBOM);
    }
    get encoding() { return "utf-8"; }
    decode(input = new Uint8Array()) {
      const bytes = input instanceof ArrayBuffer ? new Uint8Array(input) : new Uint8Array(input.buffer, input.byteOffset, input.byteLength);
      let out = "", i = 0;
      if (!this.ignoreBOM && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) i = 3;
      const bad = () => {
        if (this.fatal) throw new TypeError("The encoded data was not valid utf-8");
        return "\ufffd";
      };
      while (i < bytes.length) {
        const b = bytes[i];
        let need, code;
        if (b < 0x80) { out += String.fromCharCode(b); i += 1; continue; }
        if (b >= 0xc2 && b <= 0xdf) { need = 1; code = b & 0x1f; }
        else if (b >= 0xe0 && b <= 0xef) { need = 2; code = b & 0x0f; }
        else if (b >= 0xf0 && b <= 0xf4) { need = 3; code = b & 0x07; }
        else { out += bad(); i += 1; continue; }
        let k = 1;
        for (; k <= need; k++) {
          const c = bytes[i + k];
          if (c === undefined || (c & 0xc0) !== 0x80) break;
          code = (code << 6) | (c & 0x3f);
        }
        const overlong = (need === 2 && code < 0x800) || (need === 3 && code < 0x10000);
        if (k <= need || overlong || (code >= 0xd800 && code <= 0xdfff) || code > 0x10ffff) { out += bad(); i += 1; continue; }
        out += String.fromCodePoint(code);
        i += need + 1;
      }
      return out;
    }
  }
  const B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  function btoa(data) {
    const text = String(data);
    if (/[^\x00-\xff]/.test(text)) throw new Error("InvalidCharacterError: btoa() takes characters in the Latin1 range");
    let out = "";
    for (let i = 0; i < text.length; i += 3) {
      const [a, b, c] = [text.charCodeAt(i), text.charCodeAt(i + 1), text.charCodeAt(i + 2)];
      out += B64[a >> 2] + B64[((a & 3) << 4) | (b >> 4 || 0)] + (i + 1 < text.length ? B64[((b & 15) << 2) | (c >> 6 || 0)] : "=") + (i + 2 < text.length ? B64[c & 63] : "=");
    }
    return out;
  }
  function atob(data) {
    const text = String(data).replace(/[\t\n\f\r ]/g, "");
    if (text.length % 4 === 1 || /[^A-Za-z0-9+/=]/.test(text) || /=[^=]/.test(text)) throw new Error("InvalidCharacterError: atob() takes a base64 string");
    let out = "", bits = 0, value = 0;
    for (const ch of text.replace(/=+$/, "")) {
      value = (value << 6) | B64.indexOf(ch);
      bits += 6;
      if (bits >= 8) { bits -= 8; out += String.fromCharCode((value >> bits) & 0xff); }
    }
    return out;
  }
  function structuredClone(value, seen = new Map()) {
    if (value === null || (typeof value !== "object" && typeof value !== "function")) {
      if (typeof value === "symbol") throw new Error("DataCloneError: a Symbol could not be cloned");
      return value;
    }
    if (typeof value === "function") throw new Error(`DataCloneError: ${value.name || "function"} could not be cloned`);
    if (seen.has(value)) return seen.get(value);
    let copy;
    if (value instanceof RealDate) copy = new RealDate(value.getTime());
    else if (value instanceof RegExp) copy = new RegExp(value.source, value.flags);
    else if (value instanceof ArrayBuffer) copy = value.slice(0);
    else if (ArrayBuffer.isView(value)) copy = new value.constructor(value);
    else if (value instanceof Map) { copy = new Map(); seen.set(value, copy); for (const [k, v] of value) copy.set(structuredClone(k, seen), structuredClone(v, seen)); return copy; }
    else if (value instanceof Set) { copy = new Set(); seen.set(value, copy); for (const v of value) copy.add(structuredClone(v, seen)); return copy; }
    else if (value instanceof Error) copy = new value.constructor(value.message);
    else if (Array.isArray(value)) { copy = []; seen.set(value, copy); value.forEach((v, i) => { copy[i] = structuredClone(v, seen); }); return copy; }
    else { copy = {}; seen.set(value, copy); for (const key of Object.keys(value)) copy[key] = structuredClone(value[key], seen); return copy; }
    seen.set(value, copy);
    return copy;
  }
  // Random bytes: seeded (deterministic) in queries and mutations, as Convex's runtime makes them;
  // from the operating system in actions.
  let secureRandom = false;
  const crypto = {
    getRandomValues(array) {
      if (!ArrayBuffer.isView(array) || array instanceof Float32Array || array instanceof Float64Array) throw new TypeError("getRandomValues takes an integer typed array");
      if (array.byteLength > 65536) throw new Error("QuotaExceededError: getRandomValues takes at most 65536 bytes");
      const bytes = new Uint8Array(array.buffer, array.byteOffset, array.byteLength);
      if (secureRandom) {
        const random = atob(JSON.parse(call("convexpy/randomBytes", JSON.stringify({ n: bytes.length }))));
        for (let i = 0; i < bytes.length; i++) bytes[i] = random.charCodeAt(i);
      } else {
        for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
      }
      return array;
    },
    randomUUID() {
      const b = crypto.getRandomValues(new Uint8Array(16));
      b[6] = (b[6] & 0x0f) | 0x40;
      b[8] = (b[8] & 0x3f) | 0x80;
      const hex = [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
      return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
    },
  };
  Object.assign(global, { TextEncoder, TextDecoder, btoa, atob, structuredClone, crypto });
  global.queueMicrotask = (callback) => { Promise.resolve().then(callback); };

  // URL and URLSearchParams: absolute URLs with a scheme, relative ones against a base, and
  // form-encoded queries (the parts of WHATWG URL that functions use).
  const formDecode = (text) => decodeURIComponent(text.replace(/\+/g, " "));
  const formEncode = (text) => encodeURIComponent(text).replace(/%20/g, "+").replace(/[!'()~]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  class URLSearchParams {
    constructor(init = "") {
      this._pairs = [];
      this._onChange = null;
      if (typeof init === "string") this._parse(init);
      else if (init instanceof URLSearchParams) this._pairs = init._pairs.map(([key, value]) => [key, value]);
      else if (init && typeof init[Symbol.iterator] === "function") for (const [key, value] of init) this._pairs.push([String(key), String(value)]);
      else if (init && typeof init === "object") this._pairs = Object.entries(init).map(([key, value]) => [key, String(value)]);
    }
    _parse(text) {
      this._pairs = [];
      for (const part of (text.startsWith("?") ? text.slice(1) : text).split("&")) {
        if (!part) continue;
        const at = part.indexOf("=");
        this._pairs.push(at < 0 ? [formDecode(part), ""] : [formDecode(part.slice(0, at)), formDecode(part.slice(at + 1))]);
      }
    }
    _changed() { if (this._onChange) this._onChange(this.toString()); }
    get size() { return this._pairs.length; }
    append(key, value) { this._pairs.push([String(key), String(value)]); this._changed(); }
    delete(key) { this._pairs = this._pairs.filter(([k]) => k !== String(key)); this._changed(); }
    get(key) { const found = this._pairs.find(([k]) => k === String(key)); return found ? found[1] : null; }
    getAll(key) { return this._pairs.filter(([k]) => k === String(key)).map(([, v]) => v); }
    has(key) { return this._pairs.some(([k]) => k === String(key)); }
    set(key, value) {
      const at = this._pairs.findIndex(([k]) => k === String(key));
      if (at < 0) this._pairs.push([String(key), String(value)]);
      else this._pairs = this._pairs.filter(([k], i) => k !== String(key) || i === at).map((pair, i) => (i === at ? [pair[0], String(value)] : pair));
      this._changed();
    }
    sort() { this._pairs.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)); this._changed(); }
    forEach(callback) { for (const [key, value] of this._pairs) callback(value, key, this); }
    entries() { return this._pairs.map(([k, v]) => [k, v])[Symbol.iterator](); }
    keys() { return this._pairs.map(([k]) => k)[Symbol.iterator](); }
    values() { return this._pairs.map(([, v]) => v)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
    toString() { return this._pairs.map(([k, v]) => `${formEncode(k)}=${formEncode(v)}`).join("&"); }
  }
  const URL_PARTS = /^([a-zA-Z][a-zA-Z0-9+.-]*):(?:\/\/(?:([^:@\/?#]*)(?::([^@\/?#]*))?@)?(\[[^\]]*\]|[^:\/?#]*)(?::(\d*))?)?([^?#]*)(\?[^#]*)?(#.*)?$/;
  const DEFAULT_PORTS = { "http:": "80", "https:": "443", "ws:": "80", "wss:": "443" };
  function removeDots(path) {
    const out = [];
    for (const segment of path.split("/")) {
      if (segment === "..") { if (out.length > 1) out.pop(); }
      else if (segment !== ".") out.push(segment);
    }
    const joined = out.join("/");
    return /\/\.\.?$/.test(path) && !joined.endsWith("/") ? joined + "/" : joined;
  }
  class URL {
    constructor(input, base) {
      let text = String(input).trim();
      if (!/^[a-zA-Z][a-zA-Z0-9+.-]*:/.test(text)) {
        if (base === undefined) throw new TypeError(`Invalid URL: ${input}`);
        const b = base instanceof URL ? base : new URL(base);
        if (text.startsWith("//")) text = b.protocol + text;
        else if (text.startsWith("/")) text = b.origin + text;
        else if (text.startsWith("?")) text = b.origin + b.pathname + text;
        else if (text.startsWith("#")) text = b.origin + b.pathname + b.search + text;
        else text = b.origin + b.pathname.replace(/[^/]*$/, "") + text;
      }
      const m = URL_PARTS.exec(text);
      if (!m) throw new TypeError(`Invalid URL: ${input}`);
      this.protocol = m[1].toLowerCase() + ":";
      this.username = m[2] || "";
      this.password = m[3] || "";
      this.hostname = (m[4] || "").toLowerCase();
      this.port = m[5] && m[5] !== DEFAULT_PORTS[this.protocol] ? m[5] : "";
      if ((this.protocol === "http:" || this.protocol === "https:") && !this.hostname) throw new TypeError(`Invalid URL: ${input}`);
      const path = removeDots(m[6] || "");
      this.pathname = path || (m[4] !== undefined ? "/" : "");
      this.hash = m[8] && m[8] !== "#" ? m[8] : "";
      this._search = m[7] && m[7] !== "?" ? m[7] : "";
      this.searchParams = new URLSearchParams(this._search);
      this.searchParams._onChange = (query) => { this._search = query ? "?" + query : ""; };
    }
    get search() { return this._search; }
    set search(value) { const text = String(value); this._search = text && text !== "?" ? (text.startsWith("?") ? text : "?" + text) : ""; this.searchParams._parse(this._search); }
    get host() { return this.port ? `${this.hostname}:${this.port}` : this.hostname; }
    get origin() { return this.hostname ? `${this.protocol}//${this.host}` : "null"; }
    get href() {
      const auth = this.username ? `${this.username}${this.password ? ":" + this.password : ""}@` : "";
      return (this.hostname ? `${this.protocol}//${auth}${this.host}` : this.protocol) + this.pathname + this.search + this.hash;
    }
    toString() { return this.href; }
    toJSON() { return this.href; }
  }
  Object.assign(global, { URL, URLSearchParams });

  // --- actions only: timers and fetch (queries and mutations must be deterministic) ------------
  let inAction = false;
  function requireAction(name) {
    if (!inAction) throw new Error(`${name} is not allowed in queries and mutations (they must be deterministic); call it from an action.`);
  }
  let timers = [];
  let nextTimerId = 1;
  global.setTimeout = (callback, delay = 0, ...args) => {
    requireAction("setTimeout");
    const id = nextTimerId++;
    timers.push({ id, due: RealDate.now() + Math.max(0, Number(delay) || 0), callback, args });
    return id;
  };
  global.clearTimeout = (id) => { timers = timers.filter((timer) => timer.id !== id); };
  global.setInterval = (callback, delay = 0, ...args) => {
    requireAction("setInterval");
    const id = nextTimerId++;
    const period = Math.max(1, Number(delay) || 0);
    const tick = () => { timers.push({ id, due: RealDate.now() + period, callback: () => { tick(); callback(...args); }, args: [] }); };
    tick();
    return id;
  };
  global.clearInterval = global.clearTimeout;

  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init.forEach((value, key) => this.append(key, value));
      else if (Array.isArray(init)) init.forEach(([key, value]) => this.append(key, value));
      else if (init) Object.entries(init).forEach(([key, value]) => this.append(key, value));
    }
    append(key, value) {
      const name = String(key).toLowerCase();
      this._map.set(name, this._map.has(name) ? `${this._map.get(name)}, ${value}` : String(value));
    }
    set(key, value) { this._map.set(String(key).toLowerCase(), String(value)); }
    get(key) { return this._map.has(String(key).toLowerCase()) ? this._map.get(String(key).toLowerCase()) : null; }
    has(key) { return this._map.has(String(key).toLowerCase()); }
    delete(key) { this._map.delete(String(key).toLowerCase()); }
    forEach(callback) { for (const [key, value] of this._map) callback(value, key, this); }
    entries() { return this._map.entries(); }
    keys() { return this._map.keys(); }
    values() { return this._map.values(); }
    [Symbol.iterator]() { return this._map.entries(); }
  }
  function bodyBytes(body) {
    if (body === undefined || body === null) return null;
    if (typeof body === "string") return new TextEncoder().encode(body);
    if (body instanceof ArrayBuffer) return new Uint8Array(body);
    if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
    throw new TypeError("fetch() takes a string, ArrayBuffer or typed array body");
  }
  class Response {
    constructor(body = null, init = {}) {
      this._bytes = bodyBytes(body) ?? new Uint8Array();
      this.status = init.status ?? 200;
      this.statusText = init.statusText ?? "";
      this.headers = new Headers(init.headers);
      this.url = init.url ?? "";
      this.bodyUsed = false;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    async arrayBuffer() { this.bodyUsed = true; return this._bytes.slice().buffer; }
    async text() { this.bodyUsed = true; return new TextDecoder().decode(this._bytes); }
    async json() { return JSON.parse(await this.text()); }
  }
  class Request {
    constructor(input, init = {}) {
      this.url = input instanceof Request ? input.url : String(input);
      this.method = (init.method ?? (input instanceof Request ? input.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers ?? (input instanceof Request ? input.headers : undefined));
      this._bytes = bodyBytes(init.body) ?? (input instanceof Request ? input._bytes : null);
    }
    async text() { return this._bytes ? new TextDecoder().decode(this._bytes) : ""; }
    async json() { return JSON.parse(await this.text()); }
  }
  function toBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
    return btoa(text);
  }
  async function fetch(input, init = {}) {
    requireAction("fetch");
    const request = new Request(input, init);
    const answer = JSON.parse(call("convexpy/fetch", JSON.stringify({
      url: request.url, method: request.method, headers: [...request.headers], body: request._bytes ? toBase64(request._bytes) : null,
    })));
    if (answer.error) throw new TypeError(`fetch failed: ${answer.error}`);
    const raw = atob(answer.body);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return new Response(bytes, { status: answer.status, statusText: answer.statusText, headers: answer.headers, url: answer.url });
  }
  Object.assign(global, { Headers, Request, Response, fetch });

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
    // What http.js, crons.js and auth.config.js declare, as the reference backend reads them:
    // the router's routes, the crons' specs, the auth providers. {ok, value} or {ok: false, message}.
    analyzeConfig(path) {
      try {
        const value = load(path).default;
        let config = null;
        if (path === "http.js") {
          if (!value || !value.isRouter || typeof value.getRoutes !== "function") throw new Error("The default export of `convex/http.js` is not a Router.");
          config = { httpRoutes: value.getRoutes().map(([routePath, method]) => ({ route: { path: routePath, method }, pos: null })) };
        } else if (path === "crons.js") {
          if (!value || !value.isCrons || typeof value.export !== "function") throw new Error("The default export of `convex/crons.js` is not a Crons object.");
          config = { cronSpecs: JSON.parse(value.export()) };
        } else if (path === "auth.config.js") {
          const exported = JSON.parse(JSON.stringify(value ?? {}));
          config = { authProviders: Array.isArray(exported.providers) ? exported.providers : [] };
        }
        return ascii(JSON.stringify({ ok: true, value: config }));
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
      secureRandom = inAction = udfType === "Action";
      timers = [];
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
    // Milliseconds until the next timer is due, or -1 when none is set.
    nextTimer() {
      if (!timers.length) return -1;
      return Math.max(0, Math.min(...timers.map((timer) => timer.due)) - RealDate.now());
    },
    // Fire every timer that is due, earliest first (their promises settle in the checkpoint after).
    runTimers() {
      const now = RealDate.now();
      const due = timers.filter((timer) => timer.due <= now).sort((a, b) => a.due - b.due);
      timers = timers.filter((timer) => timer.due > now);
      for (const timer of due) timer.callback(...timer.args);
    },
  };
  Object.defineProperty(global, "__convex", { value: entry, enumerable: false });
})(globalThis);
