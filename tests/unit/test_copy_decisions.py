"""actors/domain/decisions.py: copy decisions per ARCHITECTURE.md "Copy semantics", hand-computed.

Futures symbol used throughout: BTCUSDT, step 0.001, minQty 0.001, MARKET_LOT_SIZE maxQty 120,
min notional 100 USDT, price 50,000 (so 0.002 BTC = 100 USDT is the smallest opening order).
Spot/margin: the real spot BTCUSDT filters of tests/fixtures (step 0.00001, min notional 10
USDT: 0.0002 BTC at 50,000).
"""
from __future__ import annotations

import json
import pathlib
import re
from decimal import Decimal as D
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from actors.binance.filters import SymbolFilters, format_decimal, parse_spot_exchange_info
from actors.domain.decisions import (
    Decision,
    OrderIntent,
    SlaveHolding,
    client_order_id,
    decide_fill,
    reconcile_client_order_id,
    reconcile_target,
)
from actors.domain.sizing import CannotSize
from protocol.messages import MasterFill, PositionEntry, SlaveConfig

FUT = SymbolFilters(
    symbol="BTCUSDT", base_asset="BTC", quote_asset="USDT", tick_size=D("0.10"),
    step_size=D("0.001"), min_qty=D("0.001"), max_qty=D("1000"),
    market_step_size=D("0.001"), market_min_qty=D("0.001"), market_max_qty=D("120"),
    min_notional=D("100"), apply_min_to_market=True, min_notional_exempt_reduce_only=True,
)
FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"
SPOT = parse_spot_exchange_info(json.loads((FIXTURES / "spot_exchange_info.json").read_text()))["BTCUSDT"]
PRICE = D("50000")
CFG = SlaveConfig(id="s1", markets=("usdm", "spot", "margin"), sizing="fixed_ratio", ratio=D("0.5"))
FUTURES_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # post_fapi_v1_order.md
SAFE_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def mfill(before: str, after: str, side: str | None = None, *, qty: str | None = None,
          ps: str = "BOTH", market: str = "usdm", price: D = PRICE, order_id: int = 11,
          trade_id: int = 22, **over: Any) -> MasterFill:
    b, a = D(before), D(after)
    if side is None:
        side = "BUY" if (a - b if ps != "SHORT" else b - a) > 0 else "SELL"
    fields: dict[str, Any] = dict(
        market=market, epoch=1, seq=1, symbol="BTCUSDT", position_side=ps, side=side,
        order_id=order_id, trade_id=trade_id, client_order_id="m", order_type="MARKET",
        price=price, qty=D(qty) if qty else abs(a - b), cum_qty=D(qty) if qty else abs(a - b),
        status="FILLED", position_before=b, position_after=a, equity=D("10000"),
        t_exchange_ms=1, t_master_recv_ns=1, t_master_pub_ns=1,
    )
    fields.update(over)
    return MasterFill(**fields)


def decide(fill: MasterFill, position: str = "0", *, k: D | CannotSize = D("0.5"),
           cfg: SlaveConfig = CFG, filters: SymbolFilters | None = None, free: str | None = None,
           margin_level: str | None = None, **kw: Any) -> Decision:
    if filters is None:
        filters = FUT if fill.market == "usdm" else SPOT
    holding = SlaveHolding(position=D(position), free=None if free is None else D(free),
                           margin_level=None if margin_level is None else D(margin_level))
    return decide_fill(fill, slave_id="s1", config=cfg, k=k, filters=filters, holding=holding, **kw)


def legs(decision: Decision) -> list[tuple[str, str, str, str, bool]]:
    """(side, position_side, qty, kind, reduce_only) per intent."""
    return [(i.side, i.position_side, format_decimal(i.qty), i.kind, i.reduce_only)
            for i in decision.intents]


def only_skip(decision: Decision) -> str:
    assert decision.intents == () and decision.skip is not None
    return decision.skip.reason


def cfg(**over: Any) -> SlaveConfig:
    base = dict(id="s1", markets=("usdm", "spot", "margin"), sizing="fixed_ratio", ratio=D("0.5"))
    base.update(over)
    return SlaveConfig(**base)


# --------------------------------------------------------------------------- futures: one-way


def test_master_increase_adds_k_times_q() -> None:
    d = decide(mfill("0", "0.1"))  # k 0.5 -> 0.05

    assert legs(d) == [("BUY", "BOTH", "0.05", "open", False)]
    assert d.skip is None and not d.sequential
    intent = d.intents[0]
    assert intent.order_type == "MARKET" and intent.ref_price == PRICE and intent.side_effect is None
    assert intent.client_order_id == client_order_id("s1", 11, 22, 0, market="usdm", symbol="BTCUSDT")


def test_increase_is_rounded_down_to_the_step() -> None:
    d = decide(mfill("0.1", "0.113"), "0.037", k=D("0.37"))  # 0.013 x 0.37 = 0.00481 -> 0.004

    assert legs(d) == [("BUY", "BOTH", "0.004", "open", False)]


def test_increase_below_min_notional_is_skipped_under_policy_skip() -> None:
    d = decide(mfill("0", "0.1"), k=D("0.01"))  # 0.001 BTC = 50 USDT < 100

    assert only_skip(d) == "below_min_notional"
    assert "100" in d.skip.text  # type: ignore[union-attr]


def test_increase_below_min_notional_is_rounded_up_under_policy_round_up() -> None:
    d = decide(mfill("0", "0.1"), k=D("0.01"), cfg=cfg(min_notional_policy="round_up"))

    assert legs(d) == [("BUY", "BOTH", "0.002", "open", False)]  # 100 / 50000


def test_increase_under_one_step_is_carried_under_every_policy() -> None:
    fill = mfill("0", "0.1")  # k x q = 0.0001: within one step of the slave's (flat) position

    for policy in ("defer", "skip", "round_up"):
        d = decide(fill, k=D("0.001"), cfg=cfg(min_notional_policy=policy))
        assert only_skip(d) == "not_copied" and d.intended == D("0.0001"), policy  # kept for the next fill


def test_master_decrease_reduces_the_same_fraction_of_the_slave_position() -> None:
    d = decide(mfill("0.3", "0.2"), "0.15")  # f = 1/3 of 0.15 = 0.05

    assert legs(d) == [("SELL", "BOTH", "0.05", "reduce", True)]


def test_decrease_rounds_to_the_nearest_step() -> None:
    d = decide(mfill("0.3", "0.1"), "0.010")  # f = 2/3 -> 0.00666.. -> 0.007

    assert legs(d) == [("SELL", "BOTH", "0.007", "reduce", True)]


def test_reduce_only_orders_are_exempt_from_min_notional() -> None:
    d = decide(mfill("0.3", "0.2"), "0.003")  # 1/3 of 0.003 = 0.001 BTC = 50 USDT < 100

    assert legs(d) == [("SELL", "BOTH", "0.001", "reduce", True)]


def test_decrease_under_half_a_step_is_carried_never_raised() -> None:
    fill = mfill("1", "0.9")  # f = 0.1; slave 0.004 -> intended 0.0036: 0.0004 to sell -> 0

    for policy in ("defer", "skip", "round_up"):
        d = decide(fill, "0.004", cfg=cfg(min_notional_policy=policy))
        assert only_skip(d) == "not_copied" and d.intended == D("0.0036"), policy


def test_master_position_reaching_zero_closes_the_slave_exactly() -> None:
    d = decide(mfill("0.2", "0"), "0.033")  # no proportional dust: the whole 0.033

    assert legs(d) == [("SELL", "BOTH", "0.033", "close", True)]


def test_close_of_a_dust_position_below_min_notional_still_goes_reduce_only() -> None:
    d = decide(mfill("0.2", "0"), "0.001")  # 50 USDT, exempt

    assert legs(d) == [("SELL", "BOTH", "0.001", "close", True)]


@pytest.mark.parametrize(("before", "after", "slave"), [("0.2", "0", "0"), ("0.2", "0.1", "0"),
                                                       ("0.2", "0", "-0.1")])
def test_reduce_or_close_without_a_slave_position_is_skipped(before: str, after: str, slave: str) -> None:
    assert only_skip(decide(mfill(before, after), slave)) == "no_position"


def test_short_side_mirrors_with_sells_and_buys() -> None:
    opened = decide(mfill("0", "-0.2"))
    reduced = decide(mfill("-0.2", "-0.1"), "-0.1")
    closed = decide(mfill("-0.1", "0"), "-0.05")

    assert legs(opened) == [("SELL", "BOTH", "0.1", "open", False)]
    assert legs(reduced) == [("BUY", "BOTH", "0.05", "reduce", True)]
    assert legs(closed) == [("BUY", "BOTH", "0.05", "close", True)]


def test_flip_through_zero_is_a_reduce_only_close_then_an_opening() -> None:
    d = decide(mfill("1", "-0.5"), "0.1", k=D("0.1"))  # sell 1.5: close 0.1, open 0.05 short

    assert legs(d) == [("SELL", "BOTH", "0.1", "close", True), ("SELL", "BOTH", "0.05", "open", False)]
    assert d.sequential and d.skip is None
    assert [i.leg for i in d.intents] == [0, 1]
    assert d.intents[0].client_order_id != d.intents[1].client_order_id


def test_flip_whose_opening_is_too_small_still_closes_and_says_why() -> None:
    d = decide(mfill("1", "-0.5"), "0.003", k=D("0.001"))  # open 0.0005 -> 0

    assert legs(d) == [("SELL", "BOTH", "0.003", "close", True)]
    assert d.skip is not None and d.skip.reason == "not_copied" and d.intended == D("-0.0005")  # carried
    assert not d.sequential


def test_flip_without_a_slave_position_only_opens() -> None:
    d = decide(mfill("1", "-0.5"), "0", k=D("0.1"))

    assert legs(d) == [("SELL", "BOTH", "0.05", "open", False)]
    assert d.intents[0].leg == 0


def test_flip_opening_is_capped_from_flat_not_from_the_old_side() -> None:
    capped = cfg(ratio=D("0.1"), max_position_notional=D("2000"))  # 0.04 BTC

    d = decide(mfill("1", "-0.5"), "0.1", cfg=capped)  # old long 5000 USDT, closed first

    assert legs(d) == [("SELL", "BOTH", "0.1", "close", True), ("SELL", "BOTH", "0.04", "open", False)]


def test_unchanged_master_position_is_not_copied() -> None:
    assert only_skip(decide(mfill("0.1", "0.1", "BUY", qty="0.1"))) == "not_copied"


# --------------------------------------------------------------------------- futures: hedge, reverse


def test_hedge_mode_carries_position_side_and_never_sends_reduce_only() -> None:
    opened = decide(mfill("0", "0.2", ps="LONG"))
    reduced = decide(mfill("0.2", "0.1", ps="LONG"), "0.1")
    closed = decide(mfill("0.1", "0", ps="LONG"), "0.05")
    short = decide(mfill("0", "0.2", ps="SHORT"))

    assert legs(opened) == [("BUY", "LONG", "0.1", "open", False)]
    assert legs(reduced) == [("SELL", "LONG", "0.05", "reduce", False)]
    assert legs(closed) == [("SELL", "LONG", "0.05", "close", False)]
    assert legs(short) == [("SELL", "SHORT", "0.1", "open", False)]


def test_hedge_short_position_reported_negative_by_binance_is_read_as_a_size() -> None:
    d = decide(mfill("0.2", "0", ps="SHORT"), "-0.1")

    assert legs(d) == [("BUY", "SHORT", "0.1", "close", False)]


def test_hedge_reducing_orders_are_treated_as_min_notional_exempt() -> None:
    d = decide(mfill("0.3", "0.2", ps="LONG"), "0.003")  # 0.001 = 50 USDT

    assert legs(d) == [("SELL", "LONG", "0.001", "reduce", False)]


def test_reverse_one_way_flips_the_sign() -> None:
    rev = cfg(ratio=D("1"), reverse=True)

    opened = decide(mfill("0", "0.1"), k=D(1), cfg=rev)
    reduced = decide(mfill("0.1", "0.05"), "-0.1", k=D(1), cfg=rev)
    closed = decide(mfill("0.05", "0"), "-0.05", k=D(1), cfg=rev)
    wrong_side = decide(mfill("0.1", "0.05"), "0.1", k=D(1), cfg=rev)

    assert legs(opened) == [("SELL", "BOTH", "0.1", "open", False)]
    assert legs(reduced) == [("BUY", "BOTH", "0.05", "reduce", True)]
    assert legs(closed) == [("BUY", "BOTH", "0.05", "close", True)]
    assert only_skip(wrong_side) == "no_position"


def test_reverse_hedge_swaps_long_and_short() -> None:
    rev = cfg(ratio=D("1"), reverse=True)

    opened = decide(mfill("0", "0.2", ps="LONG"), k=D(1), cfg=rev)
    closed = decide(mfill("0.2", "0", ps="LONG"), "-0.2", k=D(1), cfg=rev)

    assert legs(opened) == [("SELL", "SHORT", "0.2", "open", False)]
    assert legs(closed) == [("BUY", "SHORT", "0.2", "close", False)]


def test_reverse_flip() -> None:
    d = decide(mfill("1", "-0.5"), "-0.1", k=D("0.1"), cfg=cfg(reverse=True))

    assert legs(d) == [("BUY", "BOTH", "0.1", "close", True), ("BUY", "BOTH", "0.05", "open", False)]


# --------------------------------------------------------------------------- caps, k, gates


def test_max_position_notional_clips_the_increase() -> None:
    capped = cfg(ratio=D("1"), max_position_notional=D("1000"))  # 0.02 BTC at 50,000

    d = decide(mfill("0", "0.1"), "0.015", cfg=capped)  # 750 held, room 250 = 0.005

    assert legs(d) == [("BUY", "BOTH", "0.005", "open", False)]


def test_cap_reached_skips() -> None:
    capped = cfg(ratio=D("1"), max_position_notional=D("1000"))

    full = decide(mfill("0", "0.1"), "0.02", cfg=capped)
    tiny_room = decide(mfill("0", "0.1"), "0.019", cfg=capped)  # room 0.001 = 50 USDT < 100
    tiny_room_up = decide(mfill("0", "0.1"), "0.019",
                          cfg=cfg(ratio=D("1"), max_position_notional=D("1000"),
                                  min_notional_policy="round_up"))

    assert only_skip(full) == "cap_reached"
    assert only_skip(tiny_room) == "cap_reached"
    assert only_skip(tiny_room_up) == "cap_reached"  # rounding up would exceed the cap


def test_per_symbol_cap_overrides_the_default() -> None:
    capped = cfg(ratio=D("1"), max_position_notional=D("100000"), symbol_max_notional={"BTCUSDT": D("500")})

    d = decide(mfill("0", "0.1"), cfg=capped)

    assert legs(d) == [("BUY", "BOTH", "0.01", "open", False)]


def test_cannot_size_skips_increases_but_still_mirrors_reductions_and_closes() -> None:
    k = CannotSize("master equity is 0")

    assert only_skip(decide(mfill("0", "0.1"), k=k)) == "cannot_size"
    assert legs(decide(mfill("0.2", "0.1"), "0.1", k=k)) == [("SELL", "BOTH", "0.05", "reduce", True)]
    assert legs(decide(mfill("0.2", "0"), "0.1", k=k)) == [("SELL", "BOTH", "0.1", "close", True)]


def test_orders_above_market_max_qty_are_split_into_legs() -> None:
    d = decide(mfill("0", "250"), k=D("1"))  # MARKET_LOT_SIZE maxQty 120

    assert [i.qty for i in d.intents] == [D("120"), D("120"), D("10")]
    assert [i.leg for i in d.intents] == [0, 1, 2]
    assert len({i.client_order_id for i in d.intents}) == 3
    assert not d.sequential


def test_a_close_above_market_max_qty_is_split_reduce_only() -> None:
    d = decide(mfill("300", "0"), "130")

    assert legs(d) == [("SELL", "BOTH", "120", "close", True), ("SELL", "BOTH", "10", "close", True)]


def test_an_order_needing_too_many_legs_is_refused() -> None:
    d = decide(mfill("0", "900"), k=D("10"))  # 9000 BTC in chunks of 120 = 75 orders

    assert only_skip(d) == "exchange_rejected"


@pytest.mark.parametrize(("config", "kw", "reason"), [
    (cfg(enabled=False), {}, "disabled"),
    (cfg(markets=("spot",)), {}, "disabled"),
    (cfg(paused=True), {}, "paused"),
    (CFG, {"paused_all": True}, "paused"),
    (CFG, {"refused": "position mode differs (hedge vs one-way) and slave not flat"}, "market_refused"),
    (cfg(symbols_allow=("ETHUSDT",)), {}, "symbol_filtered"),
    (cfg(symbols_deny=("BTCUSDT",)), {}, "symbol_filtered"),
])
def test_gates_skip_with_their_reason(config: SlaveConfig, kw: dict[str, Any], reason: str) -> None:
    for fill, pos in ((mfill("0", "0.1"), "0"), (mfill("0.1", "0"), "0.05")):
        assert only_skip(decide(fill, pos, cfg=config, **kw)) == reason


def test_unknown_symbol_is_skipped() -> None:
    d = decide_fill(mfill("0", "0.1"), slave_id="s1", config=CFG, k=D(1), filters=None,
                    holding=SlaveHolding())

    assert only_skip(d) == "unknown_symbol"


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
    d = decide(mfill("0", "0.1", market="spot"), "0.01", k=D(1),
               cfg=cfg(max_position_notional=D("1000")))  # held 500, room 500 = 0.01

    assert legs(d) == [("BUY", "BOTH", "0.01", "open", False)]


# --------------------------------------------------------------------------- cross margin


def margin_effects(d: Decision) -> list[str | None]:
    return [i.side_effect for i in d.intents]


def test_margin_short_open_borrows_and_close_repays() -> None:
    opened = decide(mfill("0", "-0.02", market="margin", borrowed_before=D(0),
                          borrowed_after=D("0.02"), side_effect="MARGIN_BUY"))
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
    d = decide(mfill("-0.02", "-0.01", market="margin", borrowed_before=D("0.02"),
                     borrowed_after=D("0.01")), "-0.01")

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


@given(before=st.integers(-300, 300), after=st.integers(-300, 300), slave=st.integers(-300, 300),
       k=st.sampled_from([D("0.001"), D("0.1"), D("0.5"), D("1"), D("3")]),
       policy=st.sampled_from(["skip", "round_up"]), reverse=st.booleans(),
       ps=st.sampled_from(["BOTH", "LONG", "SHORT"]))
def test_every_futures_fill_yields_valid_intents_or_exactly_one_skip(
        before: int, after: int, slave: int, k: D, policy: str, reverse: bool, ps: str) -> None:
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


# --------------------------------------------------------------------------- client order ids


def test_client_order_id_is_deterministic_short_and_in_charset() -> None:
    a = client_order_id("s1", 123, 456, 0, market="usdm", symbol="BTCUSDT")
    b = client_order_id("s1", 123, 456, 0, market="usdm", symbol="BTCUSDT")

    assert a == b
    assert a.startswith("ct") and len(a) == 26
    assert FUTURES_CID.match(a) and SAFE_CID.match(a)


def test_client_order_id_differs_by_every_input() -> None:
    base = dict(slave_id="s1", master_order_id=123, master_trade_id=456, leg=0, market="usdm", symbol="BTCUSDT")
    variants = [dict(base, slave_id="s2"), dict(base, master_order_id=124), dict(base, master_trade_id=457),
                dict(base, leg=1), dict(base, market="spot"), dict(base, symbol="ETHUSDT")]

    ids = {client_order_id(**base)} | {client_order_id(**v) for v in variants}  # type: ignore[arg-type]

    assert len(ids) == 7


@given(keys=st.sets(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 3)),
                    min_size=2, max_size=60))
def test_client_order_ids_are_unique_across_fills_and_legs(keys: set[tuple[int, int, int]]) -> None:
    ids = {client_order_id("s1", o, t, leg, market="usdm", symbol="BTCUSDT") for o, t, leg in keys}

    assert len(ids) == len(keys)
    assert all(len(i) <= 36 and SAFE_CID.match(i) for i in ids)


def test_reconcile_ids_have_their_own_prefix_and_follow_the_nonce() -> None:
    a = reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r7", 0)

    assert a.startswith("cr") and len(a) == 26 and SAFE_CID.match(a)
    assert a == reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r7", 0)
    assert a != reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r8", 0)


# --------------------------------------------------------------------------- reconciliation


def pos(qty: str, ps: str = "BOTH", symbol: str = "BTCUSDT", entry: str = "50000") -> PositionEntry:
    return PositionEntry(symbol=symbol, position_side=ps, qty=D(qty), entry_price=D(entry))


def reconcile(master: list[PositionEntry], slave: dict[tuple[str, str], str], *,
              config: SlaveConfig = CFG, k: D = D("0.5"), market: str = "usdm",
              prices: dict[str, D] | None = None) -> list[OrderIntent]:
    return reconcile_target(master, {key: D(v) for key, v in slave.items()}, k, {"BTCUSDT": FUT},
                            market=market, slave_id="s1", config=config, nonce="r1", prices=prices)


def rlegs(intents: list[OrderIntent]) -> list[tuple[str, str, str, str, bool]]:
    return [(i.side, i.position_side, format_decimal(i.qty), i.kind, i.reduce_only) for i in intents]


def test_reconcile_in_sync_or_within_one_step_does_nothing() -> None:
    assert reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "0.1"}) == []
    assert reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "0.099"}) == []


def test_reconcile_adds_what_is_missing_beyond_one_step() -> None:
    out = reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "0.098"})  # 0.002 = 100 USDT

    assert rlegs(out) == [("BUY", "BOTH", "0.002", "open", False)]
    assert out[0].client_order_id == reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r1", 0)


def test_reconcile_trims_an_oversized_position_reduce_only() -> None:
    out = reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "0.15"})

    assert rlegs(out) == [("SELL", "BOTH", "0.05", "reduce", True)]


def test_reconcile_closes_dust_when_the_master_is_flat() -> None:
    out = reconcile([], {("BTCUSDT", "BOTH"): "0.001"})

    assert rlegs(out) == [("SELL", "BOTH", "0.001", "close", True)]


def test_reconcile_wrong_side_closes_then_opens() -> None:
    out = reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "-0.05"})

    assert rlegs(out) == [("BUY", "BOTH", "0.05", "close", True), ("BUY", "BOTH", "0.1", "open", False)]
    assert [i.leg for i in out] == [0, 1]


def test_reconcile_opens_missing_positions_and_rounds_expected_to_nearest_step() -> None:
    out = reconcile([pos("0.0155")], {}, k=D("1"))  # expected 0.016 (nearest)

    assert rlegs(out) == [("BUY", "BOTH", "0.016", "open", False)]


def test_reconcile_hedge_reverse_maps_long_to_short() -> None:
    rev = cfg(reverse=True)

    in_sync = reconcile([pos("0.2", "LONG")], {("BTCUSDT", "SHORT"): "-0.1"}, config=rev)
    missing = reconcile([pos("0.2", "LONG")], {}, config=rev)

    assert in_sync == []
    assert rlegs(missing) == [("SELL", "SHORT", "0.1", "open", False)]


def test_reconcile_reverse_one_way_expects_the_opposite_sign() -> None:
    out = reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "-0.1"}, config=cfg(reverse=True))

    assert out == []


def test_reconcile_skips_filtered_and_unknown_symbols() -> None:
    out = reconcile([pos("0.2"), pos("5", symbol="ETHUSDT")], {},
                    config=cfg(symbols_deny=("BTCUSDT",)))

    assert out == []  # BTCUSDT denied, ETHUSDT has no filters


def test_reconcile_increase_needs_a_price_but_closes_do_not() -> None:
    no_price = [pos("0.2", entry="0")]

    assert reconcile(no_price, {}) == []
    assert rlegs(reconcile(no_price, {}, prices={"BTCUSDT": PRICE})) == [("BUY", "BOTH", "0.1", "open", False)]
    assert rlegs(reconcile([], {("BTCUSDT", "BOTH"): "0.5"})) == [("SELL", "BOTH", "0.5", "close", True)]


def test_reconcile_increase_below_min_notional_is_left_out() -> None:
    # expected 0.1, actual 0.0985: drift 0.0015 > one step, but 0.0015 -> 0.001 BTC = 50 USDT < 100
    out = reconcile([pos("0.2")], {("BTCUSDT", "BOTH"): "0.0985"}, k=D("0.5"))

    assert out == []


def test_reconcile_margin_short_uses_side_effects() -> None:
    out = reconcile_target([pos("-0.02")], {}, D("0.5"), {"BTCUSDT": SPOT}, market="margin",
                           slave_id="s1", config=CFG, nonce="n")

    assert rlegs(out) == [("SELL", "BOTH", "0.01", "open", False)]
    assert [i.side_effect for i in out] == ["MARGIN_BUY"]


def test_rounding_remainder_is_carried_so_scale_ins_do_not_drift():
    """k = 1.9999: a 0.5 scale-in is 0.99995, rounded down to 0.999. Carrying the remainder into
    the next increase keeps the slave within one step of k x the master however many scale-ins
    come; without it five scale-ins would leave it five steps short."""
    k = D("1.9999")
    held, intended, master = D(0), D(0), D(0)
    for i in range(5):
        d = decide(mfill(str(master), str(master + D("0.5")), order_id=i, trade_id=i), str(held),
                   k=k, intended=intended)
        qty = sum((x.qty for x in d.intents), D(0))
        held += qty
        master += D("0.5")
        assert d.intended is not None
        intended = d.intended
        assert intended == k * master
        assert abs(held - k * master) <= FUT.step_size, (i, held, k * master)
    assert held == D("4.999")  # k x 2.5 = 4.99975
    no_carry = sum((x.qty for x in decide(mfill("0", "0.5"), k=k).intents), D(0)) * 5
    assert no_carry == D("4.995")  # what rounding each fill alone would have given


def test_a_fresh_position_starts_without_carry():
    d = decide(mfill("0", "0.5"), "0", k=D("2"), intended=D("0.0009"))
    assert d.intended == D("1.0") and legs(d) == [("BUY", "BOTH", "1", "open", False)]


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


def margin_holding(**over: Any) -> SlaveHolding:
    base: dict[str, Any] = dict(position=D(0), free=D(0), margin_level=D("999"), quote_free=D("22500"),
                                assets_value=D("25000"), liabilities_value=D(0))
    base.update(over)
    return SlaveHolding(**base)


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
    allowed = decide_fill(fill, slave_id="s1", config=cfg(margin_level_min=D("2.5")), k=D("0.5"), filters=SPOT,
                          holding=holding)
    too_low_now = decide_fill(fill, slave_id="s1", config=guarded, k=D("0.5"), filters=SPOT,
                              holding=margin_holding(margin_level=D("1.2")))

    assert blocked.skip is not None and blocked.skip.reason == "cap_reached"
    assert blocked.skip.notify == "margin_level_low" and not blocked.intents
    assert legs(allowed) == [("BUY", "BOTH", "0.75", "open", False)]
    assert too_low_now.skip is not None and too_low_now.skip.notify == "margin_level_low"


def test_spot_and_margin_corrections_that_buy_are_grossed_up_by_the_commission() -> None:
    kw: dict[str, Any] = dict(slave_id="s1", config=CFG, nonce="n", prices={"BTCUSDT": PRICE},
                              buy_commission=D("0.001"))
    spot = reconcile_target([PositionEntry(symbol="BTCUSDT", position_side="BOTH", qty=D("0.1"))],
                            {("BTCUSDT", "BOTH"): D("0.015")}, D("0.5"), {"BTCUSDT": SPOT}, market="spot", **kw)
    cover = reconcile_target([], {("BTCUSDT", "BOTH"): D("-0.02")}, D("0.5"), {"BTCUSDT": SPOT},
                             market="margin", **kw)
    sell = reconcile_target([], {("BTCUSDT", "BOTH"): D("0.02")}, D("0.5"), {"BTCUSDT": SPOT}, market="margin", **kw)

    assert [(i.side, i.qty) for i in spot] == [("BUY", D("0.03503"))]  # 0.035 / 0.999, rounded down
    assert [(i.side, i.qty, i.side_effect) for i in cover] == [("BUY", D("0.02003"), "AUTO_REPAY")]  # rounded up
    assert [(i.side, i.qty) for i in sell] == [("SELL", D("0.02"))]  # sells need no gross-up
