from __future__ import annotations

import pytest

from convexpy.values.ids import DocumentId, InvalidId, try_decode


def test_known_vector():
    doc_id = DocumentId(10001, bytes.fromhex("000102030405060708090a0b0c0d4e20"))
    assert doc_id.encode() == "j57000820c20a1g7104gm2rc1n721a4s"
    assert DocumentId.decode("j57000820c20a1g7104gm2rc1n721a4s") == doc_id


def test_real_backend_id_decodes():
    decoded = DocumentId.decode("jd777hjdbxa16v8yhn33xsr52s7ebzm8")
    assert decoded.table_number == 10003
    assert decoded.internal_id.hex() == "73c64d5f54136d1e8d463ee705164ee5"


@pytest.mark.parametrize("table", [1, 127, 128, 10001, 2**14, 2**21, 2**28, 2**32 - 1])
def test_roundtrip_every_length(table):
    doc_id = DocumentId.new(table)
    assert DocumentId.decode(doc_id.encode()) == doc_id


@pytest.mark.parametrize("bad", ["", "j57000820c20a1g7104gm2rc1n721a4t", "J57000820C20A1G7104GM2RC1N721A4S", "not an id at all, clearly", "j57000820c20a1g7104gm2rc1n721a4"])
def test_rejects_bad_ids(bad):
    with pytest.raises(InvalidId):
        DocumentId.decode(bad)
    assert try_decode(bad) is None
