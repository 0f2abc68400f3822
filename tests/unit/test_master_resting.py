"""The master's resting orders (actors/master/resting.py) through the USD-M adapter's `handle`:
what each ORDER_TRADE_UPDATE publishes, in Binance's event shapes (user-data-streams
"Event: Order Update": x NEW / AMENDMENT / CANCELED / EXPIRED / TRADE)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from actors.binance.endpoints import Endpoints
from actors.binance.signing import make_signer
from actors.binance.wire import BinanceFuturesOrder, BinanceFuturesOrderTradeUpdate, convert
from actors.master.outputs import Fill, Order
from actors.master.usdm import UsdmAdapter, UsdmRest
from tests.unit.test_master_state_futures import account, risk

D = Decimal


def adapter(position: str = "0", ps: str = "BOTH", orders: list[BinanceFuturesOrder] | None = None) -> UsdmAdapter:
    a = UsdmAdapter(Endpoints.local("127.0.0.1:1"), make_signer("HMAC", "k", "s"))
    a.rebuild(UsdmRest(ps != "BOTH", [risk(side=ps, amt=position, update=50)], account(), orders or []))
    return a


def event(x: str, status: str, *, qty: str = "0.2", price: str = "60000", filled: str = "0", last: str = "0", **over: Any) -> Any:
    o: dict[str, Any] = {
        "s": "BTCUSDT",
        "c": "web_limit1",
        "S": "BUY",
        "o": "LIMIT",
        "f": "GTC",
        "q": qty,
        "p": price,
        "x": x,
        "X": status,
        "i": 7001,
        "l": last,
        "z": filled,
        "L": price if D(last) else "0",
        "T": 1000,
        "t": 0,
        "R": False,
        "ps": "BOTH",
    }
    o.update(over)
    return convert({"e": "ORDER_TRADE_UPDATE", "E": o["T"] + 1, "T": o["T"], "o": o}, BinanceFuturesOrderTradeUpdate)


def only_order(outputs: list[Any]) -> Order:
    assert len(outputs) == 1 and isinstance(outputs[0], Order), outputs
    return outputs[0]


def test_a_limit_order_placed_amended_and_canceled_publishes_each_step_with_the_position_then() -> None:
    a = adapter(position="0.5")

    placed = only_order(a.handle(event("NEW", "NEW"), 1))
    assert placed.action == "placed"
    o = placed.order
    assert (o.side, o.price, o.orig_qty, o.time_in_force) == ("BUY", D("60000"), D("0.2"), "GTC")
    assert placed.order.position_at_place == D("0.5") and placed.fields["position"] == D("0.5")
    assert a.snapshot_fields()["open_orders"] == (placed.order,)

    amended = only_order(a.handle(event("AMENDMENT", "NEW", qty="0.3", price="59900", T=1001), 2))
    assert amended.action == "amended" and (amended.order.price, amended.order.orig_qty) == (D("59900"), D("0.3"))
    assert amended.order.position_at_place == D("0.5")  # the base of a reducing order's fraction stays

    canceled = only_order(a.handle(event("CANCELED", "CANCELED", qty="0.3", price="59900", T=1002), 3))
    assert canceled.action == "canceled" and canceled.order.order_id == 7001
    assert a.snapshot_fields()["open_orders"] == ()
    assert a.handle(event("CANCELED", "CANCELED", T=1003), 4) == []  # a second cancel: nothing left to tell


def test_fills_of_a_resting_order_are_fills_and_the_one_that_fills_it_ends_it() -> None:
    a = adapter()
    only_order(a.handle(event("NEW", "NEW"), 1))

    part = a.handle(event("TRADE", "PARTIALLY_FILLED", filled="0.05", last="0.05", t=11, T=1001), 2)
    assert [type(o) for o in part] == [Fill] and part[0].fields["order_type"] == "LIMIT"
    assert a.snapshot_fields()["open_orders"][0].cum_qty == D("0.05")

    rest = a.handle(event("TRADE", "FILLED", filled="0.2", last="0.15", t=12, T=1002), 3)
    assert [type(o) for o in rest] == [Fill] and rest[0].fields["status"] == "FILLED"
    assert a.snapshot_fields()["open_orders"] == ()


def test_an_expired_order_after_partial_fills_ends_with_what_filled() -> None:
    a = adapter()
    a.handle(event("NEW", "NEW", f="GTX"), 1)
    a.handle(event("TRADE", "PARTIALLY_FILLED", filled="0.05", last="0.05", t=11, T=1001, f="GTX"), 2)

    expired = only_order(a.handle(event("EXPIRED", "EXPIRED", filled="0.05", T=1002, f="GTX"), 3))

    assert expired.action == "expired" and expired.order.cum_qty == D("0.05")
    assert expired.fields["position"] == D("0.05")


def test_market_and_conditional_orders_publish_no_resting_order() -> None:
    a = adapter()
    assert a.handle(event("NEW", "NEW", o="MARKET", f="GTC", p="0"), 1) == []
    assert a.handle(event("NEW", "NEW", o="STOP_MARKET", sp="59000"), 2) == []
    assert a.handle(event("NEW", "NEW", f=None), 3) == []  # no time in force: not an order we can copy
    assert a.snapshot_fields()["open_orders"] == ()


def test_a_rebuild_takes_rests_open_orders_and_an_older_amendment_changes_nothing() -> None:
    rest_order = convert(
        {
            "symbol": "BTCUSDT",
            "orderId": 7001,
            "clientOrderId": "web_limit1",
            "status": "PARTIALLY_FILLED",
            "side": "SELL",
            "type": "LIMIT",
            "positionSide": "LONG",
            "price": "61000",
            "origQty": "0.4",
            "executedQty": "0.1",
            "reduceOnly": True,
            "timeInForce": "GTC",
            "updateTime": 2000,
        },
        BinanceFuturesOrder,
    )
    a = adapter(position="0.9", ps="LONG", orders=[rest_order])
    (order,) = a.snapshot_fields()["open_orders"]
    assert (order.side, order.position_side, order.reduce_only, order.cum_qty, order.position_at_place) == (
        "SELL",
        "LONG",
        True,
        D("0.1"),
        D("0.9"),
    )

    # buffered before the rebuild read it: the NEW and an older amendment are already in REST's answer
    assert a.handle(event("NEW", "NEW", S="SELL", ps="LONG", R=True, T=1500), 1) == []
    assert a.handle(event("AMENDMENT", "PARTIALLY_FILLED", S="SELL", ps="LONG", R=True, price="60500", T=1999), 2) == []
    assert a.snapshot_fields()["open_orders"] == (order,)

    newer = only_order(a.handle(event("AMENDMENT", "PARTIALLY_FILLED", S="SELL", ps="LONG", R=True, price="60800", T=2001), 3))
    assert newer.order.price == D("60800") and newer.order.position_at_place == D("0.9")


def test_a_cancel_of_an_order_never_seen_open_publishes_nothing() -> None:
    assert adapter().handle(event("CANCELED", "CANCELED"), 1) == []
