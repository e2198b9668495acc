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
