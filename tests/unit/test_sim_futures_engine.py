"""USD-M futures engine: accounting checked against arithmetic written out by hand.

Every expected number below is computed in the test itself with Decimal, step by step, so a
reader can redo it on paper. Rates: taker 0.0005, maker 0.0002 (the engine's defaults).
"""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from simulator.futures import FuturesEngine
from simulator.futures_model import FuturesReject, parse_order_params

TAKER = D("0.0005")
MAKER = D("0.0002")
NOW = 1_700_000_000_000


def new_engine(usdt: str = "10000", dual: bool = False) -> FuturesEngine:
    engine = FuturesEngine()
    engine.open_account("a", D(usdt))
    if dual:
        engine.set_position_mode("a", True, NOW)
    for symbol, price in {"BTCUSDT": "50000", "ETHUSDT": "3000"}.items():
        engine.set_mark(symbol, D(price))
    return engine


def trade(
    engine: FuturesEngine,
    side: str,
    qty: str,
    price: str,
    *,
    ps: str | None = None,
    maker: bool = False,
    reduce_only: bool | None = None,
    symbol: str = "BTCUSDT",
):
    """Place an order at `price` (mark moved there first) and fill it completely."""
    engine.set_mark(symbol, D(price))
    params = {"symbol": symbol, "side": side, "quantity": qty}
    if maker:
        params.update(type="LIMIT", price=price, timeInForce="GTC")
    else:
        params.update(type="MARKET")
    if ps:
        params["positionSide"] = ps
    if reduce_only is not None:
        params["reduceOnly"] = "true" if reduce_only else "false"
    order, _ = engine.place_order("a", parse_order_params(params), NOW)
    fill, events = engine.fill("a", order.order_id, D(qty), D(price), maker, NOW)
    return order, fill, events


def pos(engine: FuturesEngine, side: str, symbol: str = "BTCUSDT"):
    return engine.account("a").position(symbol, side)


def test_hedge_mode_sequence_matches_hand_arithmetic() -> None:
    engine = new_engine("10000", dual=True)
    acct = engine.account("a")
    wallet = D("10000")

    # 1. open long: BUY LONG 0.010 @ 50000 (taker)
    _, fill, _ = trade(engine, "BUY", "0.010", "50000", ps="LONG")
    fee1 = D("0.010") * D("50000") * TAKER  # = 0.25
    assert fee1 == D("0.25") and fill.commission == fee1
    wallet -= fee1
    assert pos(engine, "LONG").amt == D("0.010") and pos(engine, "LONG").entry == D("50000")
    assert acct.wallet == wallet == D("9999.75")

    # 2. scale in: BUY LONG 0.030 @ 52000 -> entry = (0.010*50000 + 0.030*52000) / 0.040
    _, fill, _ = trade(engine, "BUY", "0.030", "52000", ps="LONG")
    entry_long = (D("0.010") * D("50000") + D("0.030") * D("52000")) / D("0.040")
    assert entry_long == D("51500")
    fee2 = D("0.030") * D("52000") * TAKER  # = 0.78
    wallet -= fee2
    assert pos(engine, "LONG").amt == D("0.040") and pos(engine, "LONG").entry == entry_long
    assert fill.realized_pnl == 0 and acct.wallet == wallet == D("9998.97")

    # 3. open short on the same symbol: SELL SHORT 0.020 @ 51000, resting limit filled as maker
    _, fill, _ = trade(engine, "SELL", "0.020", "51000", ps="SHORT", maker=True)
    fee3 = D("0.020") * D("51000") * MAKER  # = 0.204
    wallet -= fee3
    assert pos(engine, "SHORT").amt == D("-0.020") and pos(engine, "SHORT").entry == D("51000")
    assert pos(engine, "LONG").amt == D("0.040")  # untouched by the short
    assert acct.wallet == wallet == D("9998.766")

    # 4. partial close of the long: SELL LONG 0.015 @ 53000 -> realized 0.015 * (53000 - 51500)
    _, fill, _ = trade(engine, "SELL", "0.015", "53000", ps="LONG")
    pnl4 = D("0.015") * (D("53000") - entry_long)  # = 22.5
    fee4 = D("0.015") * D("53000") * TAKER  # = 0.3975
    wallet += pnl4 - fee4
    assert fill.realized_pnl == pnl4 == D("22.5")
    assert pos(engine, "LONG").amt == D("0.025") and pos(engine, "LONG").entry == entry_long
    assert acct.wallet == wallet == D("10020.8685")

    # 5. close the short: BUY SHORT 0.020 @ 50500 -> realized 0.020 * (51000 - 50500)
    _, fill, _ = trade(engine, "BUY", "0.020", "50500", ps="SHORT")
    pnl5 = D("0.020") * (D("51000") - D("50500"))  # = 10
    fee5 = D("0.020") * D("50500") * TAKER  # = 0.505
    wallet += pnl5 - fee5
    assert fill.realized_pnl == pnl5 == D("10")
    assert pos(engine, "SHORT").amt == 0 and pos(engine, "SHORT").entry == 0
    assert acct.wallet == wallet == D("10030.3635")

    # 6. close all: SELL LONG 0.025 @ 49000 -> realized 0.025 * (49000 - 51500) = -62.5
    _, fill, _ = trade(engine, "SELL", "0.025", "49000", ps="LONG")
    pnl6 = D("0.025") * (D("49000") - entry_long)
    fee6 = D("0.025") * D("49000") * TAKER  # = 0.6125
    wallet += pnl6 - fee6
    assert fill.realized_pnl == pnl6 == D("-62.5")
    assert pos(engine, "LONG").amt == 0
    assert acct.wallet == wallet == D("9967.251")

    # the totals: realized sum minus fee sum, from the 10000 start
    assert wallet == D("10000") + (pnl4 + pnl5 + pnl6) - (fee1 + fee2 + fee3 + fee4 + fee5 + fee6)
    assert pos(engine, "LONG").realized == pnl4 + pnl6  # "cr": accumulated pre-fee realized
    assert pos(engine, "SHORT").realized == pnl5
    totals = engine.totals(acct)
    assert totals.unrealized == 0 and totals.initial_margin == 0
    assert totals.available == totals.margin_balance == totals.wallet == wallet


def test_balances_with_open_positions_are_consistent() -> None:
    engine = new_engine("10000", dual=True)
    engine.set_leverage("a", "BTCUSDT", 10, NOW)
    trade(engine, "BUY", "0.040", "50000", ps="LONG")
    trade(engine, "SELL", "0.020", "50000", ps="SHORT")
    engine.set_mark("BTCUSDT", D("51000"))
    acct = engine.account("a")
    t = engine.totals(acct)

    fees = D("0.040") * D("50000") * TAKER + D("0.020") * D("50000") * TAKER  # 1.0 + 0.5
    assert t.wallet == D("10000") - fees == D("9998.5")
    up_long = D("0.040") * (D("51000") - D("50000"))  # +40
    up_short = D("-0.020") * (D("51000") - D("50000"))  # -20
    assert t.unrealized == up_long + up_short == D("20")
    assert t.margin_balance == t.wallet + t.unrealized
    im = (D("0.040") * D("51000") + D("0.020") * D("51000")) / 10  # 204 + 102
    assert t.position_im == im == D("306")
    # maintenance: BTC bracket 1 (notional < 50000): 0.4%, cum 0
    assert t.maint_margin == D("2040") * D("0.004") + D("1020") * D("0.004")
    assert t.available == t.wallet + t.unrealized - im == D("9712.5")

    # a resting opening limit order reserves notional / leverage
    engine.place_order(
        "a",
        parse_order_params(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.010",
                "price": "50000",
                "timeInForce": "GTC",
                "positionSide": "LONG",
            }
        ),
        NOW,
    )
    t2 = engine.totals(acct)
    assert t2.open_order_im == D("0.010") * D("50000") / 10 == D("50")
    assert t2.initial_margin == t2.position_im + t2.open_order_im
    assert t2.available == t.available - D("50")


def test_one_way_flip_through_zero_and_reduce_only() -> None:
    engine = new_engine("10000")
    wallet = D("10000")
    trade(engine, "BUY", "0.010", "50000")
    wallet -= D("0.010") * D("50000") * TAKER  # 0.25

    # SELL 0.030 @ 52000 in one order: closes the 0.010 long, opens a 0.020 short at 52000
    _, fill, events = trade(engine, "SELL", "0.030", "52000")
    pnl = D("0.010") * (D("52000") - D("50000"))  # 20
    fee = D("0.030") * D("52000") * TAKER  # 0.78
    wallet += pnl - fee
    both = pos(engine, "BOTH")
    assert fill.realized_pnl == pnl == D("20")
    assert both.amt == D("-0.020") and both.entry == D("52000")
    assert engine.account("a").wallet == wallet == D("10018.97")
    update = events[1]
    assert update["e"] == "ACCOUNT_UPDATE" and update["a"]["m"] == "ORDER"
    assert update["a"]["P"] == [
        {
            "s": "BTCUSDT",
            "pa": "-0.020",
            "ep": "52000",
            "bep": update["a"]["P"][0]["bep"],
            "cr": "20",
            "up": "0.00000000",
            "mt": "cross",
            "iw": "0.00000000",
            "ps": "BOTH",
        }
    ]
    assert update["a"]["B"] == [{"a": "USDT", "wb": "10018.97000000", "cw": "10018.97000000", "bc": "0"}]

    # reduce-only in the position's direction (would increase) is refused
    with pytest.raises(FuturesReject) as exc:
        trade(engine, "SELL", "0.010", "52000", reduce_only=True)
    assert exc.value.code == -2022

    # reduce-only BUY 0.050 can only close the 0.020 short: filled 0.020, remainder expired
    engine.set_mark("BTCUSDT", D("51000"))
    order, _ = engine.place_order(
        "a", parse_order_params({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.050", "reduceOnly": "true"}), NOW
    )
    fill, events = engine.fill("a", order.order_id, D("0.050"), D("51000"), False, NOW)
    pnl2 = D("0.020") * (D("52000") - D("51000"))  # 20
    fee2 = D("0.020") * D("51000") * TAKER  # 0.51
    wallet += pnl2 - fee2
    assert fill.qty == D("0.020") and fill.realized_pnl == pnl2
    assert pos(engine, "BOTH").amt == 0
    assert order.status == "EXPIRED" and order.executed_qty == D("0.020")
    assert [e["o"]["x"] for e in events if e["e"] == "ORDER_TRADE_UPDATE"] == ["TRADE", "EXPIRED"]
    assert engine.account("a").wallet == wallet == D("10038.46")

    # reduce-only with no position at all
    with pytest.raises(FuturesReject) as exc:
        trade(engine, "BUY", "0.010", "51000", reduce_only=True)
    assert exc.value.code == -2022


def test_isolated_margin_numbers() -> None:
    engine = new_engine("1000")
    engine.set_margin_type("a", "BTCUSDT", "ISOLATED", NOW)
    engine.set_leverage("a", "BTCUSDT", 5, NOW)
    acct = engine.account("a")

    trade(engine, "BUY", "0.010", "50000")
    iw = D("0.010") * D("50000") / 5  # 100 moved into the position's isolated wallet
    fee1 = D("0.010") * D("50000") * TAKER  # 0.25, paid from the cross wallet
    cross = D("1000") - iw - fee1  # 899.75
    p = pos(engine, "BOTH")
    assert p.isolated_wallet == iw == D("100")
    assert acct.cross_wallet == cross == D("899.75")
    assert acct.wallet == cross + iw == D("999.75")

    engine.set_mark("BTCUSDT", D("51000"))
    fig = engine.position_figures(acct, p)
    up = D("0.010") * (D("51000") - D("50000"))  # 10
    assert fig.unrealized == up and fig.isolated_margin == iw + up == D("110")
    t = engine.totals(acct)
    assert t.cross_unrealized == 0 and t.cross_position_im == 0
    assert t.available == cross  # the isolated position takes nothing more from the cross wallet
    event = engine.position_event(acct, p)
    assert event["mt"] == "isolated" and event["iw"] == "100.00000000"

    # partial close 0.004 @ 51000: pnl 4 to the cross wallet, 40% of iw released
    trade(engine, "SELL", "0.004", "51000")
    pnl = D("0.004") * (D("51000") - D("50000"))  # 4
    release = iw * D("0.004") / D("0.010")  # 40
    fee2 = D("0.004") * D("51000") * TAKER  # 0.102
    iw -= release
    cross += release + pnl - fee2
    assert p.isolated_wallet == iw == D("60")
    assert acct.cross_wallet == cross == D("943.648")
    assert acct.wallet == D("1003.648")

    # changing margin type with a position is refused; close it, then it is allowed
    with pytest.raises(FuturesReject) as exc:
        engine.set_margin_type("a", "BTCUSDT", "CROSSED", NOW)
    assert exc.value.code == -4048
    trade(engine, "SELL", "0.006", "51000")
    assert p.isolated_wallet == 0 and p.amt == 0
    engine.set_margin_type("a", "BTCUSDT", "CROSSED", NOW)


@pytest.mark.parametrize(
    ("dual", "params", "code"),
    [
        (True, {"side": "BUY", "type": "MARKET", "quantity": "0.010"}, -4061),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "0.010", "positionSide": "LONG"}, -4061),
        (True, {"side": "BUY", "type": "MARKET", "quantity": "0.010", "positionSide": "LONG", "reduceOnly": "false"}, -1106),
        (True, {"side": "SELL", "type": "MARKET", "quantity": "0.010", "positionSide": "LONG"}, -2022),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "0.001"}, -4164),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "5"}, -2019),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "0.0105"}, -1111),
        (False, {"side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "50000.05", "timeInForce": "GTC"}, -4014),
        (False, {"side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "60000", "timeInForce": "GTC"}, -4016),
        (False, {"side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "50000"}, -1102),
        (False, {"side": "BUY", "type": "STOP_MARKET", "quantity": "0.010"}, -4120),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "0"}, -4003),
        (False, {"side": "BUY", "type": "MARKET", "quantity": "0.010", "newClientOrderId": "bad id!"}, -4015),
    ],
)
def test_order_rejections(dual: bool, params: dict, code: int) -> None:
    engine = new_engine("1000", dual=dual)
    with pytest.raises(FuturesReject) as exc:
        engine.place_order("a", parse_order_params({"symbol": "BTCUSDT", **params}), NOW)
    assert exc.value.code == code


def test_mode_and_margin_type_changes_are_refused_like_binance() -> None:
    engine = new_engine("10000")
    with pytest.raises(FuturesReject) as exc:
        engine.set_position_mode("a", False, NOW)
    assert exc.value.code == -4059
    with pytest.raises(FuturesReject) as exc:
        engine.set_margin_type("a", "BTCUSDT", "CROSSED", NOW)
    assert exc.value.code == -4046

    order, _ = engine.place_order(
        "a",
        parse_order_params(
            {"symbol": "BTCUSDT", "side": "BUY", "type": "LIMIT", "quantity": "0.010", "price": "49000", "timeInForce": "GTC"}
        ),
        NOW,
    )
    with pytest.raises(FuturesReject) as exc:
        engine.set_position_mode("a", True, NOW)
    assert exc.value.code == -4067
    with pytest.raises(FuturesReject) as exc:
        engine.set_margin_type("a", "BTCUSDT", "ISOLATED", NOW)
    assert exc.value.code == -4047
    engine.cancel_order("a", "BTCUSDT", order.order_id, None, NOW)

    trade(engine, "BUY", "0.010", "50000")
    with pytest.raises(FuturesReject) as exc:
        engine.set_position_mode("a", True, NOW)
    assert exc.value.code == -4068
    trade(engine, "SELL", "0.010", "50000", reduce_only=True)
    engine.set_position_mode("a", True, NOW)
    assert engine.account("a").dual_side


def test_leverage_bounds_and_config_event() -> None:
    engine = new_engine()
    response, events = engine.set_leverage("a", "BTCUSDT", 25, NOW)
    assert response == {"leverage": 25, "maxNotionalValue": "70000000", "symbol": "BTCUSDT"}
    assert events == [{"e": "ACCOUNT_CONFIG_UPDATE", "E": NOW, "T": NOW, "ac": {"s": "BTCUSDT", "l": 25}}]
    for bad in (0, 126):
        with pytest.raises(FuturesReject) as exc:
            engine.set_leverage("a", "BTCUSDT", bad, NOW)
        assert exc.value.code == -4028
    with pytest.raises(FuturesReject) as exc:
        engine.set_leverage("a", "DOGEUSDT", 100, NOW)  # DOGE's first bracket allows 75
    assert exc.value.code == -4028


ORDER_EVENT_FIELDS = {
    "s",
    "c",
    "S",
    "o",
    "f",
    "q",
    "p",
    "ap",
    "sp",
    "x",
    "X",
    "i",
    "l",
    "z",
    "L",
    "n",
    "N",
    "T",
    "t",
    "b",
    "a",
    "m",
    "R",
    "wt",
    "ot",
    "ps",
    "cp",
    "rp",
    "pP",
    "si",
    "ss",
    "V",
    "pm",
    "gtd",
    "er",
}


def test_order_events_carry_binance_fields() -> None:
    engine = new_engine()
    order, new_events = engine.place_order(
        "a",
        parse_order_params(
            {
                "symbol": "BTCUSDT",
                "side": "BUY",
                "type": "LIMIT",
                "quantity": "0.010",
                "price": "50000",
                "timeInForce": "GTC",
                "newClientOrderId": "my-1",
            }
        ),
        NOW,
    )
    (new,) = new_events
    assert new["e"] == "ORDER_TRADE_UPDATE" and set(new) == {"e", "E", "T", "o"}
    assert set(new["o"]) == ORDER_EVENT_FIELDS
    assert new["o"]["x"] == new["o"]["X"] == "NEW" and new["o"]["c"] == "my-1"
    assert new["o"]["b"] == "500" and new["o"]["q"] == "0.010"

    _, fill_events = engine.fill("a", order.order_id, D("0.004"), D("50000"), True, NOW + 1)
    trade_event, account_event = fill_events
    o = trade_event["o"]
    assert (o["x"], o["X"], o["l"], o["z"], o["L"], o["m"]) == ("TRADE", "PARTIALLY_FILLED", "0.004", "0.004", "50000", True)
    assert D(o["n"]) == D("0.004") * D("50000") * MAKER and o["n"] == "0.04"
    assert account_event["a"]["P"][0]["pa"] == "0.004"

    canceled, cancel_events = engine.cancel_order("a", "BTCUSDT", None, "my-1", NOW + 2)
    assert canceled.status == "CANCELED" and cancel_events[0]["o"]["X"] == "CANCELED"
    # a client id is free again once its order is closed
    engine.place_order(
        "a",
        parse_order_params({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010", "newClientOrderId": "my-1"}),
        NOW,
    )
    with pytest.raises(FuturesReject) as exc:
        engine.place_order(
            "a",
            parse_order_params({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": "0.010", "newClientOrderId": "my-1"}),
            NOW,
        )
    assert exc.value.code == -4116


def test_unknown_orders() -> None:
    engine = new_engine()
    with pytest.raises(FuturesReject) as exc:
        engine.find_order("a", "BTCUSDT", 1, None)
    assert exc.value.code == -2013
    with pytest.raises(FuturesReject) as exc:
        engine.cancel_order("a", "BTCUSDT", None, "nope", NOW)
    assert exc.value.code == -2011


@pytest.mark.parametrize("bad", ["1e-05", "-1", "0.1.2", "abc"])
def test_quantities_must_be_plain_decimals(bad: str) -> None:
    with pytest.raises(FuturesReject) as exc:
        parse_order_params({"symbol": "BTCUSDT", "side": "BUY", "type": "MARKET", "quantity": bad})
    assert exc.value.code == -1100 and "quantity" in exc.value.msg
