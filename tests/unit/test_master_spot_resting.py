"""The spot / margin master's resting orders (actors/master/resting.py) through `SpotAdapter.handle`:
what each executionReport publishes, in Binance's event shape (user-data-stream.md "Order
Update": x NEW / CANCELED / REPLACED / EXPIRED / TRADE; enums.md), and the open orders a rebuild
reads (GET /api/v3/openOrders rows)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.binance.endpoints import Endpoints
from actors.binance.signing import make_signer
from actors.binance.wire import BinanceExecutionReport, BinanceSpotAccount, BinanceSpotOrder, convert
from actors.master.outputs import Fill, Order
from actors.master.spot import SpotAdapter, SpotRest
from actors.master.spot_state import SymbolInfo

D = Decimal


def adapter(market: str = "spot", orders: list[dict[str, Any]] | None = None) -> SpotAdapter:
    a = SpotAdapter(market, Endpoints.local("127.0.0.1:1"), make_signer("HMAC", "k", "s"))
    a.state.set_symbols({"BTCUSDT": SymbolInfo("BTC", "USDT")})
    account = convert(
        {"balances": [{"asset": "BTC", "free": "2", "locked": "0"}, {"asset": "USDT", "free": "100000", "locked": "0"}], "updateTime": 500},
        BinanceSpotAccount,
    )
    rows = [convert(o, BinanceSpotOrder) for o in orders or []]
    a.rebuild(SpotRest(account, {"BTCUSDT": D("50000")}, 500, rows))
    return a


def report(x: str, status: str, *, kind: str = "LIMIT", tif: str = "GTC", qty: str = "1", filled: str = "0", last: str = "0", **over: Any):
    e: dict[str, Any] = {
        "e": "executionReport",
        "E": 1000,
        "s": "BTCUSDT",
        "c": "web_1",
        "S": "SELL",
        "o": kind,
        "f": tif,
        "q": qty,
        "p": "50010",
        "x": x,
        "X": status,
        "i": 42,
        "l": last,
        "z": filled,
        "L": "50010" if D(last) else "0",
        "n": "0",
        "N": None,
        "T": 1000,
        "t": 7 if D(last) else -1,
        "Y": str(D(last) * 50010),
    }
    return convert(e | over, BinanceExecutionReport)


def only_order(outputs: list[Any]) -> Order:
    orders = [o for o in outputs if isinstance(o, Order)]
    assert len(orders) == 1, outputs
    return orders[0]


def test_a_limit_placed_filled_in_part_and_canceled_publishes_placed_then_canceled_with_what_filled() -> None:
    a = adapter()
    placed = only_order(a.handle(report("NEW", "NEW"), 1))
    assert placed.action == "placed"
    o = placed.order
    assert (o.symbol, o.position_side, o.side, o.order_type, o.time_in_force, o.price, o.orig_qty) == (
        "BTCUSDT",
        "BOTH",
        "SELL",
        "LIMIT",
        "GTC",
        D("50010"),
        D("1"),
    )
    assert o.position_at_place == D(2) and placed.fields["position"] == D(2)
    out = a.handle(report("TRADE", "PARTIALLY_FILLED", filled="0.4", last="0.4"), 2)
    assert [type(x) for x in out] == [Fill]  # a fill, and nothing for the order
    assert a.snapshot_fields()["open_orders"][0].cum_qty == D("0.4")
    canceled = only_order(a.handle(report("CANCELED", "CANCELED", filled="0.4"), 3))
    assert canceled.action == "canceled" and canceled.order.cum_qty == D("0.4")
    assert a.snapshot_fields()["open_orders"] == ()


def test_the_fill_that_fills_it_ends_it_and_an_amendment_lowers_the_quantity() -> None:
    a = adapter("margin")
    a.handle(report("NEW", "NEW", kind="LIMIT_MAKER"), 1)
    amended = only_order(a.handle(report("REPLACED", "NEW", kind="LIMIT_MAKER", qty="0.6"), 2))  # order.amend.keepPriority
    assert amended.action == "amended" and amended.order.orig_qty == D("0.6") and amended.order.order_type == "LIMIT_MAKER"
    out = a.handle(report("TRADE", "FILLED", kind="LIMIT_MAKER", qty="0.6", filled="0.6", last="0.6"), 3)
    assert [type(x) for x in out][:1] == [Fill] and not any(isinstance(x, Order) for x in out)
    assert a.snapshot_fields()["open_orders"] == ()


def test_orders_that_never_rest_publish_nothing() -> None:
    a = adapter()
    assert a.handle(report("NEW", "NEW", kind="MARKET", tif="GTC"), 1) == []
    assert a.handle(report("NEW", "NEW", tif="IOC", i=43), 1) == []
    assert a.handle(report("NEW", "NEW", kind="STOP_LOSS_LIMIT", i=44), 1) == []
    assert a.handle(report("CANCELED", "CANCELED", i=99), 1) == []  # never seen open


def test_a_rebuild_takes_the_open_orders_rest_lists() -> None:
    row = {
        "symbol": "BTCUSDT",
        "orderId": 42,
        "clientOrderId": "web_1",
        "price": "49990",
        "origQty": "1",
        "executedQty": "0.25",
        "status": "PARTIALLY_FILLED",
        "timeInForce": "GTC",
        "type": "LIMIT",
        "side": "BUY",
        "time": 400,
        "updateTime": 450,
        "isWorking": True,
    }
    a = adapter(orders=[row, row | {"orderId": 43, "type": "STOP_LOSS_LIMIT"}])
    (o,) = a.snapshot_fields()["open_orders"]
    assert (o.order_id, o.side, o.price, o.orig_qty, o.cum_qty, o.position_at_place) == (42, "BUY", D("49990"), D("1"), D("0.25"), D(2))


def test_an_amendment_down_to_what_filled_ends_the_order() -> None:
    a = adapter()
    a.handle(report("NEW", "NEW"), 1)
    a.handle(report("TRADE", "PARTIALLY_FILLED", filled="0.4", last="0.4"), 2)
    done = only_order(a.handle(report("REPLACED", "FILLED", qty="0.4", filled="0.4"), 3))
    assert done.action == "expired" and done.order.cum_qty == D("0.4")
    assert a.snapshot_fields()["open_orders"] == ()


def test_stops_are_published_with_their_stop_price_a_trailing_one_is_not_and_a_repeated_new_changes_nothing() -> None:
    a = adapter(orders=[{"symbol": "BTCUSDT", "orderId": 9, "clientOrderId": "w9", "price": "0", "origQty": "0.5", "executedQty": "0",
                         "status": "NEW", "timeInForce": "GTC", "type": "STOP_LOSS", "side": "SELL", "stopPrice": "48000",
                         "updateTime": 400}])  # fmt: skip
    (rebuilt,) = a.resting.entries()
    assert (rebuilt.order_type, rebuilt.price, rebuilt.stop_price, rebuilt.orig_qty) == ("STOP_LOSS", D(0), D(48000), D("0.5"))
    placed = only_order(a.handle(report("NEW", "NEW", kind="STOP_LOSS_LIMIT", P="49000"), 1))
    assert (placed.action, placed.order.order_type, placed.order.price, placed.order.stop_price) == (
        "placed",
        "STOP_LOSS_LIMIT",
        D("50010"),
        D(49000),
    )
    assert a.handle(report("NEW", "NEW", kind="STOP_LOSS_LIMIT", P="49000", w=True), 2) == []  # triggered: working now
    trailing = report("NEW", "NEW", kind="STOP_LOSS", p="0", P="0", d=100, i=43)
    assert a.handle(trailing, 3) == []  # trailingDelta: its fills are copied as fills
    assert [o.order_id for o in a.resting.entries()] == [9, 42]
