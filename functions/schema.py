"""The Yellow Pages schema of the Shift Platform (seeds 000 and 001).

Every table carries ``sid``, the platform's 8-character nanoid, indexed
``by_sid``: the stores look records up by it and never see ``_id``.
"""

from convexpy import define_schema, define_table, v

SERVICE_FIELDS = {
    "sid": v.string(),
    "name": v.string(),
    "owner": v.string(),
    "system": v.string(),
    "language": v.string(),
    "description": v.optional(v.string()),
    "tags": v.optional(v.array(v.string())),
}

schema = define_schema(
    {
        "yp_services": define_table(SERVICE_FIELDS)
        .index("by_sid", ["sid"])
        .index("by_name", ["name"]),
        "yp_systems": define_table(
            {"sid": v.string(), "name": v.string(), "owner": v.optional(v.string()), "description": v.optional(v.string())}
        )
        .index("by_sid", ["sid"])
        .index("by_name", ["name"]),
        "yp_owners": define_table(
            {"sid": v.string(), "name": v.string(), "email": v.optional(v.string()), "team": v.optional(v.string())}
        )
        .index("by_sid", ["sid"])
        .index("by_name", ["name"]),
    }
)
