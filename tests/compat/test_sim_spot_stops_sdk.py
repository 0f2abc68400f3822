"""Spot and cross margin stop orders (STOP_LOSS, STOP_LOSS_LIMIT, TAKE_PROFIT, TAKE_PROFIT_LIMIT)
in the simulator, through Binance's official SDKs (binance-sdk-spot, binance-sdk-margin-trading):
placed off the book with their balance locked, refused when they would trigger at once, triggered
by the price (a rise for STOP_LOSS BUY / TAKE_PROFIT SELL, a fall for the others), canceled with
the lock released; the user data's executionReport carries the stop price. Prices move only when
the test sets them (slippage 0)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

pytest.importorskip("binance_sdk_spot")
pytest.importorskip("binance_sdk_margin_trading")

from binance_common.errors import BadRequestError  # noqa: E402
from binance_sdk_spot.spot import Spot  # noqa: E402

from tests.compat.test_margin_sdk import assets, margin_client  # noqa: E402
from tests.compat.test_spot_sdk import balances, dec, rest_client, ws_config  # noqa: E402
from tests.helpers.sim import SimProcess  # noqa: E402
from tests.helpers.wait import aeventually  # noqa: E402


def test_stop_loss_limit_rests_off_the_book_then_triggers_and_fills(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))  # spot: 10000 USDT, 0.5 BTC
    placed = rest.new_order(
        symbol="BTCUSDT",
        side="SELL",
        type="STOP_LOSS_LIMIT",
        time_in_force="GTC",
        quantity=0.2,
        price=58900,
        stop_price=59000,
        new_client_order_id="sl-1",
    ).data()
    assert placed.order_id > 0  # ACK by default for stop types
    open_ = rest.get_open_orders(symbol="BTCUSDT").data()
    assert [(o.type, dec(o.stop_price), o.is_working, o.working_time) for o in open_] == [("STOP_LOSS_LIMIT", Decimal(59000), False, -1)]
    assert balances(rest)["BTC"] == (Decimal("0.3"), Decimal("0.2"))  # locked as a limit order

    sim.set_price("BTCUSDT", "59500")  # above the stop: nothing
    assert rest.get_order(symbol="BTCUSDT", orig_client_order_id="sl-1").data().status == "NEW"
    sim.set_price("BTCUSDT", "58950")  # at or below the stop: working, and it crosses its limit
    done = rest.get_order(symbol="BTCUSDT", orig_client_order_id="sl-1").data()
    assert (done.status, dec(done.executed_qty), done.is_working) == ("FILLED", Decimal("0.2"), True)
    assert dec(done.cummulative_quote_qty) == Decimal("0.2") * 58950  # taker at the price that triggered it
    assert balances(rest)["BTC"] == (Decimal("0.3"), Decimal(0))


def test_market_stops_trigger_on_their_side_and_cancel_releases_the_lock(sim: SimProcess) -> None:
    sim.set_price("ETHUSDT", "3000")
    rest = rest_client(sim, sim.key("master", "HMAC"))  # spot: 100000 USDT, 20 ETH
    tp = rest.new_order(symbol="ETHUSDT", side="SELL", type="TAKE_PROFIT", quantity=2, stop_price=3100, new_order_resp_type="RESULT").data()
    buy_stop = rest.new_order(symbol="ETHUSDT", side="BUY", type="STOP_LOSS", quantity=1, stop_price=3200).data()
    assert tp.status == "NEW"
    assert dec(rest.get_order(symbol="ETHUSDT", order_id=tp.order_id).data().stop_price) == Decimal(3100)
    assert balances(rest)["USDT"][1] == Decimal(3200)  # a BUY market stop locks at its stop price
    with pytest.raises(BadRequestError, match="Order would trigger immediately"):
        rest.new_order(symbol="ETHUSDT", side="SELL", type="STOP_LOSS", quantity=1, stop_price=3050)  # above the market
    with pytest.raises(BadRequestError, match="Trailing stop orders are not supported"):
        rest.new_order(symbol="ETHUSDT", side="SELL", type="STOP_LOSS", quantity=1, trailing_delta=100)
    with pytest.raises(BadRequestError, match="stopPrice"):
        rest.new_order(symbol="ETHUSDT", side="SELL", type="STOP_LOSS", quantity=1)

    sim.set_price("ETHUSDT", "3150")  # the take-profit (above, SELL) triggers; the buy stop at 3200 does not
    sold = rest.get_order(symbol="ETHUSDT", order_id=tp.order_id).data()
    assert (sold.status, dec(sold.executed_qty), dec(sold.cummulative_quote_qty)) == ("FILLED", Decimal(2), Decimal(6300))
    assert rest.get_order(symbol="ETHUSDT", order_id=buy_stop.order_id).data().status == "NEW"
    canceled = rest.delete_order(symbol="ETHUSDT", order_id=buy_stop.order_id).data()
    assert (canceled.status, dec(canceled.stop_price)) == ("CANCELED", Decimal(3200))
    assert balances(rest)["USDT"][1] == 0
    sim.set_price("ETHUSDT", "3300")  # canceled: never triggers
    assert rest.get_order(symbol="ETHUSDT", order_id=buy_stop.order_id).data().status == "CANCELED"


def test_margin_buy_stop_borrows_when_placed(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = margin_client(sim, sim.key("slave01"))  # margin: 5000 USDT
    placed = rest.margin_account_new_order(
        symbol="BTCUSDT",
        side="BUY",
        type="STOP_LOSS_LIMIT",
        time_in_force="GTC",
        quantity=0.1,
        price=61000,
        stop_price=60500,
        side_effect_type="MARGIN_BUY",
        new_order_resp_type="FULL",
    ).data()
    assert Decimal(placed.margin_buy_borrow_amount) == Decimal(1100)  # 6100 locked, 5000 free
    assert assets(rest)["USDT"] == {"free": 0, "locked": Decimal(6100), "borrowed": Decimal(1100), "net": Decimal(5000)}
    sim.set_price("BTCUSDT", "60600")
    after = assets(rest)
    assert after["BTC"]["free"] == Decimal("0.0999")  # bought at 60600 (taker), commission 0.1 %
    assert after["USDT"]["free"] == Decimal(6100) - Decimal(6060)
    assert after["USDT"]["borrowed"] == Decimal(1100)


async def test_executionreport_carries_the_stop_price(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave02", "ED25519")
    conn = await Spot(config_ws_api=ws_config(sim, key, sim.ws_api_url)).websocket_api.create_connection()
    events: list[Any] = []
    try:
        await conn.session_logon()
        sub = await conn.user_data_stream_subscribe()
        sub.stream.on("message", lambda e: events.append(e.actual_instance))
        await conn.order_place(
            symbol="BTCUSDT",
            side="BUY",
            type="TAKE_PROFIT_LIMIT",
            time_in_force="GTC",
            quantity=0.01,
            price=59000,
            stop_price=59100,
            new_client_order_id="tp-ws",
        )

        async def got_new() -> bool:
            return any(type(e).__name__ == "ExecutionReport" and e.c == "tp-ws" and e.x == "NEW" for e in events)

        await aeventually(got_new, timeout=5, what="executionReport NEW of the take-profit")
        report = next(e for e in events if type(e).__name__ == "ExecutionReport" and e.c == "tp-ws")
        assert (report.o, dec(report.P), dec(report.p), report.w) == ("TAKE_PROFIT_LIMIT", Decimal(59100), Decimal(59000), False)
    finally:
        await conn.close_connection(close_session=True)


def test_an_oco_locks_once_one_leg_fills_and_the_other_expires(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))  # 0.5 BTC
    placed = rest.order_list_oco(
        symbol="BTCUSDT", side="SELL", quantity=0.3, above_type="LIMIT_MAKER", above_price=61000, below_type="STOP_LOSS_LIMIT",
        below_price=58900, below_stop_price=59000, below_time_in_force="GTC", list_client_order_id="oco-1",
        above_client_order_id="oco-1-a", below_client_order_id="oco-1-b",
    ).data()  # fmt: skip
    assert (placed.contingency_type, placed.list_status_type, placed.list_order_status) == ("OCO", "EXEC_STARTED", "EXECUTING")
    assert [r.type for r in placed.order_reports] == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    assert balances(rest)["BTC"] == (Decimal("0.2"), Decimal("0.3"))  # one lock for the pair
    assert rest.get_order_list(orig_client_order_id="oco-1").data().order_list_id == placed.order_list_id
    assert [ol.order_list_id for ol in rest.open_order_list().data()] == [placed.order_list_id]
    with pytest.raises(BadRequestError, match="relationship of the prices"):
        rest.order_list_oco(symbol="BTCUSDT", side="SELL", quantity=0.1, above_type="LIMIT_MAKER", above_price=59500,
                            below_type="STOP_LOSS", below_stop_price=59000)  # fmt: skip

    sim.set_price("BTCUSDT", "61001")  # the LIMIT_MAKER fills (0.3 within the step's 0.5): the stop expires
    legs = {o.client_order_id: o for o in rest.all_orders(symbol="BTCUSDT").data()}
    assert (legs["oco-1-a"].status, dec(legs["oco-1-a"].executed_qty), legs["oco-1-a"].order_list_id) == (
        "FILLED",
        Decimal("0.3"),
        placed.order_list_id,
    )
    assert legs["oco-1-b"].status == "EXPIRED"
    assert balances(rest)["BTC"] == (Decimal("0.2"), Decimal(0))
    assert rest.get_order_list(order_list_id=placed.order_list_id).data().list_order_status == "ALL_DONE"
    assert rest.open_order_list().data() == []


def test_an_oco_whose_stop_triggers_and_one_canceled_by_a_leg(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = rest_client(sim, sim.key("slave01", "HMAC"))
    first = rest.order_list_oco(symbol="BTCUSDT", side="SELL", quantity=0.1, above_type="LIMIT_MAKER", above_price=61000,
                                below_type="STOP_LOSS", below_stop_price=59000).data()  # fmt: skip
    sim.set_price("BTCUSDT", "58990")  # the stop triggers and sells at market: the LIMIT_MAKER expires
    maker, stop = (rest.get_order(symbol="BTCUSDT", order_id=o.order_id).data() for o in first.orders)
    assert (maker.status, stop.status, dec(stop.cummulative_quote_qty)) == ("EXPIRED", "FILLED", Decimal("5899"))
    assert balances(rest)["BTC"] == (Decimal("0.4"), Decimal(0))

    second = rest.order_list_oco(symbol="BTCUSDT", side="SELL", quantity=0.1, above_type="TAKE_PROFIT", above_stop_price=59500,
                                 below_type="STOP_LOSS", below_stop_price=58000).data()  # fmt: skip
    canceled = rest.delete_order(symbol="BTCUSDT", order_id=second.orders[1].order_id).data()  # one leg: the list goes
    assert [o.status for o in (rest.get_order(symbol="BTCUSDT", order_id=o.order_id).data() for o in second.orders)] == [
        "CANCELED",
        "CANCELED",
    ]
    assert canceled is not None and balances(rest)["BTC"] == (Decimal("0.4"), Decimal(0))
    with pytest.raises(BadRequestError, match="Unknown order list"):
        rest.delete_order_list(symbol="BTCUSDT", order_list_id=second.order_list_id)


async def test_an_oco_over_the_websocket_api_and_its_list_status_events(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    key = sim.key("slave02", "ED25519")
    conn = await Spot(config_ws_api=ws_config(sim, key, sim.ws_api_url)).websocket_api.create_connection()
    events: list[Any] = []
    try:
        await conn.session_logon()
        sub = await conn.user_data_stream_subscribe()
        sub.stream.on("message", lambda e: events.append(e.actual_instance))
        request = await conn.order_list_place_oco(
            symbol="BTCUSDT", side="BUY", quantity=0.01, above_type="STOP_LOSS", above_stop_price=61000,
            below_type="TAKE_PROFIT", below_stop_price=59000, list_client_order_id="ws-oco",
        )  # fmt: skip
        placed = request.data().result
        status = (await conn.order_list_status(orig_client_order_id="ws-oco")).data().result
        assert status.order_list_id == placed.order_list_id
        await conn.order_list_cancel(symbol="BTCUSDT", list_client_order_id="ws-oco")

        async def got_both() -> bool:
            return [e.l for e in events if type(e).__name__ == "ListStatus"] == ["EXEC_STARTED", "ALL_DONE"]

        await aeventually(got_both, timeout=5, what="listStatus EXEC_STARTED then ALL_DONE")
        legs = [e for e in events if type(e).__name__ == "ExecutionReport"]
        assert {(e.g, e.x) for e in legs} == {(placed.order_list_id, "NEW"), (placed.order_list_id, "CANCELED")}
    finally:
        await conn.close_connection(close_session=True)
