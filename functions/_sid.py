"""Shared helpers for SID-bridged tables (seed 001): lookups and upserts keyed by ``sid``."""

import secrets

from convexpy import ConvexError

SID_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
SID_LENGTH = 8


def new_sid() -> str:
    """A fresh 8-character nanoid, as the platform's stores make them."""
    return "".join(secrets.choice(SID_ALPHABET) for _ in range(SID_LENGTH))


async def get_by_sid(db, table: str, sid: str):
    return await db.query(table).with_index("by_sid", lambda q: q.eq("sid", sid)).unique()


async def upsert_by_sid(db, table: str, fields: dict) -> dict:
    """Insert, or patch the document with the same ``sid``; a missing sid gets a new nanoid."""
    fields = dict(fields)
    sid = fields.get("sid") or new_sid()
    fields["sid"] = sid
    existing = await get_by_sid(db, table, sid)
    if existing is None:
        doc_id = await db.insert(table, fields)
    else:
        doc_id = existing["_id"]
        await db.patch(doc_id, fields)
    return await db.get(doc_id)


async def remove_by_sid(db, table: str, sid: str) -> bool:
    existing = await get_by_sid(db, table, sid)
    if existing is None:
        return False
    await db.delete(existing["_id"])
    return True


def require(document, what: str, sid: str):
    if document is None:
        raise ConvexError({"code": "NOT_FOUND", "message": f"{what} {sid} not found"})
    return document
