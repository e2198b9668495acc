// Module state shared by two function modules: esbuild puts it in a _deps chunk, and the
// importers must see `count` change (ES modules' live bindings).
export let count = 0;
export function bump(): number {
  count += 1;
  return count;
}
