// What `npx convex codegen` generates, reduced to the references these functions use.
import { anyApi } from "convex/server";
export const api: any = anyApi;
