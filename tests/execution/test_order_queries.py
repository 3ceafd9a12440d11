"""GetOrder / ListOrders read orders without side effects, role-checked, with their fills; ids stay unique
over restarts of the same data dir."""

import grpc
import pytest

from execution.proto.gen import oem_daemon_v1_pb2 as pb
from tests.execution.daemon_world import World, traded_world


@pytest.fixture
def running(tmp_path):
    world = traded_world(tmp_path)
    daemon = world.start()
    yield world, daemon, world.stub(daemon.port)
    daemon.stop(0)


def _get(world, stub, cid, who="alice", roles=("operator",)):
    return stub.GetOrder(pb.GetOrderRequest(client_order_id=cid), metadata=world.md(who, roles), timeout=5)


def test_get_order_returns_the_order_with_its_fills(running):
    world, _daemon, stub = running
    order = _get(world, stub, "order-0")
    assert order.status == "FILLED" and order.owner == "alice" and order.filled_qty == 0.5
    assert len(order.fills) == 1 and order.fills[0].seq >= 1 and order.fills[0].fill_id


def test_get_order_of_an_unknown_id_is_not_found(running):
    world, _daemon, stub = running
    with pytest.raises(grpc.RpcError) as caught:
        _get(world, stub, "no-such-order")
    assert caught.value.code() is grpc.StatusCode.NOT_FOUND


def test_get_order_of_another_operators_order_is_permission_denied(running):
    world, daemon, _stub = running
    bob = world.stub(daemon.port, "bob")
    with pytest.raises(grpc.RpcError) as caught:
        _get(world, bob, "order-0", who="bob")
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    admin = world.stub(daemon.port, "root-admin")
    assert _get(world, admin, "order-0", who="root-admin", roles=("admin",)).owner == "alice"


def test_get_order_does_not_change_or_place_anything(running):
    world, daemon, stub = running
    before = world.journal.read_bytes()
    with pytest.raises(grpc.RpcError):
        _get(world, stub, "never-placed")
    _get(world, stub, "order-1")
    assert world.journal.read_bytes() == before and daemon.core.open_orders() == 0


def test_list_orders_pages_through_own_orders_with_filters(running):
    world, daemon, stub = running
    world.submit(world.stub(daemon.port, "bob"), "bobs-order", who="bob")
    world.submit(stub, "resting", order_type="limit", limit_price=0.049)
    seen, token = [], ""
    while True:
        page = stub.ListOrders(
            pb.ListOrdersRequest(page_size=2, page_token=token), metadata=world.md(), timeout=5
        )
        seen += [o.client_order_id for o in page.orders]
        token = page.next_page_token
        if not token:
            break
    assert sorted(seen) == ["order-0", "order-1", "order-2", "resting"]
    open_only = stub.ListOrders(pb.ListOrdersRequest(status=["ACKED"]), metadata=world.md(), timeout=5)
    assert [o.client_order_id for o in open_only.orders] == ["resting"]
    assert open_only.fill_seq == daemon.core.fill_log.head
    other_symbol = stub.ListOrders(pb.ListOrdersRequest(symbol="LTC/BTC"), metadata=world.md(), timeout=5)
    assert list(other_symbol.orders) == []


def test_list_orders_refuses_another_owner_and_a_forged_page_token(running):
    world, _daemon, stub = running
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOrders(pb.ListOrdersRequest(owner="bob"), metadata=world.md(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.PERMISSION_DENIED
    with pytest.raises(grpc.RpcError) as caught:
        forged = pb.ListOrdersRequest(page_token="eyJwaGFzZSI6Im5vIn0")
        stub.ListOrders(forged, metadata=world.md(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as caught:
        stub.ListOrders(pb.ListOrdersRequest(status=["DONE"]), metadata=world.md(), timeout=5)
    assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


def test_fill_and_venue_order_ids_are_unique_across_three_restarts(tmp_path):
    world = traded_world(tmp_path, orders=2)
    for start in range(3):
        daemon = world.start()
        try:
            stub = world.stub(daemon.port)
            for n in range(3):
                assert world.submit(stub, f"restart-{start}-{n}").status == "FILLED"
        finally:
            daemon.stop(0)
    daemon = world.start()
    try:
        stub = world.stub(daemon.port)
        orders = stub.ListOrders(pb.ListOrdersRequest(page_size=500), metadata=world.md(), timeout=5).orders
    finally:
        daemon.stop(0)
    assert len(orders) == 11
    fills = [f for o in orders for f in o.fills]
    assert len({f.fill_id for f in fills}) == len(fills) == 11
    assert len({o.venue_order_id for o in orders}) == 11
    assert sorted(f.seq for f in fills) == list(range(1, 12))


def test_list_orders_is_reachable_with_the_viewer_role_only(running):
    world, _daemon, stub = running
    page = stub.ListOrders(pb.ListOrdersRequest(), metadata=world.md("alice", ("viewer",)), timeout=5)
    assert len(page.orders) == 3


def test_world_journal_path_is_the_paper_journal(running):
    world, _daemon, _stub = running
    assert isinstance(world, World) and world.journal.exists()
