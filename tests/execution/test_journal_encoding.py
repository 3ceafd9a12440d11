"""The journal's fast record encoder writes exactly the RFC 8785 bytes of the reference encoder."""

from __future__ import annotations

import math
import struct

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from audit.trust.canonical import StrictJSONError, canonical_bytes
from execution.core.fast_jcs import ecmascript_number, fast_jcs, order_jcs
from execution.core.orders import Fill, Order, OrderStatus

EDGE_FLOATS = [
    0.0,
    -0.0,
    1.0,
    -1.0,
    0.1 + 0.2,
    1e-4,
    9.999999999999999e-05,
    1e-5,
    1.5e-7,
    5e-324,
    1e15,
    1e15 + 0.5,
    1e16,
    2.0**53,
    2.0**53 - 1,
    -(2.0**53),
    1e20,
    1e21,
    1.7976931348623157e308,
    1764434000.123456,
    123456.789,
    0.05,
    0.0015,
    60_000.0,
]

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**53) + 1, max_value=2**53 - 1),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.floats(min_value=1e-4, max_value=1e15),
    st.builds(lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0], st.integers(0, 2**64 - 1)),
    st.text(),
    st.sampled_from(EDGE_FLOATS),
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)


def _same(value) -> None:
    try:
        want = canonical_bytes(value)
    except StrictJSONError:
        with pytest.raises(StrictJSONError):
            fast_jcs(value)
        return
    assert fast_jcs(value) == want


@given(json_values)
@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_fast_encoder_gives_the_reference_bytes_or_the_same_refusal(value):
    _same(value)


@pytest.mark.parametrize("number", EDGE_FLOATS + [math.nan, math.inf, -math.inf, 2**53, -(2**60)])
def test_edge_numbers(number):
    _same(number)
    _same({"qty": number, "fills": [{"price": number}]})


def test_order_records_are_byte_identical():
    order = Order("cid-1", "ETH/BTC", "buy", 0.01, owner='al\u00efce \U0001f600 "q" \\ \n\x01\x7f\u2028')
    order.created_ts = order.updated_ts = 1764434000.123456
    order.transition(OrderStatus.ACKED, ts=1764434000.5)
    order.venue, order.venue_order_id = "paper", "p-1-1"
    order.apply_fill(Fill("paper", "p-1-1", "f-1", 0.004, 0.05, 1e-7, 1764434001.0, seq=7))
    order.apply_fill(Fill("paper", "p-1-1", "f-2", 0.006, 0.0500001, 0.0, 1764434001.25, seq=8))
    for doc in (order.to_dict(), {"event": "ack", "order": order.to_dict(), "ts": 1764434001.25}):
        assert fast_jcs(doc) == canonical_bytes(doc)
    assert order_jcs(order) == canonical_bytes(order.to_dict())  # the journal's field-by-field writer


def test_lone_surrogate_is_refused_like_the_reference():
    with pytest.raises(StrictJSONError):
        fast_jcs({"owner": "\ud800"})


order_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(EDGE_FLOATS),
    st.integers(min_value=-(2**60), max_value=2**60),
)
fills = st.builds(
    Fill,
    venue=st.text(max_size=8),
    venue_order_id=st.text(max_size=8),
    fill_id=st.text(max_size=8),
    qty=order_numbers,
    price=order_numbers,
    fee=order_numbers,
    ts=order_numbers,
    seq=st.integers(min_value=0, max_value=2**60),
)


@given(
    texts=st.lists(st.text(), min_size=3, max_size=3),
    optional=st.lists(st.none() | st.text(max_size=8), min_size=2, max_size=2),
    numbers=st.lists(order_numbers, min_size=5, max_size=5),
    limit=st.none() | order_numbers,
    order_fills=st.lists(fills, max_size=3),
    status=st.sampled_from(list(OrderStatus)),
)
@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
def test_an_order_record_is_written_as_the_reference_encodes_its_dict(
    texts, optional, numbers, limit, order_fills, status
):
    """Every field the journal writes, whatever it holds (odd text, lone surrogates, tiny fees, NaN, ints
    beyond 2**53): the field-by-field writer gives the reference bytes, or the same refusal."""
    order = Order("cid-1", "ETH/BTC", "buy", 0.01)
    order.owner, order.reason, order.symbol = texts
    order.venue, order.venue_order_id = optional
    order.qty, order.filled_qty, order.fees, order.created_ts, order.updated_ts = numbers
    order.limit_price, order.fills, order.status = limit, order_fills, status
    try:
        want = canonical_bytes(order.to_dict())
    except StrictJSONError:
        with pytest.raises(StrictJSONError):
            order_jcs(order)
        return
    assert order_jcs(order) == want


finite_doubles = st.builds(
    lambda bits: struct.unpack("<d", struct.pack("<Q", bits))[0], st.integers(0, 2**64 - 1)
).filter(math.isfinite)


@given(
    st.one_of(finite_doubles, st.sampled_from(EDGE_FLOATS), st.floats(allow_nan=False, allow_infinity=False))
)
@settings(max_examples=2000)
def test_a_double_is_spelled_as_the_reference_spells_it(number):
    assert ecmascript_number(number) == canonical_bytes(number).decode("ascii")


@given(st.text(), st.text(max_size=12), st.integers(min_value=0, max_value=2**60))
@settings(max_examples=300)
def test_the_head_witness_is_written_as_the_reference_encodes_it(cid, event, seq):
    from execution.core.journal import _WITNESS_SIZE, CutRecord, Witness, encode_witness

    witness = Witness(seq, "a" * 96, CutRecord(seq, event, cid, "FILLED"))
    doc = {"seq": seq, "head_hash": "a" * 96, "event": event, "client_order_id": cid, "status": "FILLED"}
    try:
        want = canonical_bytes(doc)
    except StrictJSONError:
        with pytest.raises(StrictJSONError):
            encode_witness(witness)
        return
    assert encode_witness(witness) == want.ljust(_WITNESS_SIZE - 1) + b"\n"
