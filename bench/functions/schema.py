from convexpy import define_schema, define_table, v

schema = define_schema(
    {
        "events": define_table({"channel": v.string(), "n": v.number()}).index("by_channel", ["channel"]),
        "services": define_table({"sid": v.string(), "name": v.string(), "owner": v.string()}).index("by_sid", ["sid"]),
        "accounts": define_table({"name": v.string(), "balance": v.number()}).index("by_name", ["name"]),
        "transfers": define_table({"key": v.string(), "from": v.string(), "to": v.string(), "amount": v.number()}),
        "small": define_table({"n": v.number(), "label": v.string()}),
        "done": define_table({"n": v.number(), "scheduledAt": v.number(), "ranAt": v.number()}),
    }
)
