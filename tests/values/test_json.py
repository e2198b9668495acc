from __future__ import annotations

import math

import pytest
from hypothesis import given, settings

from convexpy.errors import InvalidValueError
from convexpy.values import json as cjson
from convexpy.values import sortkey
from convexpy.values.model import Int64, normalize, normalize_sized, size_of

from .test_sortkey import values


def test_encoded_forms_match_the_spec():
    assert cjson.to_json(Int64(1)) == {"$integer": "AQAAAAAAAAA="}
    assert cjson.to_json(Int64(-1)) == {"$integer": "//////////8="}
    assert cjson.to_json(-0.0) == {"$float": "AAAAAAAAAIA="}
    assert cjson.to_json(math.inf) == {"$float": "AAAAAAAA8H8="}
    assert cjson.to_json(-math.inf) == {"$float": "AAAAAAAA8P8="}
    assert cjson.to_json(math.nan) == {"$float": "AAAAAAAA+H8="}
    assert cjson.to_json(b"\x00\x10\x83") == {"$bytes": "ABCD"}


def test_floats_are_written_as_floats():
    assert cjson.dumps({"b": 1.0, "a": 3}) == b'{"a":3.0,"b":1.0}'


def test_json_integers_decode_as_floats():
    assert cjson.loads(b'{"n": 1}') == {"n": 1.0}
    assert isinstance(cjson.loads(b"1"), float)


def test_clean_format():
    assert cjson.to_clean_json({"i": Int64(5), "n": math.nan, "b": b"\x01"}) == {"i": "5", "n": "NaN", "b": "AQ=="}


@pytest.mark.parametrize(
    "text,message",
    [
        (b'{"$integer": "AQ=="}', "Int64 must be exactly eight bytes"),
        (b'{"$float": "AAAAAAAA8D8="}', "should be encoded as a number"),
        (b'{"$set": []}', "starts with a '$'"),
    ],
)
def test_bad_encodings_are_refused(text, message):
    with pytest.raises(InvalidValueError, match=message.replace("$", r"\$")):
        cjson.loads(text)


def test_plain_ints_must_be_safe():
    assert normalize(2**53 - 1) == float(2**53 - 1)
    with pytest.raises(InvalidValueError, match="wrap it in Int64"):
        normalize(2**60)


@settings(max_examples=500, deadline=None)
@given(values)
def test_one_walk_normalizes_and_measures_like_two(value):
    normalized, size = normalize_sized(value)
    assert sortkey.encode(normalized) == sortkey.encode(normalize(value))  # byte-exact, NaN included
    assert size == size_of(normalize(value))
