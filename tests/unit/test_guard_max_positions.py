"""The max-open-positions guard (issue 22, `max_open_positions = N`, actors/slave/guards.py): an entry
beyond N open positions (held or intended, over every market the slave copies) is not copied,
from the (N+1)th on and not before; increases, reductions and closes always are; each skip is
journalled ("max_positions") and a person told once per time the slave is full; a close makes
room, and the next entry is copied; a resync joins the master's new positions while there is room,
in symbol order. Real `MarketMirror`s on in-memory accounts (tests/helpers/mirror.py)."""

from __future__ import annotations

from decimal import Decimal

from protocol.messages import MirrorSkipped, SlaveConfig, SlaveError
from tests.helpers.mirror import Harness

D = Decimal
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_open_positions=2)


def skips(h: Harness) -> list[str]:
    return [r.reason for r in h.reports if isinstance(r, MirrorSkipped)]


def told(h: Harness) -> list[str]:
    return [r.code for r in h.reports if isinstance(r, SlaveError)]


def test_the_third_entry_is_skipped_not_the_second_and_a_close_makes_room() -> None:
    h = Harness(CONFIG)
    assert [i.qty for i in h.fill("BTCUSDT", "1")] == [D("0.5")]
    assert [i.qty for i in h.fill("ETHUSDT", "2", price="3000")] == [D(1)]  # the second: at the max, copied
    assert h.fill("SOLUSDT", "10", price="150") == []  # the third: skipped
    assert h.fill("SOLUSDT", "20", price="150") == []  # its increase too (the slave does not hold it)
    assert skips(h) == ["max_positions", "max_positions"] and told(h) == ["guard_max_positions"]  # told once
    assert [i.qty for i in h.fill("BTCUSDT", "2")] == [D("0.5")]  # an increase of an open position: copied
    assert [(i.side, i.qty) for i in h.fill("ETHUSDT", "1", price="3000")] == [("SELL", D("0.5"))]  # a reduction
    assert h.corrections() == []  # a check corrects no skipped entry

    assert [(i.side, i.kind) for i in h.fill("ETHUSDT", "0", price="3000")] == [("SELL", "close")]  # room again
    (entry,) = h.fill("SOLUSDT", "30", price="150")  # there is room: the master's next SOL increase opens ours (k x 10)
    assert (entry.side, entry.qty) == ("BUY", D(5))
    assert h.fill("ETHUSDT", "2", price="3000") == []  # full again: skipped, and told again
    assert told(h) == ["guard_max_positions", "guard_max_positions"]


def test_a_resync_joins_new_positions_in_symbol_order_while_there_is_room() -> None:
    h = Harness(CONFIG)
    for symbol, qty in (("SOLUSDT", "10"), ("BTCUSDT", "1"), ("ETHUSDT", "2")):  # opened while the slave was away
        h.master[(symbol, "BOTH")] = D(qty)
    target = h.mirror._moved(h.snapshot())
    assert sorted(target) == [("BTCUSDT", "BOTH"), ("ETHUSDT", "BOTH")] and told(h) == ["guard_max_positions"]


def test_positions_on_the_other_markets_count() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_open_positions=1, markets=("usdm", "spot")))
    spot = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), markets=("spot",)), market="spot")
    spot.account.positions[("BTCUSDT", "BOTH")] = D("0.1")  # the slave holds spot BTC
    h.slave.mirrors = {"usdm": h.mirror, "spot": spot.mirror}
    assert h.fill("ETHUSDT", "2", price="3000") == [] and skips(h) == ["max_positions"]
    spot.account.positions.clear()
    # room: the master's increase is copied (k x 2), the entry skipped before is not joined
    assert [i.qty for i in h.fill("ETHUSDT", "4", price="3000")] == [D(1)]
