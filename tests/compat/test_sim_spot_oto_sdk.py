"""Spot OTO and OTOCO order lists in the simulator, through Binance's official `binance-sdk-spot`
(REST `order_list_oto` / `order_list_otoco`, WebSocket API `order_list_place_otoco`, user data):
the working order alone on the book, its pending orders PENDING_NEW until it is fully filled, then
on the book (an OTOCO's pair as an OCO), the list canceled by any of its orders."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from binance_sdk_spot.spot import Spot

from tests.compat.test_spot_sdk import balances, dec, rest_client, ws_config
from tests.helpers.sim import SimProcess
from tests.helpers.wait import aeventually


def statuses(rest: Any, orders: Any) -> list[str]:
    return [rest.get_order(symbol="BTCUSDT", order_id=o.order_id).data().status for o in orders]


def test_an_oto_whose_working_order_fills_puts_its_stop_on_the_book(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))  # 0.5 BTC
    usdt = balances(rest)["USDT"][0]
    placed = rest.order_list_oto(
        symbol="BTCUSDT", working_type="LIMIT", working_side="BUY", working_price=59000, working_quantity=0.1,
        working_time_in_force="GTC", pending_type="STOP_LOSS_LIMIT", pending_side="SELL", pending_quantity=0.1,
        pending_price=57900, pending_stop_price=58000, pending_time_in_force="GTC", list_client_order_id="oto-1",
    ).data()  # fmt: skip
    assert (placed.contingency_type, placed.list_order_status) == ("OTO", "EXECUTING")
    assert [(r.type, r.status) for r in placed.order_reports] == [("LIMIT", "NEW"), ("STOP_LOSS_LIMIT", "PENDING_NEW")]
    assert sorted(o.status for o in rest.get_open_orders(symbol="BTCUSDT").data()) == ["NEW", "PENDING_NEW"]
    assert balances(rest)["BTC"] == (Decimal("0.5"), Decimal(0))  # the pending sell locks nothing yet
    assert balances(rest)["USDT"] == (usdt - 5900, Decimal(5900))

    sim.set_price("BTCUSDT", "58990")  # the working buy fills: the stop goes on the book and waits
    assert statuses(rest, placed.orders) == ["FILLED", "NEW"]
    assert balances(rest)["BTC"] == (Decimal("0.4999"), Decimal("0.1"))  # bought 0.1 less 0.1 %; the stop locks 0.1
    assert rest.get_order_list(order_list_id=placed.order_list_id).data().list_order_status == "EXECUTING"

    sim.set_price("BTCUSDT", "57950")  # the stop triggers and its limit sells
    assert statuses(rest, placed.orders) == ["FILLED", "FILLED"]
    assert balances(rest)["BTC"] == (Decimal("0.4999"), Decimal(0))
    assert rest.get_order_list(order_list_id=placed.order_list_id).data().list_order_status == "ALL_DONE"
    assert rest.open_order_list().data() == []


def test_an_otoco_canceled_by_a_pending_order_and_one_refused(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))
    before = balances(rest)
    placed = rest.order_list_otoco(
        symbol="BTCUSDT", working_type="LIMIT_MAKER", working_side="SELL", working_price=61000, working_quantity=0.1,
        pending_side="BUY", pending_quantity=0.1, pending_above_type="STOP_LOSS", pending_above_stop_price=62000,
        pending_below_type="TAKE_PROFIT", pending_below_stop_price=60000,
    ).data()  # fmt: skip
    assert [r.status for r in placed.order_reports] == ["NEW", "PENDING_NEW", "PENDING_NEW"]
    assert balances(rest)["BTC"] == (Decimal("0.4"), Decimal("0.1"))
    canceled = rest.delete_order(symbol="BTCUSDT", order_id=placed.orders[2].order_id).data()  # a pending order: the list goes
    assert canceled is not None and statuses(rest, placed.orders) == ["CANCELED", "CANCELED", "CANCELED"]
    assert balances(rest) == before and rest.open_order_list().data() == []
    with pytest.raises(Exception, match="relationship of the prices"):  # the pair's prices the wrong way round
        rest.order_list_otoco(
            symbol="BTCUSDT", working_type="LIMIT", working_side="SELL", working_price=61000, working_quantity=0.1,
            working_time_in_force="GTC", pending_side="BUY", pending_quantity=0.1, pending_above_type="STOP_LOSS",
            pending_above_stop_price=59000, pending_below_type="TAKE_PROFIT", pending_below_stop_price=60000,
        )  # fmt: skip


async def test_an_otoco_filled_at_once_over_the_websocket_api_and_its_events(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave02", "ED25519")
    conn = await Spot(config_ws_api=ws_config(sim, key, sim.ws_api_url)).websocket_api.create_connection()
    events: list[Any] = []
    try:
        await conn.session_logon()
        sub = await conn.user_data_stream_subscribe()
        sub.stream.on("message", lambda e: events.append(e.actual_instance))
        request = await conn.order_list_place_otoco(
            symbol="BTCUSDT", working_type="LIMIT", working_side="BUY", working_price=60000, working_quantity=0.01,
            working_time_in_force="GTC", pending_side="SELL", pending_quantity=0.009, pending_above_type="LIMIT_MAKER",
            pending_above_price=61000, pending_below_type="STOP_LOSS", pending_below_stop_price=59000,
            list_client_order_id="ws-otoco",
        )  # fmt: skip
        placed = request.data().result
        # the working buy crossed and filled at once (0.00999 BTC after commission: the pending sells
        # 0.009); the reply still shows its pending orders PENDING_NEW
        assert [r.status for r in placed.order_reports] == ["FILLED", "PENDING_NEW", "PENDING_NEW"]
        working, above, below = (o.order_id for o in placed.orders)

        async def activated() -> bool:
            return [e.l for e in events if type(e).__name__ == "ListStatus"] == ["EXEC_STARTED", "EXEC_STARTED"]

        await aeventually(activated, timeout=5, what="listStatus at the placement and at the activation")
        reports = [(e.i, e.x, e.X) for e in events if type(e).__name__ == "ExecutionReport"]
        assert reports == [
            (working, "NEW", "NEW"),
            (working, "TRADE", "FILLED"),
            (above, "NEW", "PENDING_NEW"),
            (below, "NEW", "PENDING_NEW"),
            (above, "NEW", "NEW"),
            (below, "NEW", "NEW"),
        ]
        assert {e.g for e in events if type(e).__name__ == "ExecutionReport"} == {placed.order_list_id}
        sim.set_price("BTCUSDT", "61001")  # the LIMIT_MAKER fills: the stop expires, the list is done

        async def done() -> bool:
            return any(type(e).__name__ == "ListStatus" and e.L == "ALL_DONE" for e in events)

        await aeventually(done, timeout=5, what="listStatus ALL_DONE")
        last = {e.i: (e.X, dec(e.z)) for e in events if type(e).__name__ == "ExecutionReport"}
        assert (last[above], last[below]) == (("FILLED", Decimal("0.009")), ("EXPIRED", Decimal(0)))
    finally:
        await conn.close_connection(close_session=True)
