"""This folder's crons: one every second (a mutation), one every two seconds (an action), one that fails."""

from convexpy import cron_jobs

from .ticks import tick

crons = cron_jobs()
crons.interval("every second", {"seconds": 1}, tick, {"cron": "every second"})
crons.interval("action every 2 s", {"seconds": 2}, "ticks:tickFromAction")
crons.interval("failing", {"seconds": 1}, "ticks:fails")
crons.daily("digest", {"hourUTC": 7, "minuteUTC": 30}, tick, {"cron": "digest"})
