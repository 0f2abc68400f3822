"""actors/domain/decisions.py on spot and cross margin fills (loans, side effects, margin level), and
every futures fill yields valid intents or exactly one skip (hypothesis).
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, strategies as st

from tests.helpers.decisions import FUT, FUTURES_CID, PRICE, cfg, decide, legs, margin_effects, mfill, only_skip

# --------------------------------------------------------------------------- spot


def test_spot_buy_scales_by_k() -> None:
    d = decide(mfill("0", "0.01", market="spot"))

    assert legs(d) == [("BUY", "BOTH", "0.005", "open", False)]


def test_spot_sell_sells_the_same_fraction_of_the_slave_holding() -> None:
    d = decide(mfill("0.02", "0.015", market="spot"), "0.01", free="0.01")  # f 0.25

    assert legs(d) == [("SELL", "BOTH", "0.0025", "reduce", False)]


def test_spot_sell_never_sells_more_than_is_free() -> None:
    d = decide(mfill("0.02", "0.015", market="spot"), "0.01", free="0.001")

    assert legs(d) == [("SELL", "BOTH", "0.001", "reduce", False)]


def test_spot_master_sold_out_sells_all_free_rounded_down() -> None:
    d = decide(mfill("0.02", "0.000003", market="spot", qty="0.019997"), "0.0099999", free="0.0099999")

    assert legs(d) == [("SELL", "BOTH", "0.00999", "close", False)]


def test_spot_sell_below_min_notional_is_skipped_never_exempt() -> None:
    d = decide(mfill("0.02", "0", market="spot"), "0.0001", free="0.0001")  # 5 USDT < 10

    assert only_skip(d) == "below_min_notional"


def test_spot_round_up_never_sells_more_than_the_holding() -> None:
    up = cfg(min_notional_policy="round_up")
    fill = mfill("0.02", "0.018", market="spot")  # f 0.1

    raised = decide(fill, "0.0003", free="0.0003", cfg=up)  # 0.00003 -> 0.0002 (10 USDT)
    too_small = decide(fill, "0.00015", free="0.00015", cfg=up)  # at most 0.00015 = 7.5 USDT

    assert legs(raised) == [("SELL", "BOTH", "0.0002", "reduce", False)]
    assert only_skip(too_small) == "below_min_notional"


def test_spot_sell_without_holding_is_no_position() -> None:
    assert only_skip(decide(mfill("0.02", "0.01", market="spot"), "0", free="0")) == "no_position"


def test_spot_buy_is_capped_by_notional() -> None:
    d = decide(mfill("0", "0.1", market="spot"), "0.01", k=D(1), cfg=cfg(max_position_notional=D("1000")))  # held 500, room 500 = 0.01

    assert legs(d) == [("BUY", "BOTH", "0.01", "open", False)]


def test_margin_short_open_borrows_and_close_repays() -> None:
    opened = decide(mfill("0", "-0.02", market="margin", borrowed_before=D(0), borrowed_after=D("0.02"), side_effect="MARGIN_BUY"))
    opened_no_hint = decide(mfill("0", "-0.02", market="margin"))
    closed = decide(mfill("-0.02", "0", market="margin", side_effect="AUTO_REPAY"), "-0.01")

    assert legs(opened) == [("SELL", "BOTH", "0.01", "open", False)]
    assert margin_effects(opened) == margin_effects(opened_no_hint) == ["MARGIN_BUY"]
    assert legs(closed) == [("BUY", "BOTH", "0.01", "close", False)]
    assert margin_effects(closed) == ["AUTO_REPAY"]


def test_margin_long_borrows_only_when_the_master_did() -> None:
    borrowed = decide(mfill("0", "0.02", market="margin", side_effect="MARGIN_BUY"))
    own_funds = decide(mfill("0", "0.02", market="margin"))

    assert legs(borrowed) == legs(own_funds) == [("BUY", "BOTH", "0.01", "open", False)]
    assert margin_effects(borrowed) == ["MARGIN_BUY"]
    assert margin_effects(own_funds) == ["NO_SIDE_EFFECT"]


def test_margin_repay_is_inferred_from_the_master_loan_shrinking() -> None:
    d = decide(mfill("-0.02", "-0.01", market="margin", borrowed_before=D("0.02"), borrowed_after=D("0.01")), "-0.01")

    assert legs(d) == [("BUY", "BOTH", "0.005", "reduce", False)]
    assert margin_effects(d) == ["AUTO_REPAY"]


def test_margin_long_reduce_limited_by_free_balance() -> None:
    d = decide(mfill("0.02", "0.01", market="margin", side_effect="AUTO_REPAY"), "0.01", free="0.002")

    assert legs(d) == [("SELL", "BOTH", "0.002", "reduce", False)]
    assert margin_effects(d) == ["AUTO_REPAY"]


def test_margin_flip_closes_then_opens_borrowing() -> None:
    d = decide(mfill("0.02", "-0.01", market="margin", side_effect="MARGIN_BUY"), "0.01", free="0.01")

    assert legs(d) == [("SELL", "BOTH", "0.01", "close", False), ("SELL", "BOTH", "0.005", "open", False)]
    assert margin_effects(d) == ["NO_SIDE_EFFECT", "MARGIN_BUY"]
    assert d.sequential


def test_margin_level_below_minimum_blocks_new_borrowing_only() -> None:
    guarded = cfg(margin_level_min=D("1.5"))

    blocked = decide(mfill("0", "-0.02", market="margin"), cfg=guarded, margin_level="1.2")
    reduce = decide(mfill("-0.02", "-0.01", market="margin"), "-0.01", cfg=guarded, margin_level="1.2")
    fine = decide(mfill("0", "-0.02", market="margin"), cfg=guarded, margin_level="2")

    assert only_skip(blocked) == "cap_reached"
    assert legs(reduce) == [("BUY", "BOTH", "0.005", "reduce", False)]
    assert legs(fine) == [("SELL", "BOTH", "0.01", "open", False)]


def test_margin_master_dust_counts_as_flat() -> None:
    d = decide(mfill("0.02", "0.000004", market="margin", qty="0.019996"), "0.01", free="0.01")

    assert legs(d) == [("SELL", "BOTH", "0.01", "close", False)]


# --------------------------------------------------------------------------- every fill: intents or one skip


@given(
    before=st.integers(-300, 300),
    after=st.integers(-300, 300),
    slave=st.integers(-300, 300),
    k=st.sampled_from([D("0.001"), D("0.1"), D("0.5"), D("1"), D("3")]),
    policy=st.sampled_from(["skip", "round_up"]),
    reverse=st.booleans(),
    ps=st.sampled_from(["BOTH", "LONG", "SHORT"]),
)
def test_every_futures_fill_yields_valid_intents_or_exactly_one_skip(
    before: int, after: int, slave: int, k: D, policy: str, reverse: bool, ps: str
) -> None:
    step = D("0.001")
    b, a, s = before * step, after * step, slave * step
    if ps != "BOTH":
        b, a, s = abs(b), abs(a), abs(s)
    if a == b:
        a = b + step
    config = cfg(min_notional_policy=policy, reverse=reverse)

    d = decide(mfill(str(b), str(a), ps=ps), str(s), k=k, cfg=config)

    assert d.intents or d.skip is not None
    held = abs(s)
    closing = sum((i.qty for i in d.intents if i.kind != "open"), D(0))
    assert closing <= held  # never reduces more than the slave holds
    for i in d.intents:
        assert i.qty > 0 and i.qty % step == 0 and i.qty <= FUT.market_max_qty
        assert i.reduce_only == (i.kind != "open" and i.position_side == "BOTH")
        assert FUTURES_CID.match(i.client_order_id)
        if i.kind == "open":
            assert i.qty * PRICE >= FUT.min_notional
    if a == 0 and d.intents:  # master flat: the slave ends flat, no dust
        assert closing == held
