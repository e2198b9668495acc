"use node";
import { action } from "./_generated/server";

throw new Error("broken at import");
export const never = action({ handler: async () => 1 });
