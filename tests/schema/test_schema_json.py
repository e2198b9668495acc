"""The schema JSON a TypeScript push sends round-trips: tables, validators, indexes, and the search
and vector index definitions convexpy stores without building them yet."""

from __future__ import annotations

from convexpy.schema import SchemaDefinition

PUSHED = {
    "tables": [{
        "tableName": "activity",
        "indexes": [{"indexDescriptor": "by_org", "fields": ["organizationId"]}],
        "searchIndexes": [{"indexDescriptor": "search_what", "searchField": "what", "filterFields": ["organizationId"]}],
        "vectorIndexes": [{"indexDescriptor": "by_embedding", "vectorField": "embedding", "dimensions": 2, "filterFields": []}],
        "documentType": {"type": "object", "value": {"what": {"fieldType": {"type": "string"}, "optional": False},
                                                     "organizationId": {"fieldType": {"type": "string"}, "optional": False}}},
    }],
    "schemaValidation": True,
}


def test_a_pushed_schema_keeps_its_search_and_vector_index_definitions():
    schema = SchemaDefinition.from_json(PUSHED)
    table = schema.to_json()["tables"][0]
    assert table["searchIndexes"] == PUSHED["tables"][0]["searchIndexes"]
    assert table["vectorIndexes"] == PUSHED["tables"][0]["vectorIndexes"]
    assert SchemaDefinition.from_json(schema.to_json()).fingerprint() == schema.fingerprint()
    without = {**PUSHED, "tables": [{**PUSHED["tables"][0], "searchIndexes": [], "vectorIndexes": []}]}
    assert SchemaDefinition.from_json(without).fingerprint() != schema.fingerprint()  # a change a push must apply
