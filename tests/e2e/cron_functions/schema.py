from convexpy import define_schema, define_table, v

schema = define_schema({"ticks": define_table({"cron": v.string(), "at": v.number()}).index("by_cron", ["cron"])})
