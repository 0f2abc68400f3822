"""Spot and margin: the rounding remainder kept in the intended position, covers sized like the
master's order, the first borrow of a master without debt, the margin level after a borrowing order.
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from actors.domain.decisions import decide_fill, reconcile_target
from protocol.messages import PositionEntry
from tests.helpers.decisions import CFG, PRICE, SPOT, cfg, decide, legs, margin_effects, margin_holding, mfill

# --------------------------------------------------------------------------- spot/margin: carry, covers, loans, margin level


def test_spot_and_margin_increases_keep_their_rounding_remainder_in_the_intended_position() -> None:
    first = decide(mfill("0", "0.00105", market="spot"))  # k 0.5: 0.000525 -> 0.00052, 0.000005 left
    second = decide(mfill("0.00105", "0.0021", market="spot"), "0.00052", intended=D("0.000525"))
    margin = decide(mfill("0", "0.00105", market="margin"))

    assert first.intended == D("0.000525") and legs(first) == [("BUY", "BOTH", "0.00052", "open", False)]
    assert first.lands == D("0.00052")
    assert second.intended == D("0.00105") and legs(second) == [("BUY", "BOTH", "0.00053", "open", False)]
    assert margin.intended == D("0.000525")


def test_margin_cover_is_sized_like_the_masters_order_not_its_net_change() -> None:
    # The master buys 0.5 against a 0.5 short; 0.1 % of the BTC received goes to commission.
    partial = decide(mfill("-0.5", "-0.0005", "BUY", market="margin", qty="0.5"), "-0.25")
    # Buying 1.0025 covers a 1.0015 short net of the commission (0.1 %: 1.0014975 received): the
    # slave buys its short / 0.999, rounded up, so no fee-sized loan is left behind.
    full = decide(mfill("-1.0015", "-0.0000025", "BUY", market="margin", qty="1.0025"), "-0.50075")

    assert legs(partial) == [("BUY", "BOTH", "0.25", "close", False)]  # not 0.999 x 0.25
    assert D("0.50075") / D("0.999") == D("0.5012512512512512512512512513")
    assert legs(full) == [("BUY", "BOTH", "0.50126", "close", False)]
    assert margin_effects(full) == ["AUTO_REPAY"]


def test_margin_first_borrow_of_a_master_without_debt_is_inferred_from_its_leverage() -> None:
    # No hint (the stream does not carry loans): a long worth more than the master's equity was
    # bought with borrowed quote; selling part of it repays.
    leveraged = decide(mfill("0", "1.4985", market="margin", qty="1.5", equity=D("49925")))
    reduce = decide(mfill("1.4985", "0.9985", market="margin", equity=D("49900")), "0.74925", free="0.74925")
    own = decide(mfill("0", "0.1", market="margin", equity=D("49995")))

    assert margin_effects(leveraged) == ["MARGIN_BUY"]
    assert margin_effects(reduce) == ["AUTO_REPAY"]
    assert margin_effects(own) == ["NO_SIDE_EFFECT"]


def test_margin_level_after_a_borrowing_order_adds_the_shortfall_to_both_sides() -> None:
    from actors.domain.decisions import margin_level_after

    buy = margin_level_after(margin_holding(), "BUY", D("0.75"), D("50000"))  # borrows 15,000
    short = margin_level_after(margin_holding(free=D("0.1")), "SELL", D("0.3"), D("50000"))  # borrows 0.2 BTC
    own = margin_level_after(margin_holding(), "BUY", D("0.1"), D("50000"))  # nothing borrowed, nothing owed

    assert buy == D("40000") / D("15000")
    assert short == D("35000") / D("10000")
    assert own is None


def test_an_order_that_would_take_the_margin_level_under_the_floor_is_skipped_and_notifies() -> None:
    guarded = cfg(margin_level_min=D("3.5"))
    fill = mfill("0", "1.5", market="margin", side_effect="MARGIN_BUY")
    holding = margin_holding()

    blocked = decide_fill(fill, slave_id="s1", config=guarded, k=D("0.5"), filters=SPOT, holding=holding)
    allowed = decide_fill(fill, slave_id="s1", config=cfg(margin_level_min=D("2.5")), k=D("0.5"), filters=SPOT, holding=holding)
    too_low_now = decide_fill(fill, slave_id="s1", config=guarded, k=D("0.5"), filters=SPOT, holding=margin_holding(margin_level=D("1.2")))

    assert blocked.skip is not None and blocked.skip.reason == "cap_reached"
    assert blocked.skip.notify == "margin_level_low" and not blocked.intents
    assert legs(allowed) == [("BUY", "BOTH", "0.75", "open", False)]
    assert too_low_now.skip is not None and too_low_now.skip.notify == "margin_level_low"


def test_spot_and_margin_corrections_that_buy_are_grossed_up_by_the_commission() -> None:
    kw: dict[str, Any] = dict(slave_id="s1", config=CFG, nonce="n", prices={"BTCUSDT": PRICE}, buy_commission=D("0.001"))
    spot = reconcile_target(
        [PositionEntry(symbol="BTCUSDT", position_side="BOTH", qty=D("0.1"))],
        {("BTCUSDT", "BOTH"): D("0.015")},
        D("0.5"),
        {"BTCUSDT": SPOT},
        market="spot",
        **kw,
    )
    cover = reconcile_target([], {("BTCUSDT", "BOTH"): D("-0.02")}, D("0.5"), {"BTCUSDT": SPOT}, market="margin", **kw)
    sell = reconcile_target([], {("BTCUSDT", "BOTH"): D("0.02")}, D("0.5"), {"BTCUSDT": SPOT}, market="margin", **kw)

    assert [(i.side, i.qty) for i in spot] == [("BUY", D("0.03503"))]  # 0.035 / 0.999, rounded down
    assert [(i.side, i.qty, i.side_effect) for i in cover] == [("BUY", D("0.02003"), "AUTO_REPAY")]  # rounded up
    assert [(i.side, i.qty) for i in sell] == [("SELL", D("0.02"))]  # sells need no gross-up
