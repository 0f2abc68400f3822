"""Fixed-amount and fixed-fraction sizing (issue 22): every master order that opens or adds is
copied with one notional (an amount, or a fraction of the slave's equity) at its price, however
large and in however many fills; reductions keep the same-fraction rule, closes close. The
arithmetic (actors/domain/sizing.py), then real `MarketMirror`s on in-memory accounts
(tests/helpers/mirror.py), each step checked and the periodic check asked for corrections (none
may be due: the copy is right at every fill)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.domain.sizing import CannotSize, PerIncrease, fill_k, growth, order_increase, order_k, ratio_k
from actors.domain.target import advance
from protocol.messages import MasterOrder, MirrorSkipped, RestingOrder, SlaveConfig
from tests.helpers.mirror import EPOCH, Harness, run_sync

D = Decimal
AMOUNT = SlaveConfig(id="s1", sizing="fixed_amount", amount=D("300"))
FRACTION = SlaveConfig(id="s1", sizing="fixed_fraction", fraction=D("0.03"))  # 3 % of 10000: 300


def sent(h: Harness) -> list[tuple[str, Decimal, str]]:
    return [(i.side, i.qty, i.kind) for i in h.account.sent]


# -- the arithmetic ------------------------------------------------------------------------------


def test_k_is_the_notional_over_what_the_order_adds() -> None:
    assert ratio_k(AMOUNT, D(10000), D(99), increase=D(15000)) == D("0.02")  # 300 / 15000, the equities play no part
    assert ratio_k(FRACTION, D(20000), None, increase=D(15000)) == D("0.04")  # 0.03 x 20000 / 15000
    for missing in (None, D(0), D("NaN")):
        k = ratio_k(AMOUNT, D(10000), D(10000), increase=missing)
        assert isinstance(k, CannotSize) and "not known" in k.reason
    k = ratio_k(FRACTION, None, D(10000), increase=D(15000))
    assert isinstance(k, CannotSize) and "slave equity" in k.reason
    assert isinstance(ratio_k(AMOUNT, D(1), D(1)), CannotSize)  # no single k: status shows none
    assert order_k(AMOUNT, None, D(3000), D(0)) == 0  # an order that only reduces needs none


@pytest.mark.parametrize(
    ("side", "ps", "qty", "reduce_only", "start", "adds"),
    [
        ("BUY", "BOTH", "5", False, "0", "5"),  # an opening
        ("BUY", "BOTH", "5", False, "2", "5"),  # an increase
        ("SELL", "BOTH", "1", False, "2", "0"),  # a reduction
        ("SELL", "BOTH", "3", False, "1", "2"),  # a one-way flip: the 2 past zero add
        ("SELL", "BOTH", "3", True, "1", "0"),  # reduce-only never adds
        ("BUY", "BOTH", "1", False, "-3", "0"),  # buys back part of a short
        ("BUY", "LONG", "4", False, "9", "4"),  # hedge: BUY LONG adds all
        ("SELL", "LONG", "4", False, "9", "0"),  # SELL LONG reduces all
        ("SELL", "SHORT", "4", False, "0", "4"),  # SELL SHORT adds all
        ("BUY", "SHORT", "4", False, "9", "0"),
    ],
)
def test_order_increase(side: str, ps: str, qty: str, reduce_only: bool, start: str, adds: str) -> None:
    assert order_increase(side, ps, order_qty=D(qty), reduce_only=reduce_only, position_at_start=D(start)) == D(adds)


def test_growth_and_the_fill_k_of_an_order_in_two_fills() -> None:
    assert [growth(D(a), D(b)) for a, b in (("0", "2"), ("2", "5"), ("5", "3"), ("1", "-2"), ("-1", "-4"), ("3", "0"))] == [
        D(2), D(3), D(0), D(2), D(3), D(0),
    ]  # fmt: skip
    h = Harness(AMOUNT)
    first = h.make_fill("ETHUSDT", "2", price="3000", order_id=9, order_qty="5")
    second = h.make_fill("ETHUSDT", "5", price="3000", order_id=9, order_qty="5", cum_qty="5")
    assert fill_k(AMOUNT, D(10000), D(10000), first) == fill_k(AMOUNT, D(10000), D(10000), second) == D("0.02")  # 300 / (3000 x 5)
    flip = h.make_fill("ETHUSDT", "-1", price="3000", order_id=10, order_qty="6")  # sells 6 from long 5: 1 adds
    assert fill_k(AMOUNT, D(10000), D(10000), flip) == D("0.1")
    unknown = h.make_fill("ETHUSDT", "-3", price="3000", order_id=11)  # no order quantity: this fill is the order
    assert fill_k(AMOUNT, D(10000), D(10000), unknown) == D("0.05")  # 300 / (3000 x 2)
    assert fill_k(AMOUNT, D(10000), D(10000), unknown, first_of_order=False) == 0  # its later fills add nothing


def test_a_resync_takes_a_positions_growth_as_one_entry_at_the_masters_entry_price() -> None:
    per = PerIncrease(D(300), {"ETHUSDT": D(3000), "BTCUSDT": D(50000)})
    then, now = {("ETHUSDT", "BOTH"): D(5)}, {("ETHUSDT", "BOTH"): D(9), ("BTCUSDT", "LONG"): D(2)}
    moved = advance({("ETHUSDT", "BOTH"): D("0.1")}, then, now, per, reverse=False)  # grew by 4 and from 0 to 2: each one entry
    assert moved == {("ETHUSDT", "BOTH"): D("0.2"), ("BTCUSDT", "LONG"): D("0.006")}
    halved = advance(moved, {("ETHUSDT", "BOTH"): D(9)}, {("ETHUSDT", "BOTH"): D("4.5")}, per, reverse=False)
    assert halved[("ETHUSDT", "BOTH")] == D("0.1")  # a reduction: the same fraction, no price needed
    unpriced = advance({}, {}, {("SOLUSDT", "BOTH"): D(4)}, per, reverse=False)
    assert unpriced == {}  # no price known: not joined


def test_the_config_names_what_is_missing() -> None:
    with pytest.raises(ValueError, match="needs `amount`"):
        SlaveConfig(id="s1", sizing="fixed_amount")
    with pytest.raises(ValueError, match="needs `fraction`"):
        SlaveConfig(id="s1", sizing="fixed_fraction")
    with pytest.raises(ValueError, match="`amount` must be a finite decimal > 0"):
        SlaveConfig(id="s1", sizing="fixed_amount", amount=D(-5))
    with pytest.raises(ValueError, match="taken for a mistake"):
        SlaveConfig(id="s1", sizing="fixed_fraction", fraction=D(50))


# -- a mirror, fill by fill ----------------------------------------------------------------------


@pytest.mark.parametrize("config", [AMOUNT, FRACTION], ids=["fixed_amount", "fixed_fraction"])
def test_entries_scale_in_scale_out_and_close_one_way(config: SlaveConfig) -> None:
    h = Harness(config)
    (a,) = h.fill("ETHUSDT", "2", price="3000", order_id=1, order_qty="5")  # an order of 5 in two fills: 2, then 3
    (b,) = h.fill("ETHUSDT", "5", price="3000", order_id=1, order_qty="5", cum_qty="5")
    assert (a.qty, b.qty) == (D("0.04"), D("0.06")) and h.position("ETHUSDT") == D("0.1")  # 300 USDT at 3000, once
    assert h.corrections() == []
    (c,) = h.fill("ETHUSDT", "15", price="3000", order_id=2, order_qty="10")  # a scale-in twice the size: the same 300
    assert (c.side, c.qty, c.kind) == ("BUY", D("0.1"), "open") and h.position("ETHUSDT") == D("0.2")
    (d,) = h.fill("ETHUSDT", "7.5", price="3100", order_id=3, order_qty="7.5")  # half out: half of ours
    assert (d.side, d.qty, d.kind) == ("SELL", D("0.1"), "reduce") and h.position("ETHUSDT") == D("0.1")
    assert h.corrections() == []
    (e,) = h.fill("ETHUSDT", "0", price="3200", order_id=4, order_qty="7.5")
    assert (e.side, e.qty, e.kind) == ("SELL", D("0.1"), "close") and h.position("ETHUSDT") == 0
    assert h.corrections() == [] and len(h.account.sent) == 5


def test_a_flip_closes_then_opens_the_amount_and_hedge_sides_are_apart() -> None:
    h = Harness(AMOUNT)
    h.fill("ETHUSDT", "1", price="3000", order_qty="1")
    close, opening = h.fill("ETHUSDT", "-2", price="3000", order_qty="3")  # sells 3: closes 1, opens 2 short
    assert (close.side, close.qty, close.kind) == ("SELL", D("0.1"), "close")
    assert (opening.side, opening.qty, opening.kind) == ("SELL", D("0.1"), "open") and h.position("ETHUSDT") == D("-0.1")
    assert h.corrections() == []
    h.fill("BTCUSDT", "3", ps="LONG", price="50000", order_qty="3")
    h.fill("BTCUSDT", "1", ps="SHORT", price="50000", order_qty="1")
    assert (h.position("BTCUSDT", "LONG"), h.position("BTCUSDT", "SHORT")) == (D("0.006"), D("0.006"))
    (r,) = h.fill("BTCUSDT", "2", ps="LONG", price="51000", order_qty="1")  # a third of the long out
    assert (r.side, r.qty) == ("SELL", D("0.002")) and h.corrections() == []


def test_an_order_without_its_quantity_is_copied_once_with_its_first_fill() -> None:
    h = Harness(AMOUNT)
    (first,) = h.fill("ETHUSDT", "1", price="3000", order_id=7)
    assert first.qty == D("0.1")
    assert h.fill("ETHUSDT", "4", price="3000", order_id=7, cum_qty="4") == []  # the same order: nothing more
    assert [s.reason for s in h.reports if isinstance(s, MirrorSkipped)] == ["not_copied"]
    (again,) = h.fill("ETHUSDT", "6", price="3000", order_id=8)  # the next order: the amount again
    assert again.qty == D("0.1") and h.position("ETHUSDT") == D("0.2") and h.corrections() == []


def test_a_fraction_without_equity_skips_entries_and_still_copies_exits() -> None:
    h = Harness(FRACTION)
    h.fill("ETHUSDT", "5", price="3000", order_qty="5")
    h.account.equity = None
    assert h.fill("ETHUSDT", "10", price="3000", order_qty="5") == []
    assert [s.reason for s in h.reports if isinstance(s, MirrorSkipped)] == ["cannot_size"]
    (close,) = h.fill("ETHUSDT", "0", price="3000", order_qty="10")
    assert (close.qty, close.kind) == (D("0.1"), "close")


def test_a_check_after_a_gap_joins_the_growth_at_the_masters_entry_price() -> None:
    h = Harness(AMOUNT)
    h.fill("ETHUSDT", "5", price="3000", order_qty="5")
    h.master[("ETHUSDT", "BOTH")] = D(9)  # the master added 4 while the slave missed the fill
    h.price["ETHUSDT"] = D(2500)  # its entry price, as the snapshot carries it
    (join,) = h.correct()
    assert (join.side, join.qty) == ("BUY", D("0.12")) and h.position("ETHUSDT") == D("0.22")  # 300 / 2500
    assert h.corrections() == []  # and nothing more at the next check


def test_a_resting_copy_is_the_amount_at_its_limit_price() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_amount", amount=D("290"), orders="mirror"))
    h.seq += 1
    o = RestingOrder(symbol="ETHUSDT", position_side="BOTH", side="BUY", order_id=41, client_order_id="w41", order_type="LIMIT",
                     time_in_force="GTC", price=D(2900), orig_qty=D(8), position_at_place=D(0))  # fmt: skip
    event = MasterOrder(market="usdm", epoch=EPOCH, seq=h.seq, action="placed", order=o, position=D(0), equity=D(10000),
                        t_exchange_ms=1, t_master_recv_ns=1, t_master_pub_ns=1)  # fmt: skip
    h.mirror.tracker.feed(EPOCH, event.seq)
    run_sync(h.mirror._mirror_order(event, 1))
    (copy,) = h.account.sent
    assert (copy.order_type, copy.price, copy.qty) == ("LIMIT", D(2900), D("0.1"))  # 290 / 2900, whatever the master's 8
