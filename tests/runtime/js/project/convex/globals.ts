import { query, action } from "./_generated/server";

function sample() {
  const bytes = new TextEncoder().encode("héllo 😀");
  const cloned = structuredClone({ at: new Date(5), tags: new Map([["a", [1, 2]]]), nested: { deep: [1, { x: 2 }] } });
  return {
    bytes: Array.from(bytes),
    text: new TextDecoder().decode(bytes),
    invalid: new TextDecoder().decode(new Uint8Array([0x61, 0xff, 0x62])),
    b64: btoa("hi\u00ff"),
    unb64: atob("aGn/"),
    cloneDate: cloned.at instanceof Date && cloned.at.getTime(),
    cloneMap: cloned.tags.get("a"),
    cloneNested: cloned.nested,
    uuid: crypto.randomUUID(),
    random: Array.from(crypto.getRandomValues(new Uint8Array(4))),
  };
}

export const globalsInQuery = query({ args: {}, handler: async () => sample() });
export const globalsInAction = action({ args: {}, handler: async () => sample() });

export const waitAndFetch = action({
  handler: async (_ctx, args: { url?: string }) => {
    const order: string[] = [];
    setTimeout(() => order.push("late"), 40);
    await new Promise((resolve) => setTimeout(resolve, 20));
    order.push("awaited");
    await new Promise((resolve) => setTimeout(resolve, 40));
    const response = await fetch(args.url as string, { method: "POST", body: JSON.stringify({ hello: "😀" }), headers: { "x-test": "1" } });
    const missing = await fetch(args.url + "/missing");
    let refused = "";
    try {
      await fetch("http://127.0.0.1:9/closed");
    } catch (error) {
      refused = (error as Error).message;
    }
    return { order, status: response.status, ok: response.ok, echo: await response.json(), header: response.headers.get("content-type"),
             missing: missing.status, refused: refused.startsWith("fetch failed") };
  },
});

export const timerInQuery = query({ args: {}, handler: async () => { setTimeout(() => {}, 1); return 1; } });

export const urls = query({
  args: {},
  handler: async () => {
    const url = new URL("https://User:pw@Example.com:443/a/./b/../c?x=1&y=two+words#frag");
    url.searchParams.append("z", "&=");
    const relative = new URL("../d?q=1", "https://example.com/a/b/c");
    const params = new URLSearchParams({ a: "1", b: "x y" });
    params.set("a", "2");
    return {
      href: url.href, host: url.host, origin: url.origin, pathname: url.pathname, search: url.search, hash: url.hash,
      y: url.searchParams.get("y"), relative: relative.href, params: params.toString(), port: new URL("http://h:8080/").port,
      invalid: (() => { try { new URL("no scheme"); return "parsed"; } catch (error) { return (error as Error).constructor.name; } })(),
    };
  },
});

const bytes = (text: string) => new TextEncoder().encode(text);
const hex = (buffer: ArrayBuffer) => Array.from(new Uint8Array(buffer), (b) => b.toString(16).padStart(2, "0")).join("");
const b64 = (buffer: ArrayBuffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)));
const unb64 = (text: string) => Uint8Array.from(atob(text), (c) => c.charCodeAt(0));

// A key made at a module's top level, used by later calls (its material lives in the context).
const moduleKey = crypto.subtle.importKey("raw", bytes("module secret"), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);

export const webCrypto = action({
  handler: async (_ctx, args: { pkcs8: string; spki: string }) => {
    const subtle = crypto.subtle;
    const sha256 = hex(await subtle.digest("SHA-256", bytes("abc")));
    const hmacKey = await subtle.importKey("raw", bytes("key"), { name: "HMAC", hash: { name: "SHA-256" } }, true, ["sign", "verify"]);
    const mac = await subtle.sign("HMAC", hmacKey, bytes("The quick brown fox jumps over the lazy dog"));
    const macValid = await subtle.verify("HMAC", hmacKey, mac, bytes("The quick brown fox jumps over the lazy dog"));
    const macTampered = await subtle.verify("HMAC", hmacKey, mac, bytes("the quick brown fox"));
    const jwk = await subtle.exportKey("jwk", hmacKey);
    const rsa = await subtle.importKey("pkcs8", unb64(args.pkcs8), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, false, ["sign"]);
    const rs256 = b64(await subtle.sign("RSASSA-PKCS1-v1_5", rsa, bytes("header.payload")));
    const rsaPublic = await subtle.importKey("spki", unb64(args.spki), { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" }, true, ["verify"]);
    const rsaValid = await subtle.verify("RSASSA-PKCS1-v1_5", rsaPublic, unb64(rs256), bytes("header.payload"));
    const ec = await subtle.generateKey({ name: "ECDSA", namedCurve: "P-256" }, true, ["sign", "verify"]) as CryptoKeyPair;
    const es256 = await subtle.sign({ name: "ECDSA", hash: "SHA-256" }, ec.privateKey, bytes("signed"));
    const ecValid = await subtle.verify({ name: "ECDSA", hash: "SHA-256" }, ec.publicKey, es256, bytes("signed"));
    const ecPublic = await subtle.exportKey("jwk", ec.publicKey);
    const aes = await subtle.importKey("raw", new Uint8Array(16).fill(7), "AES-GCM", false, ["encrypt", "decrypt"]);
    const iv = new Uint8Array(12).fill(1);
    const sealed = await subtle.encrypt({ name: "AES-GCM", iv, additionalData: bytes("aad") }, aes, bytes("secret text"));
    const opened = new TextDecoder().decode(await subtle.decrypt({ name: "AES-GCM", iv, additionalData: bytes("aad") }, aes, sealed));
    const broken = new Uint8Array(sealed).slice();
    broken[0] ^= 1;
    const tampered = await subtle.decrypt({ name: "AES-GCM", iv, additionalData: bytes("aad") }, aes, broken).then(() => "opened", (e) => e.name);
    const password = await subtle.importKey("raw", bytes("password"), "PBKDF2", false, ["deriveBits", "deriveKey"]);
    const pbkdf2 = hex(await subtle.deriveBits({ name: "PBKDF2", salt: bytes("salt"), iterations: 1, hash: "SHA-1" }, password, 160));
    const derived = await subtle.deriveKey({ name: "PBKDF2", salt: bytes("salt"), iterations: 2, hash: "SHA-256" }, password,
      { name: "AES-GCM", length: 256 }, true, ["encrypt"]);
    const wrongUsage = await subtle.sign("HMAC", await moduleKey, bytes("x")).then(() => subtle.encrypt({ name: "AES-GCM", iv }, derived, bytes("x")))
      .then(() => subtle.sign("HMAC", derived, bytes("x"))).then(() => "signed", (e) => e.name);
    const unknown = await subtle.digest("MD5", bytes("x")).then(() => "digested", (e) => e.name);
    return {
      sha256, mac: hex(mac), macValid, macTampered, jwk, rs256, rsaValid, es256: b64(es256), ecValid, ecPublic, sealed: b64(sealed), opened,
      tampered, pbkdf2, derivedBits: (derived.algorithm as AesKeyAlgorithm).length, wrongUsage, unknown, isKey: derived instanceof CryptoKey,
    };
  },
});

export const webBodies = action({
  args: {},
  handler: async () => {
    const blob = new Blob(["héllo ", new Uint8Array([119, 111]), new Blob(["rld"])], { type: "Text/Plain" });
    const form = new FormData();
    form.append("name", "Ada");
    form.append("upload", new Blob(["file body"], { type: "text/csv" }), "data.csv");
    form.set("name", "Grace");
    const request = new Request("https://example.com/submit", { method: "POST", body: form });
    const parsed = await request.formData();
    const upload = parsed.get("upload") as File;
    const encoded = new Response(new URLSearchParams({ a: "1", b: "x y" }));
    const controller = new AbortController();
    const seen: string[] = [];
    controller.signal.addEventListener("abort", () => seen.push("abort event"));
    controller.abort();
    const aborted = await fetch("http://127.0.0.1:9/never", { signal: controller.signal }).then(() => "fetched", (e) => e.name);
    const json = Response.json({ ok: true }, { status: 201 });
    return {
      size: blob.size, type: blob.type, text: await blob.text(), sliced: await blob.slice(1, 5).text(),
      contentType: request.headers.get("content-type")!.split(";")[0], name: parsed.get("name"), names: [...parsed.keys()],
      uploadName: upload.name, uploadType: upload.type, uploadText: await upload.text(),
      encodedType: encoded.headers.get("content-type"), encodedText: await encoded.text(),
      aborted, seen, signalAborted: controller.signal.aborted,
      jsonStatus: json.status, jsonType: json.headers.get("content-type"), jsonBody: await json.json(),
      reused: await json.text().then(() => "read twice", (e) => e.constructor.name),
      timeoutSignal: AbortSignal.timeout(1000).aborted,
    };
  },
});
