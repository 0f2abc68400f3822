"""The copy of one resting master order (actors/domain/resting.py): k x what adds, the same fraction
of the slave's position as of the master's for what reduces, the price never more aggressive, the
exchange's LOT_SIZE / PRICE_FILTER / MIN_NOTIONAL, and a Skip naming why when it cannot be copied."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec
import pytest

from actors.binance.orders import order_params
from actors.domain.orders import OrderIntent, Skip
from actors.domain.resting import resting_client_order_id, resting_intent
from protocol.messages import RestingOrder, SlaveConfig
from tests.helpers.mirror import futures_filters

D = Decimal
FILTERS = futures_filters("BTCUSDT", "0.001", "100")
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), orders="mirror")


def order(
    side: str,
    qty: str,
    *,
    ps: str = "BOTH",
    price: str = "50000",
    at_place: str = "0",
    filled: str = "0",
    order_type: str = "LIMIT",
    **over: Any,
) -> RestingOrder:
    return RestingOrder(
        symbol="BTCUSDT",
        position_side=ps,  # type: ignore[arg-type]
        side=side,  # type: ignore[arg-type]
        order_id=42,
        client_order_id="web",
        order_type=order_type,  # type: ignore[arg-type]
        time_in_force="GTC",
        price=D(price),
        orig_qty=D(qty),
        cum_qty=D(filled),
        position_at_place=D(at_place),
        **over,
    )


def copy(o: RestingOrder, held: str = "0", k: str = "0.5", config: SlaveConfig = CONFIG, filters: Any = FILTERS) -> OrderIntent | Skip:
    return resting_intent(o, market="usdm", slave_id="s1", config=config, k=D(k), filters=filters, held=D(held))


def test_an_entry_is_copied_k_times_at_the_masters_price_and_time_in_force() -> None:
    got = copy(order("BUY", "0.3", ps="LONG"))
    assert isinstance(got, OrderIntent)
    assert (got.order_type, got.side, got.position_side, got.qty, got.price, got.time_in_force) == (
        "LIMIT",
        "BUY",
        "LONG",
        D("0.15"),
        D("50000"),
        "GTC",
    )
    assert got.kind == "open" and not got.reduce_only
    assert got.client_order_id == resting_client_order_id("s1", "usdm", "BTCUSDT", 42, "live")


def test_a_hedge_exit_is_the_same_fraction_of_the_slaves_position() -> None:
    # the master sells 0.25 of its 1.0 LONG: a quarter; the slave holds 0.6 (not k x 1.0: it drifted)
    got = copy(order("SELL", "0.25", ps="LONG", at_place="1.0"), held="0.6")
    assert isinstance(got, OrderIntent) and got.qty == D("0.15") and got.kind == "reduce" and not got.reduce_only
    whole = copy(order("SELL", "1.0", ps="LONG", at_place="1.0"), held="0.6")
    assert isinstance(whole, OrderIntent) and whole.qty == D("0.6") and whole.kind == "close"


def test_one_way_a_reduction_is_reduce_only_and_a_flip_adds_k_times_the_excess() -> None:
    reduce = copy(order("SELL", "0.5", at_place="1.0"), held="0.5")
    assert isinstance(reduce, OrderIntent) and reduce.qty == D("0.25") and reduce.reduce_only
    flip = copy(order("SELL", "1.4", at_place="1.0"), held="0.5")  # all of the long, then 0.4 short
    assert isinstance(flip, OrderIntent) and flip.qty == D("0.5") + D("0.2") and not flip.reduce_only and flip.kind == "open"
    only = copy(order("SELL", "1.4", at_place="1.0", reduce_only=True), held="0.5")  # reduce-only: never the excess
    assert isinstance(only, OrderIntent) and only.qty == D("0.5") and only.reduce_only


def test_what_is_left_of_a_partly_filled_order_is_copied() -> None:
    got = copy(order("BUY", "1.0", filled="0.6"))
    assert isinstance(got, OrderIntent) and got.qty == D("0.2")


def test_the_price_is_never_more_aggressive_than_the_masters() -> None:
    coarse = msgspec.structs.replace(FILTERS, tick_size=D("0.5"))
    buy = copy(order("BUY", "0.3", price="50000.3"), filters=coarse)
    sell = copy(order("SELL", "0.3", price="50000.3"), filters=coarse)
    assert isinstance(buy, OrderIntent) and buy.price == D("50000.0")
    assert isinstance(sell, OrderIntent) and sell.price == D("50000.5")


@pytest.mark.parametrize(
    ("o", "held", "reason"),
    [
        (order("BUY", "0.001"), "0", "below_min_qty"),  # 0.0005 rounds to zero
        (order("BUY", "0.003", price="50000"), "0", "below_min_notional"),  # 0.001 x 50000 = 50 < 100
        (order("SELL", "0.5", ps="LONG", at_place="1.0"), "0", "no_position"),  # reduces what the slave does not hold
    ],
)
def test_what_cannot_be_copied_says_why(o: RestingOrder, held: str, reason: str) -> None:
    got = copy(o, held=held)
    assert isinstance(got, Skip) and got.reason == reason, got


def test_a_reduction_under_the_min_notional_is_still_copied() -> None:
    small = copy(order("SELL", "0.002", ps="LONG", at_place="0.004"), held="0.002")  # 0.001 x 50000 = 50 < 100
    assert isinstance(small, OrderIntent) and small.qty == D("0.001")


def test_the_symbol_filters_and_the_notional_cap_apply() -> None:
    denied = msgspec.structs.replace(CONFIG, symbols_deny=("BTCUSDT",))
    assert isinstance(copy(order("BUY", "1"), config=denied), Skip)
    capped = msgspec.structs.replace(CONFIG, max_position_notional=D("10000"))  # 0.2 BTC at 50000
    got = copy(order("BUY", "1", ps="LONG"), held="0.05", config=capped)
    assert isinstance(got, OrderIntent) and got.qty == D("0.15")


def spot_copy(o: RestingOrder, market: str, held: str, k: str = "0.5") -> OrderIntent | Skip:
    return resting_intent(o, market=market, slave_id="s1", config=CONFIG, k=D(k), filters=FILTERS, held=D(held))  # type: ignore[arg-type]


def test_spot_a_limit_maker_keeps_its_type_and_sends_no_time_in_force_and_no_reduce_only() -> None:
    got = spot_copy(order("BUY", "0.3", order_type="LIMIT_MAKER"), "spot", held="0")
    assert isinstance(got, OrderIntent)
    assert (got.order_type, got.time_in_force, got.qty, got.reduce_only, got.side_effect) == ("LIMIT_MAKER", None, D("0.15"), False, None)
    sell = spot_copy(order("SELL", "1", at_place="2"), "spot", held="1")  # half the master's: half of ours
    assert isinstance(sell, OrderIntent) and sell.qty == D("0.5") and not sell.reduce_only and sell.kind == "reduce"


def test_margin_a_copy_that_adds_borrows_and_one_that_reduces_repays() -> None:
    short = spot_copy(order("SELL", "3", at_place="2"), "margin", held="1")  # 2 reduce, 1 opens a short
    assert isinstance(short, OrderIntent) and short.side_effect == "MARGIN_BUY" and short.kind == "open"
    assert short.qty == D("1") + D("0.5")  # all of our 1, and k x the 1 the master adds
    cover = spot_copy(order("BUY", "1", at_place="-1"), "margin", held="-0.5")
    assert isinstance(cover, OrderIntent) and cover.side_effect == "AUTO_REPAY" and cover.kind == "close" and cover.qty == D("0.5")


def test_margin_a_long_entry_borrows_only_when_the_free_quote_does_not_cover_it() -> None:
    o = order("BUY", "1", price="50000")  # k 0.5: 0.5 x 50000 = 25000 of quote
    covered = resting_intent(o, market="margin", slave_id="s1", config=CONFIG, k=D("0.5"), filters=FILTERS, held=D(0), quote_free=D(25000))
    short = resting_intent(o, market="margin", slave_id="s1", config=CONFIG, k=D("0.5"), filters=FILTERS, held=D(0), quote_free=D(24999))
    assert isinstance(covered, OrderIntent) and covered.side_effect == "NO_SIDE_EFFECT"
    assert isinstance(short, OrderIntent) and short.side_effect == "MARGIN_BUY"


def test_spot_stops_keep_their_type_and_stop_price_and_a_market_stop_sends_no_price_or_time_in_force() -> None:
    sl = spot_copy(order("SELL", "1", price="0", order_type="STOP_LOSS", stop_price=D("49000.005"), at_place="2"), "spot", held="1")
    assert isinstance(sl, OrderIntent)
    assert (sl.order_type, sl.price, sl.stop_price, sl.time_in_force, sl.qty, sl.kind) == (
        "STOP_LOSS",
        None,
        D("49000.01"),
        None,
        D("0.5"),
        "reduce",
    )
    params = order_params(sl, FILTERS)
    assert params["stopPrice"] == "49000.01" and "price" not in params and "timeInForce" not in params
    tpl = spot_copy(order("BUY", "0.4", price="48000", order_type="TAKE_PROFIT_LIMIT", stop_price=D("48100")), "spot", held="0")
    assert isinstance(tpl, OrderIntent) and (tpl.price, tpl.stop_price, tpl.time_in_force, tpl.qty) == (D(48000), D(48100), "GTC", D("0.2"))
    assert order_params(tpl, FILTERS) | {"newClientOrderId": ""} == {
        "symbol": "BTCUSDT", "side": "BUY", "type": "TAKE_PROFIT_LIMIT", "quantity": "0.200", "newClientOrderId": "", "price": "48000.00",
        "timeInForce": "GTC", "stopPrice": "48100.00", "newOrderRespType": "FULL",
    }  # fmt: skip


def test_a_market_stop_is_checked_against_the_min_notional_at_its_stop_price() -> None:
    tiny = spot_copy(order("BUY", "0.003", price="0", order_type="STOP_LOSS", stop_price=D("50000")), "spot", held="0")
    assert isinstance(tiny, Skip) and tiny.reason == "below_min_notional", tiny  # 0.001 x 50000 = 50 < 100


def test_a_resting_order_says_which_prices_its_type_needs() -> None:
    with pytest.raises(ValueError, match="price"):
        order("SELL", "1", price="50000", order_type="STOP_LOSS", stop_price=D(1))  # a market stop has no limit price
    with pytest.raises(ValueError, match="stop_price"):
        order("SELL", "1", order_type="STOP_LOSS_LIMIT")  # a stop without its stop price
    with pytest.raises(ValueError, match="stop_price"):
        order("SELL", "1", order_type="LIMIT", stop_price=D(1))
