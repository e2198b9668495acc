// What `npx convex codegen` generates, reduced to the re-exports these functions use.
export { actionGeneric as action } from "convex/server";
