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
