// The JavaScript guest's runtime: what Convex's bundled `convex/server` library expects of its
// host (the `Convex` global), a loader for the rewritten modules (convexpy/js/modules.py), and the
// entry points the Python side calls (analyze, invoke). Loaded once into every fresh context.
//
// Every string that crosses to Python is ASCII: the V8 binding mangles characters outside the
// Basic Multilingual Plane in both directions, so JSON crossing it escapes everything non-ASCII.
"use strict";

(function (global) {
  const host = global.__convex_host;
  const shared = global.__convex_shared;
  delete global.__convex_host;
  delete global.__convex_shared;

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
  global.console = shared.makeConsole(() => logLines);

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
  // process.env: the deployment's environment variables (never the server's), one syscall a read;
  // in queries and mutations the read is part of the transaction, so a change re-runs them.
  const env = new Proxy(Object.create(null), {
    get: (_, name) => (typeof name === "string" ? JSON.parse(call("environmentVariables/get", JSON.stringify({ name }))) ?? undefined : undefined),
    has: (_, name) => typeof name === "string" && JSON.parse(call("environmentVariables/get", JSON.stringify({ name }))) !== null,
    set: () => { throw new TypeError("process.env is read-only here: set variables with `npx convex env set`"); },
    deleteProperty: () => false,
    ownKeys: () => [],
  });
  global.process = { env };

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
  // --- Web Crypto: crypto.subtle, computed by the runner (convexpy/runtime/js/subtle.py) --------
  // A CryptoKey's material stays here, hidden in a WeakMap, and travels with each operation: the
  // runner keeps no key state, so a key made at a module's top level works in every call.
  class DOMException extends Error {
    constructor(message = "", name = "Error") {
      super(message);
      this.name = name;
    }
  }
  function viewBytes(data, what) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data);
    if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    throw new TypeError(`${what} must be an ArrayBuffer or a typed array`);
  }
  function bytesToBase64(bytes) {
    let text = "";
    for (let i = 0; i < bytes.length; i += 8192) text += String.fromCharCode.apply(null, bytes.subarray(i, i + 8192));
    return btoa(text);
  }
  function base64ToBytes(text) {
    const raw = atob(text);
    const bytes = new Uint8Array(raw.length);
    for (let i = 0; i < raw.length; i++) bytes[i] = raw.charCodeAt(i);
    return bytes;
  }
  const ALGORITHMS = ["SHA-1", "SHA-256", "SHA-384", "SHA-512", "HMAC", "AES-GCM", "AES-CBC", "AES-CTR", "ECDSA",
    "RSASSA-PKCS1-v1_5", "RSA-PSS", "RSA-OAEP", "Ed25519", "PBKDF2", "HKDF"];
  function algorithmName(name) {
    const known = ALGORITHMS.find((candidate) => candidate.toUpperCase() === String(name).toUpperCase());
    if (known === undefined) throw new DOMException(`Unrecognized algorithm name: ${name}`, "NotSupportedError");
    return known;
  }
  function normalizeAlgorithm(algorithm) {
    const normalized = typeof algorithm === "string" ? { name: algorithm } : { ...algorithm };
    if (normalized.name === undefined) throw new TypeError("An algorithm needs a name");
    normalized.name = algorithmName(normalized.name);
    if (normalized.hash !== undefined) normalized.hash = algorithmName(typeof normalized.hash === "string" ? normalized.hash : normalized.hash.name);
    for (const field of ["iv", "additionalData", "salt", "info", "label", "counter", "publicExponent"]) {
      if (normalized[field] !== undefined) normalized[field] = bytesToBase64(viewBytes(normalized[field], field));
    }
    return normalized;
  }
  const keyMaterial = new WeakMap();
  class CryptoKey {
    constructor() { throw new TypeError("Illegal constructor"); }
  }
  function makeKey(descriptor, extractable, usages) {
    const key = Object.create(CryptoKey.prototype);
    const algorithm = { ...descriptor.algorithm };
    if (algorithm.publicExponent !== undefined) algorithm.publicExponent = base64ToBytes(algorithm.publicExponent);
    Object.defineProperties(key, {
      type: { value: descriptor.type, enumerable: true }, extractable: { value: Boolean(extractable), enumerable: true },
      algorithm: { value: Object.freeze(algorithm), enumerable: true }, usages: { value: Object.freeze([...usages]), enumerable: true },
    });
    keyMaterial.set(key, descriptor);
    return key;
  }
  function keyFor(key, usage, name) {
    const descriptor = keyMaterial.get(key);
    if (descriptor === undefined) throw new TypeError("Expected a CryptoKey");
    if (!key.usages.includes(usage)) throw new DOMException(`The key's usages do not include "${usage}"`, "InvalidAccessError");
    if (name !== undefined && descriptor.algorithm.name !== name) {
      throw new DOMException(`The key is a ${descriptor.algorithm.name} key, not a ${name} one`, "InvalidAccessError");
    }
    return descriptor;
  }
  function subtleOp(method, payload) {
    const answer = JSON.parse(call("convexpy/subtle", JSON.stringify({ method, ...payload })));
    if (answer.error) throw new DOMException(answer.error.message, answer.error.name);
    return answer;
  }
  const promised = (compute) => (...args) => {
    try {
      return Promise.resolve(compute(...args));
    } catch (error) {
      return Promise.reject(error);
    }
  };
  const PUBLIC_USAGES = ["verify", "encrypt", "wrapKey"];
  const HASH_BLOCK_BITS = { "SHA-1": 512, "SHA-256": 512, "SHA-384": 1024, "SHA-512": 1024 };
  const subtle = {
    digest: promised((algorithm, data) =>
      base64ToBytes(subtleOp("digest", { algorithm: normalizeAlgorithm(algorithm), data: bytesToBase64(viewBytes(data, "data")) }).data).buffer),
    importKey: promised((format, keyData, algorithm, extractable, usages = []) => {
      const data = format === "jwk" ? keyData : bytesToBase64(viewBytes(keyData, "keyData"));
      const descriptor = subtleOp("importKey", { format, keyData: data, algorithm: normalizeAlgorithm(algorithm) });
      return makeKey(descriptor, extractable, usages);
    }),
    exportKey: promised((format, key) => {
      const descriptor = keyMaterial.get(key);
      if (descriptor === undefined) throw new TypeError("Expected a CryptoKey");
      if (!key.extractable) throw new DOMException("The key is not extractable", "InvalidAccessError");
      const answer = subtleOp("exportKey", { format, key: descriptor });
      if (format !== "jwk") return base64ToBytes(answer.data).buffer;
      const jwk = { ...answer.jwk, key_ops: [...key.usages], ext: true };
      if (jwk.alg == null) delete jwk.alg;
      return jwk;
    }),
    generateKey: promised((algorithm, extractable, usages = []) => {
      const answer = subtleOp("generateKey", { algorithm: normalizeAlgorithm(algorithm) });
      if (answer.key) return makeKey(answer.key, extractable, usages);
      return {
        publicKey: makeKey(answer.publicKey, true, usages.filter((usage) => PUBLIC_USAGES.includes(usage))),
        privateKey: makeKey(answer.privateKey, extractable, usages.filter((usage) => !PUBLIC_USAGES.includes(usage))),
      };
    }),
    sign: promised((algorithm, key, data) => {
      const normalized = normalizeAlgorithm(algorithm);
      return base64ToBytes(subtleOp("sign", { algorithm: normalized, key: keyFor(key, "sign", normalized.name),
        data: bytesToBase64(viewBytes(data, "data")) }).data).buffer;
    }),
    verify: promised((algorithm, key, signature, data) => {
      const normalized = normalizeAlgorithm(algorithm);
      return subtleOp("verify", { algorithm: normalized, key: keyFor(key, "verify", normalized.name),
        signature: bytesToBase64(viewBytes(signature, "signature")), data: bytesToBase64(viewBytes(data, "data")) }).valid;
    }),
    encrypt: promised((algorithm, key, data) => {
      const normalized = normalizeAlgorithm(algorithm);
      return base64ToBytes(subtleOp("encrypt", { algorithm: normalized, key: keyFor(key, "encrypt", normalized.name),
        data: bytesToBase64(viewBytes(data, "data")) }).data).buffer;
    }),
    decrypt: promised((algorithm, key, data) => {
      const normalized = normalizeAlgorithm(algorithm);
      return base64ToBytes(subtleOp("decrypt", { algorithm: normalized, key: keyFor(key, "decrypt", normalized.name),
        data: bytesToBase64(viewBytes(data, "data")) }).data).buffer;
    }),
    deriveBits: promised((algorithm, baseKey, length, usage = "deriveBits") => {
      const normalized = normalizeAlgorithm(algorithm);
      return base64ToBytes(subtleOp("deriveBits", { algorithm: normalized, key: keyFor(baseKey, usage, normalized.name), length }).data).buffer;
    }),
    deriveKey: promised(async (algorithm, baseKey, derivedKeyType, extractable, usages = []) => {
      const type = normalizeAlgorithm(derivedKeyType);
      const length = type.length ?? (type.name === "HMAC" ? HASH_BLOCK_BITS[type.hash] : undefined);
      if (length === undefined) throw new DOMException(`The derived ${type.name} key needs a length`, "OperationError");
      const bits = await subtle.deriveBits(algorithm, baseKey, length, "deriveKey");
      return subtle.importKey("raw", bits, derivedKeyType, extractable, usages);
    }),
  };
  crypto.subtle = subtle;
  Object.assign(global, { DOMException, CryptoKey });
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

  // Events and aborting: EventTarget, Event, AbortController and AbortSignal (fetch honours one).
  class Event {
    constructor(type, init = {}) {
      this.type = String(type);
      this.bubbles = Boolean(init.bubbles);
      this.cancelable = Boolean(init.cancelable);
      this.defaultPrevented = false;
      this.target = null;
      this.timeStamp = RealDate.now();
    }
    preventDefault() { if (this.cancelable) this.defaultPrevented = true; }
    stopPropagation() {}
    stopImmediatePropagation() { this._stopped = true; }
  }
  class EventTarget {
    constructor() { Object.defineProperty(this, "_listeners", { value: new Map() }); }
    addEventListener(type, listener, options = {}) {
      if (!listener) return;
      const list = this._listeners.get(type) ?? [];
      if (!list.some((entry) => entry.listener === listener)) list.push({ listener, once: Boolean(options && options.once) });
      this._listeners.set(type, list);
    }
    removeEventListener(type, listener) {
      this._listeners.set(type, (this._listeners.get(type) ?? []).filter((entry) => entry.listener !== listener));
    }
    dispatchEvent(event) {
      event.target = this;
      const handler = this[`on${event.type}`];
      if (typeof handler === "function") handler.call(this, event);
      for (const entry of [...(this._listeners.get(event.type) ?? [])]) {
        if (entry.once) this.removeEventListener(event.type, entry.listener);
        if (typeof entry.listener === "function") entry.listener.call(this, event);
        else entry.listener.handleEvent(event);
        if (event._stopped) break;
      }
      return !event.defaultPrevented;
    }
  }
  class AbortSignal extends EventTarget {
    constructor(key) {
      if (key !== ABORT_KEY) throw new TypeError("Illegal constructor");
      super();
      this.aborted = false;
      this.reason = undefined;
      this.onabort = null;
    }
    throwIfAborted() { if (this.aborted) throw this.reason; }
    _abort(reason) {
      if (this.aborted) return;
      this.aborted = true;
      this.reason = reason === undefined ? new DOMException("This operation was aborted", "AbortError") : reason;
      this.dispatchEvent(new Event("abort"));
    }
    static abort(reason) {
      const signal = new AbortSignal(ABORT_KEY);
      signal._abort(reason);
      return signal;
    }
    static timeout(ms) {
      const signal = new AbortSignal(ABORT_KEY);
      global.setTimeout(() => signal._abort(new DOMException("The operation timed out.", "TimeoutError")), ms);
      return signal;
    }
    static any(signals) {
      const signal = new AbortSignal(ABORT_KEY);
      for (const source of signals) {
        if (source.aborted) { signal._abort(source.reason); break; }
        source.addEventListener("abort", () => signal._abort(source.reason), { once: true });
      }
      return signal;
    }
  }
  const ABORT_KEY = Symbol("AbortSignal");
  class AbortController {
    constructor() { this.signal = new AbortSignal(ABORT_KEY); }
    abort(reason) { this.signal._abort(reason); }
  }
  Object.assign(global, { Event, EventTarget, AbortController, AbortSignal });

  // Blob, File and FormData: bytes held whole (bodies are not streamed).
  class Blob {
    constructor(parts = [], options = {}) {
      const chunks = [];
      for (const part of parts) {
        if (part instanceof Blob) chunks.push(part._bytes);
        else if (part instanceof ArrayBuffer || ArrayBuffer.isView(part)) chunks.push(viewBytes(part, "A Blob part").slice());
        else chunks.push(new TextEncoder().encode(String(part)));
      }
      const bytes = new Uint8Array(chunks.reduce((total, chunk) => total + chunk.length, 0));
      let at = 0;
      for (const chunk of chunks) { bytes.set(chunk, at); at += chunk.length; }
      Object.defineProperty(this, "_bytes", { value: bytes });
      this.type = /^[\x20-\x7e]*$/.test(String(options.type ?? "")) ? String(options.type ?? "").toLowerCase() : "";
    }
    get size() { return this._bytes.length; }
    slice(start = 0, end = this.size, type = "") {
      const clamp = (at) => (at < 0 ? Math.max(this.size + at, 0) : Math.min(at, this.size));
      return new Blob([this._bytes.slice(clamp(start), clamp(end))], { type });
    }
    async arrayBuffer() { return this._bytes.slice().buffer; }
    async bytes() { return this._bytes.slice(); }
    async text() { return new TextDecoder().decode(this._bytes); }
    get [Symbol.toStringTag]() { return "Blob"; }
  }
  class File extends Blob {
    constructor(parts, name, options = {}) {
      super(parts, options);
      this.name = String(name);
      this.lastModified = options.lastModified ?? RealDate.now();
    }
    get [Symbol.toStringTag]() { return "File"; }
  }
  class FormData {
    constructor() { Object.defineProperty(this, "_entries", { value: [] }); }
    static _entry(name, value, filename) {
      if (value instanceof Blob) {
        const file = value instanceof File && filename === undefined ? value : new File([value], filename ?? (value instanceof File ? value.name : "blob"), { type: value.type });
        return [String(name), file];
      }
      return [String(name), String(value)];
    }
    append(name, value, filename) { this._entries.push(FormData._entry(name, value, filename)); }
    set(name, value, filename) {
      const entry = FormData._entry(name, value, filename);
      const at = this._entries.findIndex(([key]) => key === entry[0]);
      this.delete(entry[0]);
      this._entries.splice(at < 0 ? this._entries.length : at, 0, entry);
    }
    get(name) { const found = this._entries.find(([key]) => key === String(name)); return found ? found[1] : null; }
    getAll(name) { return this._entries.filter(([key]) => key === String(name)).map(([, value]) => value); }
    has(name) { return this._entries.some(([key]) => key === String(name)); }
    delete(name) {
      for (let i = this._entries.length - 1; i >= 0; i--) if (this._entries[i][0] === String(name)) this._entries.splice(i, 1);
    }
    forEach(callback) { for (const [key, value] of this._entries) callback(value, key, this); }
    entries() { return this._entries[Symbol.iterator](); }
    keys() { return this._entries.map(([key]) => key)[Symbol.iterator](); }
    values() { return this._entries.map(([, value]) => value)[Symbol.iterator](); }
    [Symbol.iterator]() { return this.entries(); }
  }
  Object.assign(global, { Blob, File, FormData });

  class Headers {
    constructor(init) {
      this._map = new Map();
      if (init instanceof Headers) init.forEach((value, key) => this.append(key, value));
      else if (init && typeof init[Symbol.iterator] === "function") for (const [key, value] of init) this.append(key, value);
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
  // A body as bytes and the Content-Type it implies, as fetch() extracts one.
  function extractBody(body) {
    if (body === undefined || body === null) return { bytes: null, type: null };
    if (typeof body === "string") return { bytes: new TextEncoder().encode(body), type: "text/plain;charset=UTF-8" };
    if (body instanceof Blob) return { bytes: body._bytes, type: body.type || null };
    if (body instanceof ArrayBuffer || ArrayBuffer.isView(body)) return { bytes: viewBytes(body, "A body").slice(), type: null };
    if (body instanceof URLSearchParams) return { bytes: new TextEncoder().encode(body.toString()), type: "application/x-www-form-urlencoded;charset=UTF-8" };
    if (body instanceof FormData) {
      const boundary = `----convexpyFormBoundary${bytesToBase64(crypto.getRandomValues(new Uint8Array(12))).replace(/[+/=]/g, "x")}`;
      const escape = (text) => text.replace(/\r/g, "%0D").replace(/\n/g, "%0A").replace(/"/g, "%22");
      const parts = [];
      for (const [name, value] of body) {
        if (value instanceof File) {
          parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${escape(name)}"; filename="${escape(value.name)}"\r\n` +
            `Content-Type: ${value.type || "application/octet-stream"}\r\n\r\n`, value, "\r\n");
        } else {
          parts.push(`--${boundary}\r\nContent-Disposition: form-data; name="${escape(name)}"\r\n\r\n${value.replace(/\r?\n|\r/g, "\r\n")}\r\n`);
        }
      }
      parts.push(`--${boundary}--\r\n`);
      return { bytes: new Blob(parts)._bytes, type: `multipart/form-data; boundary=${boundary}` };
    }
    throw new TypeError("A body must be a string, ArrayBuffer, typed array, Blob, URLSearchParams or FormData (streams are not supported)");
  }
  function parseFormData(bytes, contentType) {
    const form = new FormData();
    const type = (contentType || "").toLowerCase();
    if (type.startsWith("application/x-www-form-urlencoded")) {
      for (const [key, value] of new URLSearchParams(new TextDecoder().decode(bytes))) form.append(key, value);
      return form;
    }
    const boundary = /boundary=(?:"([^"]+)"|([^;]+))/i.exec(contentType || "");
    if (!type.startsWith("multipart/form-data") || !boundary) throw new TypeError("The body is not form data (multipart/form-data or application/x-www-form-urlencoded)");
    const latin1 = (view) => { let text = ""; for (let i = 0; i < view.length; i += 8192) text += String.fromCharCode.apply(null, view.subarray(i, i + 8192)); return text; };
    const raw = latin1(bytes), delimiter = `--${boundary[1] || boundary[2].trim()}`;
    for (const section of raw.split(delimiter).slice(1)) {
      if (section.startsWith("--")) break;
      const split = section.indexOf("\r\n\r\n");
      if (split < 0) continue;
      const head = section.slice(2, split), content = section.slice(split + 4, section.endsWith("\r\n") ? -2 : undefined);
      const name = /name="([^"]*)"/i.exec(head), filename = /filename="([^"]*)"/i.exec(head), partType = /content-type:\s*([^\r\n]+)/i.exec(head);
      if (!name) continue;
      const contentBytes = Uint8Array.from(content, (c) => c.charCodeAt(0));
      if (filename) form.append(name[1], new File([contentBytes], filename[1], { type: partType ? partType[1] : "" }));
      else form.append(name[1], new TextDecoder().decode(contentBytes));
    }
    return form;
  }
  // What Request and Response share: a body read once, in any of the forms fetch() offers.
  class Body {
    _consume() {
      if (this.bodyUsed) throw new TypeError("The body has already been read");
      this.bodyUsed = true;
      return this._bytes ?? new Uint8Array();
    }
    async arrayBuffer() { return this._consume().slice().buffer; }
    async bytes() { return this._consume().slice(); }
    async text() { return new TextDecoder().decode(this._consume()); }
    async json() { return JSON.parse(await this.text()); }
    async blob() { return new Blob([this._consume()], { type: this.headers.get("content-type") ?? "" }); }
    async formData() { return parseFormData(this._consume(), this.headers.get("content-type")); }
  }
  function withBody(target, body, headers) {
    const { bytes, type } = extractBody(body);
    target._bytes = bytes;
    if (type !== null && !headers.has("content-type")) headers.set("content-type", type);
  }
  class Response extends Body {
    constructor(body = null, init = {}) {
      super();
      this.status = init.status ?? 200;
      if (this.status < 200 || this.status > 599) throw new RangeError(`The status ${this.status} is outside 200-599`);
      this.statusText = init.statusText ?? "";
      this.headers = new Headers(init.headers);
      this.url = init.url ?? "";
      this.redirected = false;
      this.type = "default";
      this.bodyUsed = false;
      withBody(this, body, this.headers);
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    clone() {
      if (this.bodyUsed) throw new TypeError("A used body cannot be cloned");
      return new Response(this._bytes, { status: this.status, statusText: this.statusText, headers: this.headers, url: this.url });
    }
    static json(data, init = {}) {
      const headers = new Headers(init.headers);
      if (!headers.has("content-type")) headers.set("content-type", "application/json");
      return new Response(JSON.stringify(data), { ...init, headers });
    }
    static redirect(url, status = 302) {
      return new Response(null, { status, headers: { location: new URL(String(url)).href } });
    }
    static error() {
      const response = new Response(null, { status: 200 });
      response.status = 0;
      response.type = "error";
      return response;
    }
  }
  class Request extends Body {
    constructor(input, init = {}) {
      super();
      const from = input instanceof Request ? input : null;
      this.url = from ? from.url : new URL(String(input)).href;
      this.method = String(init.method ?? (from ? from.method : "GET")).toUpperCase();
      this.headers = new Headers(init.headers ?? (from ? from.headers : undefined));
      this.signal = init.signal ?? (from ? from.signal : null);
      this.redirect = init.redirect ?? (from ? from.redirect : "follow");
      this.bodyUsed = false;
      if (init.body !== undefined && init.body !== null) {
        if (this.method === "GET" || this.method === "HEAD") throw new TypeError("A GET or HEAD request cannot have a body");
        withBody(this, init.body, this.headers);
      } else {
        this._bytes = from ? from._bytes : null;
      }
    }
    clone() { return new Request(this); }
  }
  async function fetch(input, init = {}) {
    requireAction("fetch");
    const request = new Request(input, init);
    if (request.signal && request.signal.aborted) throw request.signal.reason;
    const answer = JSON.parse(call("convexpy/fetch", JSON.stringify({
      url: request.url, method: request.method, headers: [...request.headers], body: request._bytes ? bytesToBase64(request._bytes) : null,
    })));
    if (request.signal && request.signal.aborted) throw request.signal.reason;
    if (answer.error) throw new TypeError(`fetch failed: ${answer.error}`);
    const response = new Response(base64ToBytes(answer.body), { status: answer.status, statusText: answer.statusText, headers: answer.headers, url: answer.url });
    response.redirected = answer.url !== request.url;
    return response;
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
  const loadErrors = new Map();  // a module that threw as it loaded throws the same error on every import
  function load(path) {
    if (loadErrors.has(path)) throw loadErrors.get(path);
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
    try {
      factory((specifier) => load(resolve(path, specifier)), dynamicImport, { url: `convex:/${path}` }, define);
    } catch (error) {
      loadErrors.set(path, error);
      throw error;
    }
    return namespace;
  }

  // --- entry points for the host ----------------------------------------------------------------
  const userFrame = (line) => line.includes("convex:/") && !line.includes("convex:/_deps/") && !line.includes("convex:/_runtime.js");
  const describeError = (error) => shared.describeError(error, userFrame);

  const entry = {
    register(path, factory) {
      factories.set(path, factory);
    },
    // Evaluate a module (and its imports) ahead of a call, so that loading is not the call's time;
    // an error is kept and thrown by the call that imports it.
    preload(path) {
      try {
        load(path);
      } catch (error) {
        // recorded in loadErrors
      }
    },
    // The exports of every function module, as the reference backend's analysis sees them.
    // Answers {ok, functions} or {ok: false, message}: a module that throws as it loads is the
    // push's error, worded as Convex words an uncaught error.
    analyze(path) {
      try {
        const functions = shared.exportedFunctions(load(path));
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
