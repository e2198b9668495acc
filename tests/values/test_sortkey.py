"""The sort-key encoding orders exactly like Convex's value order, across every type."""

from __future__ import annotations

import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from convexpy.values import sortkey
from convexpy.values.model import MAX_INT64, MIN_INT64, Int64

field_names = st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=6).filter(lambda s: not s.startswith("$"))
floats = st.one_of(
    st.floats(allow_nan=False),
    st.sampled_from([0.0, -0.0, math.inf, -math.inf, math.nan, struct.unpack("<d", struct.pack("<Q", 0xFFF8000000000000))[0]]),
)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(MIN_INT64, MAX_INT64).map(Int64),
    floats,
    st.text(max_size=8),
    st.binary(max_size=8),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(field_names, inner, max_size=4)),
    max_leaves=12,
)
with_missing = st.one_of(st.just(sortkey.MISSING), values)


def sign(n: int) -> int:
    return (n > 0) - (n < 0)


@settings(max_examples=3000, deadline=None)
@given(with_missing, with_missing)
def test_encoding_orders_like_convex(a, b):
    expected = sortkey.compare(a, b)
    ka, kb = sortkey.encode(a), sortkey.encode(b)
    assert sign((ka > kb) - (ka < kb)) == expected


@settings(max_examples=1000, deadline=None)
@given(st.lists(with_missing, min_size=1, max_size=3), st.lists(with_missing, min_size=1, max_size=3))
def test_tuples_of_equal_length_order_lexicographically(a, b):
    size = min(len(a), len(b))
    a, b = a[:size], b[:size]
    expected = next((sortkey.compare(x, y) for x, y in zip(a, b) if sortkey.compare(x, y)), 0)
    ka, kb = sortkey.encode_tuple(a), sortkey.encode_tuple(b)
    assert sign((ka > kb) - (ka < kb)) == expected


def test_type_order():
    ordered = [sortkey.MISSING, None, Int64(-5), Int64(0), Int64(7), -math.inf, -1.0, -0.0, 0.0, 2.5, math.inf, math.nan,
               False, True, "", "a", "b", b"", b"\x00", [], [None], {}, {"a": 1.0}]
    keys = [sortkey.encode(value) for value in ordered]
    assert keys == sorted(keys)
    for earlier, later in zip(ordered, ordered[1:]):
        assert sortkey.compare(earlier, later) == -1


def test_successor_bounds_every_extension():
    assert sortkey.successor(b"ab") == b"ac"
    assert sortkey.successor(b"a\xff") == b"b"
    assert sortkey.successor(b"\xff\xff") is None
    assert sortkey.successor(b"") is None
