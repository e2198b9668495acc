import { cronJobs, makeFunctionReference } from "convex/server";

const crons = cronJobs();
crons.interval("clear presence", { minutes: 5 }, makeFunctionReference<"mutation">("yellowpages:upsert"), { sid: "x", name: "x", owner: "x" });
crons.daily("digest", { hourUTC: 7, minuteUTC: 30 }, makeFunctionReference<"mutation">("yellowpages:upsert"));
export default crons;
