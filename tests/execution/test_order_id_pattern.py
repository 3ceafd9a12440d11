"""A client order id is the whole text: one with a trailing newline is not a valid id."""

from __future__ import annotations

import pytest

from execution.core.orders import Order, OrderError


def test_a_client_order_id_with_a_trailing_newline_is_refused():
    Order(client_order_id="b-1", symbol="ETH/BTC", side="buy", qty=0.01)
    with pytest.raises(OrderError, match="client_order_id"):
        Order(client_order_id="b-1\n", symbol="ETH/BTC", side="buy", qty=0.01)
