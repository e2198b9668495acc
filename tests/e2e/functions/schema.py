from convexpy import define_schema, define_table, v

schema = define_schema(
    {
        "accounts": define_table({"name": v.string(), "balance": v.number()}).index("by_name", ["name"]),
        "transfers": define_table({"tid": v.string()}).index("by_tid", ["tid"]),
        "messages": define_table({"channel": v.string(), "body": v.string(), "n": v.number()}).index("by_channel", ["channel", "n"]),
        "values": define_table({"value": v.any()}),
        "items": define_table({"tag": v.string(), "rank": v.number(), "note": v.optional(v.string())}).index("by_tag", ["tag"]),
        "notes": define_table({"owner": v.string(), "text": v.string()}).index("by_owner", ["owner"]),
        "marks": define_table({"tag": v.string(), "by": v.string()}).index("by_tag", ["tag"]),
        "shifts": define_table({"ward": v.string(), "doctor": v.string(), "on_call": v.boolean()}).index("by_ward", ["ward"]),
    }
)
