"""Issue 21, "one target", on spot and cross margin: the copy and the check aim at the same exact
intended position (the base-asset holding on spot, the net position on margin).

Driven through the real MarketMirror (tests/helpers/mirror.py) fill by fill, on the real spot
BTCUSDT filters of tests/fixtures: step 0.00001, min notional 10 USDT, so at 50,000 the smallest
order is 0.0002 BTC. Expected orders are computed here from the copy rule, not by the engine."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal as D
from pathlib import Path
from types import SimpleNamespace

import pytest

from actors.slave.target_store import TargetBook, book_for
from protocol.messages import SlaveConfig
from tests.helpers.decisions import SPOT
from tests.helpers.mirror import Harness

STEP = D("0.00001")
PRICE = D("50000")
MIN_ORDER = (D(10) / PRICE).quantize(STEP, rounding=ROUND_UP)  # 0.0002
MARKETS = ("spot", "margin")


def slave(market: str, ratio: str = "0.5", commission: str = "0", **over: object) -> Harness:
    cfg = SlaveConfig(id="s1", markets=(market,), sizing="fixed_ratio", ratio=D(ratio), **over)  # type: ignore[arg-type]
    return Harness(cfg, {"BTCUSDT": SPOT}, market=market, commission=commission)


def orders(sent: list) -> list[tuple[str, str]]:
    return [(i.side, f"{i.qty.normalize():f}") for i in sent]


def down(x: D) -> D:
    return x.quantize(STEP, rounding=ROUND_DOWN)


def nearest(x: D) -> D:
    return x.quantize(STEP, rounding=ROUND_HALF_EVEN)


def fmt(x: D) -> str:
    return f"{x.normalize():f}"


def test_the_reference_minimum_is_the_fixtures() -> None:
    assert MIN_ORDER == D("0.0002") and SPOT.step_size == STEP and SPOT.min_notional == 10


@pytest.mark.parametrize("market", MARKETS)
def test_round_up_then_the_periodic_check_sends_no_correction(market: str) -> None:
    h = slave(market, min_notional_policy="round_up")
    assert orders(h.fill("BTCUSDT", "0.0002")) == [("BUY", fmt(MIN_ORDER))]  # k x q = 0.0001: 5 USDT
    assert h.corrections() == []  # the over-copy is a policy outcome, not a drift
    # the next increase is smaller by the over-copy: intended 0.5 x 0.0012 = 0.0006, held 0.0002
    assert orders(h.fill("BTCUSDT", "0.0012")) == [("BUY", fmt(D("0.0006") - MIN_ORDER))]
    assert h.position("BTCUSDT") == D("0.0006")
    assert h.corrections() == []


@pytest.mark.parametrize("market", MARKETS)
def test_a_skipped_copy_is_never_placed_later(market: str) -> None:
    h = slave(market, min_notional_policy="skip")
    assert orders(h.fill("BTCUSDT", "0.0003")) == []  # 0.00015 x 50,000 = 7.5 USDT: dropped
    assert h.corrections() == []
    # the later fill, at twice the price, copies only its own move (0.5 x 0.001), and the check
    # at that price (where the skipped 0.00015 is worth 15 USDT) does not place the skipped part
    assert orders(h.fill("BTCUSDT", "0.0013", price="100000")) == [("BUY", fmt(D("0.5") * D("0.001")))]
    assert h.corrections() == []


@pytest.mark.parametrize("market", MARKETS)
def test_deferred_partials_are_sent_at_the_fill_that_makes_them_copyable(market: str) -> None:
    h = slave(market)  # defer is the default
    k, held, expected, sent = D("0.5"), D(0), [], []
    for after in ("0.0001", "0.0002", "0.0003", "0.0004", "0.0005"):
        want = k * D(after) - held  # the reference: intended - held, sent once it is copyable
        qty = down(want) if want * PRICE >= 10 else D(0)
        held += qty
        expected.append([("BUY", fmt(qty))] if qty else [])
        sent.append(orders(h.fill("BTCUSDT", after)))
        assert h.corrections() == []  # a deferred copy is never placed by a check
    assert sent == expected == [[], [], [], [("BUY", "0.0002")], []]
    assert h.position("BTCUSDT") == held


@pytest.mark.parametrize("market", MARKETS)
def test_a_sell_reduces_by_the_masters_fraction(market: str) -> None:
    h = slave(market, ratio="0.37")
    h.fill("BTCUSDT", "0.013")  # 0.00481
    held = down(D("0.37") * D("0.013"))
    assert h.position("BTCUSDT") == held
    f = (D("0.013") - D("0.0091")) / D("0.013")  # the master sold 30 %
    assert orders(h.fill("BTCUSDT", "0.0091")) == [("SELL", fmt(nearest(held * f)))]
    assert h.corrections() == []


@pytest.mark.parametrize("market", MARKETS)
def test_the_masters_sell_out_closes_exactly(market: str) -> None:
    h = slave(market, ratio="0.37")
    for after in ("0.013", "0.026", "0.0091"):
        h.fill("BTCUSDT", after)
    left = h.position("BTCUSDT")
    assert left > 0
    assert orders(h.fill("BTCUSDT", "0")) == [("SELL", fmt(left))]
    assert h.position("BTCUSDT") == 0
    assert h.corrections() == []


@pytest.mark.parametrize("market", MARKETS)
def test_a_resync_after_a_missed_fill_still_corrects(market: str) -> None:
    h = slave(market)
    h.fill("BTCUSDT", "0.01")  # slave 0.005
    h.make_fill("BTCUSDT", "0.02")  # the slave never saw this one (a sequence gap)
    assert orders(h.correct()) == [("BUY", "0.005")]
    h.make_fill("BTCUSDT", "0.01")  # missed again: the master sold half
    assert orders(h.correct()) == [("SELL", "0.005")]
    assert h.corrections() == []


def test_spot_buys_gross_up_the_commission_taken_from_the_base_bought() -> None:
    h = slave("spot", commission="0.001")
    # the master bought 0.01 and received 0.00999: its ratio of order to gain is 1 / 0.999
    assert orders(h.fill("BTCUSDT", "0.00999", qty=D("0.01"))) == [("BUY", "0.005")]
    assert h.position("BTCUSDT") == D("0.004995") == D("0.5") * D("0.00999")
    assert h.corrections() == []


def test_margin_short_defer_reduce_cover_and_flip() -> None:
    h = slave("margin")
    assert orders(h.fill("BTCUSDT", "-0.0002")) == []  # 0.0001 short: deferred
    assert [(i.side, fmt(i.qty), i.side_effect) for i in h.fill("BTCUSDT", "-0.0004")] == [("SELL", "0.0002", "MARGIN_BUY")]
    assert h.corrections() == []
    h.fill("BTCUSDT", "-0.02")  # slave -0.01
    assert h.position("BTCUSDT") == D("-0.01")
    assert orders(h.fill("BTCUSDT", "-0.015")) == [("BUY", "0.0025")]  # a quarter covered
    # a flip: the short closed exactly, then k x the new long
    assert orders(h.fill("BTCUSDT", "0.004")) == [("BUY", "0.0075"), ("BUY", "0.002")]
    assert h.position("BTCUSDT") == D("0.002")
    assert h.corrections() == []


def test_margin_cover_of_a_whole_short_buys_the_commission_too() -> None:
    h = slave("margin", commission="0.001")
    h.fill("BTCUSDT", "-0.02")  # slave sells 0.01 (sells take no commission in base)
    # the master bought 0.02002002 and received 0.02 less its commission: flat (no dust left)
    fill = h.make_fill("BTCUSDT", "0", qty=D("0.02002002"))
    sent = h.apply(fill)
    gross = min(D("0.02002002") / D("0.02"), D("1.01"))
    assert orders(sent) == [("BUY", fmt((D("0.01") * gross).quantize(STEP, rounding=ROUND_UP)))]
    assert h.position("BTCUSDT") >= 0  # no fee-sized loan left behind


@pytest.mark.parametrize("market", MARKETS)
def test_the_target_of_spot_and_margin_is_saved(market: str, tmp_path: Path) -> None:
    owner = SimpleNamespace(app=SimpleNamespace(state_dir=tmp_path), slave_id="s1")
    book = book_for(owner, market)
    assert book.path == tmp_path / "slaves" / "s1" / f"target-{market}.json"
    book.record(("BTCUSDT", "BOTH"), D("0.00481"), ("BTCUSDT", "BOTH"), D("0.013"))
    book.save_now()
    again = TargetBook(book.path)
    assert again.loaded and again.intended == {("BTCUSDT", "BOTH"): D("0.00481")}
    assert again.master == {("BTCUSDT", "BOTH"): D("0.013")}


def test_a_sell_refused_for_balance_reads_the_balances_again() -> None:
    """A spot / margin sell refused -2010 (insufficient balance) means our books hold more than the
    account does: the slave reads its balances again from REST at once, so the next fill and the
    next check start from what is really held (chaos seed 101 before the fix: the stale books
    stayed until the next resync, and a correction bought on top of them)."""
    from actors.binance.errors import BinanceAPIError
    from tests.helpers.mirror import BalanceSimAccount

    class Stale(BalanceSimAccount):
        real = D("0")
        refreshes = 0

        async def execute(self, intent):  # type: ignore[no-untyped-def]
            if intent.side == "SELL" and intent.qty > self.real:
                raise BinanceAPIError(400, -2010, "Account has insufficient balance for requested action.")
            return await super().execute(intent)

        async def refresh(self, equity: bool = True) -> None:
            self.refreshes += 1
            self.positions[("BTCUSDT", "BOTH")] = self.real

    h = Harness(SlaveConfig(id="s1", markets=("spot",), sizing="fixed_ratio", ratio=D("1")), {"BTCUSDT": SPOT}, market="spot")
    h.account.__class__ = Stale
    h.fill("BTCUSDT", "0.03")
    h.account.real = D("0.002")  # type: ignore[attr-defined]  # sold outside our books' sight
    assert h.fill("BTCUSDT", "0.015") == []  # 0.015 to sell, 0.002 held: refused
    assert h.account.refreshes == 1  # type: ignore[attr-defined]
    assert h.position("BTCUSDT") == D("0.002")
