"""FuturesState (actors/master_state.py): pure transitions of the master's USD-M state."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from actors.binance.wire import (
    BinanceFuturesAccount,
    BinanceFuturesAccountUpdate,
    BinanceFuturesOrderData,
    BinanceFuturesPositionRisk,
    convert,
)
from actors.domain.positions import position_delta as signed_delta
from actors.master.state import Deduper
from actors.master.usdm_state import FuturesState

D = Decimal


def risk(
    symbol: str = "BTCUSDT", side: str = "BOTH", amt: str = "0", update: int = 0, leverage: str = "20", margin: str = "cross", up: str = "0"
) -> BinanceFuturesPositionRisk:
    return convert(
        {
            "symbol": symbol,
            "positionSide": side,
            "positionAmt": amt,
            "entryPrice": "60000",
            "unRealizedProfit": up,
            "leverage": leverage,
            "marginType": margin,
            "updateTime": update,
        },
        BinanceFuturesPositionRisk,
    )


def account(margin_balance: str = "1000", wallet: str = "1000") -> BinanceFuturesAccount:
    return convert(
        {"totalWalletBalance": wallet, "totalMarginBalance": margin_balance, "assets": [{"asset": "USDT", "walletBalance": wallet}]},
        BinanceFuturesAccount,
    )


def trade(
    side: str, qty: str, ps: str = "BOTH", *, order_id: int = 1, trade_id: int = 1, t: int = 100, symbol: str = "BTCUSDT", x: str = "TRADE"
) -> BinanceFuturesOrderData:
    return convert(
        {
            "s": symbol,
            "c": "c1",
            "S": side,
            "o": "MARKET",
            "q": qty,
            "p": "0",
            "x": x,
            "X": "FILLED",
            "i": order_id,
            "l": qty,
            "z": qty,
            "L": "60000",
            "T": t,
            "t": trade_id,
            "ps": ps,
        },
        BinanceFuturesOrderData,
    )


def account_update(reason: str, positions: list[dict[str, Any]], wb: str = "1000", t: int = 100) -> BinanceFuturesAccountUpdate:
    return convert(
        {
            "e": "ACCOUNT_UPDATE",
            "E": t,
            "T": t,
            "a": {
                "m": reason,
                "B": [{"a": "USDT", "wb": wb, "cw": wb}],
                "P": [{"s": "BTCUSDT", "ep": "60000", "up": "0", "mt": "cross", "ps": "BOTH", **p} for p in positions],
            },
        },
        BinanceFuturesAccountUpdate,
    )


def one_way(*risks: BinanceFuturesPositionRisk) -> FuturesState:
    state = FuturesState()
    state.rebuild(False, risks or [risk()], account())
    return state


def hedge(*risks: BinanceFuturesPositionRisk) -> FuturesState:
    state = FuturesState()
    state.rebuild(True, risks or [risk(side="LONG"), risk(side="SHORT")], account())
    return state


@pytest.mark.parametrize(
    ("side", "ps", "delta"),
    [
        ("BUY", "BOTH", "1"),
        ("SELL", "BOTH", "-1"),
        ("BUY", "LONG", "1"),
        ("SELL", "LONG", "-1"),
        ("SELL", "SHORT", "1"),
        ("BUY", "SHORT", "-1"),
    ],
)
def test_signed_delta_per_position_side(side: str, ps: str, delta: str) -> None:
    assert signed_delta(side, ps, D(1)) == D(delta)


def test_one_way_fills_and_flip_through_zero() -> None:
    state = one_way()

    first = state.apply_trade(trade("BUY", "0.5", trade_id=1))
    flip = state.apply_trade(trade("SELL", "0.8", order_id=2, trade_id=2, t=101))

    assert first is not None and (first.before, first.after) == (D(0), D("0.5"))
    assert flip is not None and (flip.before, flip.after) == (D("0.5"), D("-0.3"))
    assert state.position("BTCUSDT") == D("-0.3")
    assert (first.leverage, first.margin_type, first.mode_changed) == (20, "CROSSED", None)


def test_hedge_fills_keep_sizes_per_side() -> None:
    state = hedge()

    results = [
        state.apply_trade(t)
        for t in (
            trade("BUY", "2", "LONG", trade_id=1),
            trade("SELL", "1", "SHORT", trade_id=2),
            trade("SELL", "0.5", "LONG", trade_id=3),
            trade("BUY", "1", "SHORT", trade_id=4),
        )
    ]

    assert [(r.position_side, r.before, r.after) for r in results if r] == [
        ("LONG", 0, 2),
        ("SHORT", 0, 1),
        ("LONG", 2, D("1.5")),
        ("SHORT", 1, 0),
    ]
    assert [(e.position_side, e.qty) for e in state.entries()] == [("LONG", D("1.5"))]


def test_hedge_rest_short_amount_is_kept_as_a_size() -> None:
    state = hedge(risk(side="LONG", amt="1"), risk(side="SHORT", amt="-2"))

    assert state.position("BTCUSDT", "SHORT") == D(2)
    res = state.apply_trade(trade("BUY", "0.5", "SHORT", t=10**13))
    assert res is not None and (res.before, res.after) == (D(2), D("1.5"))


def test_closing_more_than_held_on_a_side_clamps_to_zero_and_asks_for_a_resync() -> None:
    state = hedge()

    res = state.apply_trade(trade("SELL", "1", "LONG"))

    assert res is not None and res.after == 0 and res.clamped


def test_a_duplicate_fill_is_ignored() -> None:
    state = one_way()

    assert state.apply_trade(trade("BUY", "1")) is not None
    assert state.apply_trade(trade("BUY", "1")) is None
    assert state.position("BTCUSDT") == D(1)


def test_order_account_update_never_double_counts_whichever_order_it_arrives_in() -> None:
    before_fill, after_fill = one_way(), one_way()

    before_fill.apply_account_update(account_update("ORDER", [{"pa": "1"}]))
    res_a = before_fill.apply_trade(trade("BUY", "1"))
    res_b = after_fill.apply_trade(trade("BUY", "1"))
    after_fill.apply_account_update(account_update("ORDER", [{"pa": "1"}]))

    assert res_a is not None and res_b is not None
    assert (res_a.before, res_a.after) == (res_b.before, res_b.after) == (D(0), D(1))
    assert before_fill.position("BTCUSDT") == after_fill.position("BTCUSDT") == D(1)


def test_non_order_account_update_corrects_a_position() -> None:
    state = one_way()
    state.apply_trade(trade("BUY", "1", t=100))

    outcome = state.apply_account_update(account_update("ADL", [{"pa": "0.4"}], t=200))

    assert outcome.corrected == [("BTCUSDT", "BOTH")]
    assert state.position("BTCUSDT") == D("0.4")


def test_stale_non_order_account_update_does_not_undo_a_later_fill() -> None:
    state = one_way()
    state.apply_trade(trade("BUY", "1", t=300))

    outcome = state.apply_account_update(account_update("FUNDING_FEE", [{"pa": "0"}], t=200))

    assert outcome.corrected == [] and state.position("BTCUSDT") == D(1)


def test_margin_type_change_in_account_update_is_reported() -> None:
    state = one_way()

    outcome = state.apply_account_update(account_update("MARGIN_TYPE_CHANGE", [{"pa": "0", "mt": "isolated"}]))

    assert outcome.margin_types == [("BTCUSDT", "ISOLATED")]
    assert state.margin_type["BTCUSDT"] == "ISOLATED"


def test_fills_contained_in_the_rest_state_are_skipped_newer_ones_applied() -> None:
    state = one_way(risk(amt="1.5", update=500))

    old = state.apply_trade(trade("BUY", "0.5", trade_id=1, t=500))
    new = state.apply_trade(trade("BUY", "0.5", trade_id=2, t=501))

    assert old is None
    assert new is not None and (new.before, new.after) == (D("1.5"), D(2))


def test_a_fill_of_the_other_mode_reveals_a_position_mode_change() -> None:
    state = one_way()

    res = state.apply_trade(trade("BUY", "1", "LONG"))

    assert res is not None and res.mode_changed == "hedge" and state.position_mode == "hedge"


def test_equity_moves_with_wallet_and_unrealized_pnl() -> None:
    state = one_way()
    assert state.equity() == D(1000)

    state.apply_account_update(account_update("ORDER", [{"pa": "0", "up": "25"}], wb="990"))

    assert state.equity() == D(1015)
    state.refresh_equity(account(margin_balance="1200"))
    assert state.equity() == D(1200)


def test_drift_is_reported_and_corrected() -> None:
    state = one_way()
    state.apply_trade(trade("BUY", "1", t=100))

    drifts = state.drift([risk(amt="0.7", update=150)])
    state.correct(drifts[0])

    assert [(d.ours, d.rest) for d in drifts] == [(D(1), D("0.7"))]
    assert state.position("BTCUSDT") == D("0.7")
    assert state.apply_trade(trade("SELL", "0.3", trade_id=9, t=150)) is None  # contained in REST now


def test_config_poll_reports_changes_only() -> None:
    state = one_way()

    unchanged = state.apply_config([risk()])
    changed = state.apply_config([risk(leverage="5", margin="isolated")])

    assert unchanged == ([], [])
    assert changed == ([("BTCUSDT", 5)], [("BTCUSDT", "ISOLATED")])


def test_deduper_is_bounded() -> None:
    dedupe = Deduper(capacity=3)
    for i in range(5):
        assert dedupe.add(("X", i, i))

    assert len(dedupe) == 3 and ("X", 0, 0) not in dedupe and ("X", 4, 4) in dedupe
    assert not dedupe.add(("X", 4, 4))


def test_a_symbol_the_protocol_cannot_carry_is_left_out_of_snapshots() -> None:
    state = one_way()
    state.apply_trade(trade("BUY", "1", symbol="BTCUSDT_250627"))
    state.apply_trade(trade("BUY", "2", trade_id=2))

    assert [(e.symbol, e.qty) for e in state.entries()] == [("BTCUSDT", D(2))]
