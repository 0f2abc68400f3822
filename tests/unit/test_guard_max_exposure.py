"""The max total exposure guard (issue 22, `max_total_exposure = USDT`, actors/slave/guards.py): the
notionals of all the slave's positions, over its markets and symbols, stay under the limit. An
entry gets at most the room the other positions leave (sent smaller, a person told once), none
when no room is left (journalled "max_exposure", told once per time it is full); reductions and
closes are always copied; a close makes room again; a resync grows positions only into the room.
Real `MarketMirror`s on in-memory accounts (tests/helpers/mirror.py)."""

from __future__ import annotations

from decimal import Decimal

from protocol.messages import MirrorSkipped, SlaveConfig, SlaveError
from tests.helpers.mirror import Harness

D = Decimal
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_total_exposure=D("60000"))


def skips(h: Harness) -> list[str]:
    return [r.reason for r in h.reports if isinstance(r, MirrorSkipped)]


def told(h: Harness) -> list[str]:
    return [r.code for r in h.reports if isinstance(r, SlaveError)]


def test_entries_fill_the_room_then_stop_and_exits_make_room_again() -> None:
    h = Harness(CONFIG)
    assert [i.qty for i in h.fill("BTCUSDT", "1")] == [D("0.5")]  # 25000 USDT
    assert [i.qty for i in h.fill("ETHUSDT", "20", price="3000")] == [D(10)]  # 30000: 55000 in all, under the limit
    assert told(h) == [] and skips(h) == []
    (clipped,) = h.fill("SOLUSDT", "100", price="150")  # k x 100 = 50 SOL (7500) would pass it: the 5000 left
    assert clipped.qty == D("33.33") and told(h) == ["guard_max_exposure"]
    assert h.fill("SOLUSDT", "120", price="150") == [] and skips(h) == ["max_exposure"]  # full: skipped, not told again
    assert told(h) == ["guard_max_exposure"]
    assert h.fill("ETHUSDT", "40", price="3000") == [] and skips(h) == ["max_exposure"] * 2  # an increase: skipped too
    assert h.corrections() == []  # a check corrects no entry the guard held back

    (reduce,) = h.fill("BTCUSDT", "0.5")  # the master halves its BTC: so do we, whatever the guard
    assert (reduce.side, reduce.qty) == ("SELL", D("0.25"))
    (entry,) = h.fill("ETHUSDT", "50", price="3000")  # 12500 freed: the next increase gets it (k x 10 = 5 ETH = 15000)
    assert entry.qty == D("4.166") and h.corrections() == []
    (close,) = h.fill("ETHUSDT", "0", price="3000")
    assert (close.kind, close.qty) == ("close", D("14.166")) and h.position("ETHUSDT") == 0


def test_a_hedge_long_and_short_both_count_and_other_markets_too() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_total_exposure=D("30000"), markets=("usdm", "spot")))
    spot = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), markets=("spot",)), market="spot")
    spot.account.positions[("ETHUSDT", "BOTH")] = D(2)
    spot.mirror.last_price["ETHUSDT"] = D(3000)  # 6000 USDT of spot ETH
    h.slave.mirrors = {"usdm": h.mirror, "spot": spot.mirror}
    assert [i.qty for i in h.fill("BTCUSDT", "0.6", ps="LONG")] == [D("0.3")]  # 15000
    (short,) = h.fill("BTCUSDT", "0.6", ps="SHORT")  # 15000 more would pass 30000: 9000 left
    assert short.qty == D("0.18")
    assert h.fill("BTCUSDT", "1", ps="SHORT") == [] and skips(h) == ["max_exposure"]


def test_a_resync_grows_positions_only_into_the_room_in_symbol_order() -> None:
    h = Harness(CONFIG)
    h.fill("BTCUSDT", "1")  # 25000 held
    for symbol, qty, price in (("SOLUSDT", "200", "150"), ("ETHUSDT", "20", "3000")):  # opened while the slave was away
        h.master[(symbol, "BOTH")] = D(qty)
        h.price[symbol] = D(price)
        h.mirror.last_price[symbol] = D(price)
    target = h.mirror._moved(h.snapshot())
    # ETHUSDT first (10 ETH: 30000, 55000 in all), then SOLUSDT gets the 5000 left: 33.33... SOL, not 100
    assert target[("ETHUSDT", "BOTH")] == D(10) and abs(target[("SOLUSDT", "BOTH")] * 150 - 5000) < D("0.01")
    assert told(h) == ["guard_max_exposure"]


def test_no_limit_no_change() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5")))
    assert [i.qty for i in h.fill("BTCUSDT", "10")] == [D(5)] and told(h) == []


def test_an_entry_decided_on_another_symbol_counts_before_it_fills() -> None:
    h = Harness(CONFIG)
    h.mirror.book.intended[("ETHUSDT", "BOTH")] = D(10)  # decided (30000 at 3000), its order not filled yet
    h.mirror.last_price["ETHUSDT"] = D(3000)
    (btc,) = h.fill("BTCUSDT", "2")  # k x 2 = 1 BTC (50000) would pass 60000: the 30000 left
    assert btc.qty == D("0.6")
