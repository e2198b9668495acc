from convexpy import define_schema, define_table, v

schema = define_schema(
    {
        "events": define_table({"channel": v.string(), "n": v.number()}).index("by_channel", ["channel"]),
        "services": define_table({"sid": v.string(), "name": v.string(), "owner": v.string()}).index("by_sid", ["sid"]),
    }
)
