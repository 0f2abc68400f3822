"""Cross margin OCO order lists in the simulator, through Binance's official `binance-sdk-margin-trading`
(`margin_account_new_oco`, `query_margin_accounts_oco`, `query_margin_accounts_open_oco`,
`margin_account_cancel_oco`): the older OCO form (a LIMIT_MAKER at `price`, a stop at `stopPrice`),
one lock for the pair, MARGIN_BUY borrowing the shortfall when placed."""

from __future__ import annotations

from decimal import Decimal

import pytest

pytest.importorskip("binance_sdk_margin_trading")

from binance_common.errors import BadRequestError  # noqa: E402

from tests.compat.test_margin_sdk import assets, margin_client  # noqa: E402
from tests.helpers.sim import SimProcess  # noqa: E402


def test_a_short_oco_borrows_when_placed_and_its_limit_maker_fills(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = margin_client(sim, sim.key("slave01"))  # margin: 5000 USDT, no BTC
    placed = rest.margin_account_new_oco(
        symbol="BTCUSDT", side="SELL", quantity=0.05, price=61000, stop_price=59000, stop_limit_price=58900,
        stop_limit_time_in_force="GTC", side_effect_type="MARGIN_BUY", list_client_order_id="m-oco-1",
        limit_client_order_id="m-oco-1-l", stop_client_order_id="m-oco-1-s",
    ).data()  # fmt: skip
    assert (placed.contingency_type, placed.list_order_status, placed.is_isolated) == ("OCO", "EXECUTING", False)
    assert Decimal(placed.margin_buy_borrow_amount) == Decimal("0.05") and placed.margin_buy_borrow_asset == "BTC"
    assert sorted(r.type for r in placed.order_reports) == ["LIMIT_MAKER", "STOP_LOSS_LIMIT"]
    assert assets(rest)["BTC"] == {"free": 0, "locked": Decimal("0.05"), "borrowed": Decimal("0.05"), "net": 0}  # one lock
    assert rest.query_margin_accounts_oco(orig_client_order_id="m-oco-1").data().order_list_id == placed.order_list_id
    assert [ol.order_list_id for ol in rest.query_margin_accounts_open_oco().data()] == [placed.order_list_id]

    sim.set_price("BTCUSDT", "61001")  # the LIMIT_MAKER fills: the stop expires
    legs = {r.client_order_id: rest.query_margin_accounts_order(symbol="BTCUSDT", orig_client_order_id=r.client_order_id).data()
            for r in placed.order_reports}  # fmt: skip
    assert (legs["m-oco-1-l"].status, legs["m-oco-1-s"].status) == ("FILLED", "EXPIRED")
    after = assets(rest)
    assert after["BTC"] == {"free": 0, "locked": 0, "borrowed": Decimal("0.05"), "net": Decimal("-0.05")}
    assert after["USDT"]["free"] == Decimal(5000) + Decimal(3050) * Decimal("0.999")  # 0.05 at 61000, maker 0.1 %
    assert rest.query_margin_accounts_oco(order_list_id=placed.order_list_id).data().list_order_status == "ALL_DONE"
    assert rest.query_margin_accounts_open_oco().data() == []


def test_a_buy_oco_checks_its_prices_and_is_canceled_as_a_list(sim: SimProcess) -> None:
    sim.set_price("BTCUSDT", "60000")
    rest = margin_client(sim, sim.key("slave01"))
    with pytest.raises(BadRequestError, match="relationship of the prices"):  # a BUY: price < last < stopPrice
        rest.margin_account_new_oco(symbol="BTCUSDT", side="BUY", quantity=0.01, price=61000, stop_price=62000)
    with pytest.raises(BadRequestError, match="stopLimitTimeInForce"):
        rest.margin_account_new_oco(symbol="BTCUSDT", side="BUY", quantity=0.01, price=59000, stop_price=61000, stop_limit_price=61100)
    placed = rest.margin_account_new_oco(
        symbol="BTCUSDT", side="BUY", quantity=0.05, price=59000, stop_price=61000, list_client_order_id="m-oco-2"
    ).data()
    assert assets(rest)["USDT"]["locked"] == Decimal(3050)  # what the dearer order needs (the stop at 61000)
    canceled = rest.margin_account_cancel_oco(symbol="BTCUSDT", list_client_order_id="m-oco-2").data()
    assert canceled.list_order_status == "ALL_DONE" and sorted(r.status for r in canceled.order_reports) == ["CANCELED", "CANCELED"]
    assert assets(rest)["USDT"] == {"free": Decimal(5000), "locked": 0, "borrowed": 0, "net": Decimal(5000)}
    with pytest.raises(BadRequestError, match="Unknown order list"):
        rest.margin_account_cancel_oco(symbol="BTCUSDT", order_list_id=placed.order_list_id)
    sim.set_price("BTCUSDT", "61500")  # canceled: the stop never triggers
    assert "BTC" not in assets(rest) and rest.query_margin_accounts_open_orders().data() == []
