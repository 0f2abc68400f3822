"""Client order ids (deterministic, unique, in Binance's charset) and reconciliation against the one
target (actors/domain/decisions.py reconcile_target), and the rounding carry.
"""

from __future__ import annotations

from decimal import Decimal as D

from hypothesis import given, strategies as st

from actors.domain.decisions import client_order_id, reconcile_client_order_id, reconcile_target
from tests.helpers.decisions import CFG, FUT, FUTURES_CID, PRICE, SAFE_CID, SPOT, cfg, decide, legs, mfill, pos, reconcile, rlegs

# --------------------------------------------------------------------------- client order ids


def test_client_order_id_is_deterministic_short_and_in_charset() -> None:
    a = client_order_id("s1", 123, 456, 0, market="usdm", symbol="BTCUSDT")
    b = client_order_id("s1", 123, 456, 0, market="usdm", symbol="BTCUSDT")

    assert a == b
    assert a.startswith("ct") and len(a) == 26
    assert FUTURES_CID.match(a) and SAFE_CID.match(a)


def test_client_order_id_differs_by_every_input() -> None:
    base = dict(slave_id="s1", master_order_id=123, master_trade_id=456, leg=0, market="usdm", symbol="BTCUSDT")
    variants = [
        dict(base, slave_id="s2"),
        dict(base, master_order_id=124),
        dict(base, master_trade_id=457),
        dict(base, leg=1),
        dict(base, market="spot"),
        dict(base, symbol="ETHUSDT"),
    ]

    ids = {client_order_id(**base)} | {client_order_id(**v) for v in variants}  # type: ignore[arg-type]

    assert len(ids) == 7


@given(keys=st.sets(st.tuples(st.integers(0, 2**40), st.integers(0, 2**40), st.integers(0, 3)), min_size=2, max_size=60))
def test_client_order_ids_are_unique_across_fills_and_legs(keys: set[tuple[int, int, int]]) -> None:
    ids = {client_order_id("s1", o, t, leg, market="usdm", symbol="BTCUSDT") for o, t, leg in keys}

    assert len(ids) == len(keys)
    assert all(len(i) <= 36 and SAFE_CID.match(i) for i in ids)


def test_reconcile_ids_have_their_own_prefix_and_follow_the_nonce() -> None:
    a = reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r7", 0)

    assert a.startswith("cr") and len(a) == 26 and SAFE_CID.match(a)
    assert a == reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r7", 0)
    assert a != reconcile_client_order_id("s1", "usdm", "BTCUSDT", "BOTH", "r8", 0)


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
    out = reconcile([pos("0.2"), pos("5", symbol="ETHUSDT")], {}, config=cfg(symbols_deny=("BTCUSDT",)))

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
    out = reconcile_target([pos("-0.02")], {}, D("0.5"), {"BTCUSDT": SPOT}, market="margin", slave_id="s1", config=CFG, nonce="n")

    assert rlegs(out) == [("SELL", "BOTH", "0.01", "open", False)]
    assert [i.side_effect for i in out] == ["MARGIN_BUY"]


def test_rounding_remainder_is_carried_so_scale_ins_do_not_drift():
    """k = 1.9999: a 0.5 scale-in is 0.99995, rounded down to 0.999. Carrying the remainder into
    the next increase keeps the slave within one step of k x the master however many scale-ins
    come; without it five scale-ins would leave it five steps short."""
    k = D("1.9999")
    held, intended, master = D(0), D(0), D(0)
    for i in range(5):
        d = decide(mfill(str(master), str(master + D("0.5")), order_id=i, trade_id=i), str(held), k=k, intended=intended)
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
