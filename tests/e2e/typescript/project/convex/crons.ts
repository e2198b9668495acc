// MemberPulse cleans up presence every 5 minutes (seeds/004); crons run once the scheduler lands.
import { cronJobs } from "convex/server";
import { api } from "./_generated/api";

const crons = cronJobs();
crons.interval("presence cleanup", { minutes: 5 }, api.presence.heartbeat, { userId: "cron", organizationId: "cron", currentPage: "/" });
export default crons;
