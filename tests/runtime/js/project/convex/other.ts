import { query } from "./_generated/server";
import { count, bump } from "./counter";

// `count` is shadowed inside: only the outer reference is the import.
export const shadowed = query({
  args: {},
  handler: async () => {
    const inner = (count: number) => count * 10;
    bump();
    return { outer: count, inner: inner(7), shorthand: { count } };
  },
});
