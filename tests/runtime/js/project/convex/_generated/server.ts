// What `npx convex codegen` generates, reduced to the re-exports these functions use.
export {
  queryGeneric as query,
  mutationGeneric as mutation,
  actionGeneric as action,
  internalQueryGeneric as internalQuery,
  internalMutationGeneric as internalMutation,
} from "convex/server";
