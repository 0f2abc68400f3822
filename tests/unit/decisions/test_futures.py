"""actors/domain/decisions.py on USD-M fills: one-way, hedge, reverse, caps, k and the gates; every
decision against the filters (pure: no I/O).
"""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

import pytest

from actors.domain.decisions import SlaveHolding, client_order_id, decide_fill
from actors.domain.sizing import CannotSize
from protocol.messages import SlaveConfig
from tests.helpers.decisions import CFG, PRICE, cfg, decide, legs, mfill, only_skip

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


@pytest.mark.parametrize(("before", "after", "slave"), [("0.2", "0", "0"), ("0.2", "0.1", "0"), ("0.2", "0", "-0.1")])
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
    tiny_room_up = decide(
        mfill("0", "0.1"), "0.019", cfg=cfg(ratio=D("1"), max_position_notional=D("1000"), min_notional_policy="round_up")
    )

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


@pytest.mark.parametrize(
    ("config", "kw", "reason"),
    [
        (cfg(enabled=False), {}, "disabled"),
        (cfg(markets=("spot",)), {}, "disabled"),
        (cfg(paused=True), {}, "paused"),
        (CFG, {"paused_all": True}, "paused"),
        (CFG, {"refused": "position mode differs (hedge vs one-way) and slave not flat"}, "market_refused"),
        (cfg(symbols_allow=("ETHUSDT",)), {}, "symbol_filtered"),
        (cfg(symbols_deny=("BTCUSDT",)), {}, "symbol_filtered"),
    ],
)
def test_gates_skip_with_their_reason(config: SlaveConfig, kw: dict[str, Any], reason: str) -> None:
    for fill, pos in ((mfill("0", "0.1"), "0"), (mfill("0.1", "0"), "0.05")):
        assert only_skip(decide(fill, pos, cfg=config, **kw)) == reason


def test_unknown_symbol_is_skipped() -> None:
    d = decide_fill(mfill("0", "0.1"), slave_id="s1", config=CFG, k=D(1), filters=None, holding=SlaveHolding())

    assert only_skip(d) == "unknown_symbol"
