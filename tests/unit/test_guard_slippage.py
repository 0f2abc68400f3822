"""The entry slippage guard (issue 22, `max_slippage_pct`, actors/domain/slippage.py and
actors/slave/guards.py): a copied entry or increase goes as a LIMIT IOC at the master's fill price
plus (buy) or minus (sell) the tolerance, on the tick inside it; what does not fill is journalled
"slippage" (a person told once) and not chased: no check sends it at market, and the copy rule's
next fill in the same direction sends it under the same guard. Reductions and closes go at market.
Real `MarketMirror`s on in-memory accounts whose IOC orders meet a set book price
(tests/helpers/mirror.py)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.domain.slippage import slippage_limit
from protocol.messages import MirrorSkipped, OrderMirrored, SlaveConfig, SlaveError
from tests.helpers.mirror import Harness

D = Decimal
CONFIG = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_slippage_pct=D("0.5"))


def skips(h: Harness) -> list[str]:
    return [r.reason for r in h.reports if isinstance(r, MirrorSkipped)]


def told(h: Harness) -> list[str]:
    return [r.code for r in h.reports if isinstance(r, SlaveError)]


def test_the_limit_is_on_the_tick_inside_the_tolerance() -> None:
    assert slippage_limit("BUY", D("50000"), D("0.5"), D("0.1")) == D("50250.0")
    assert slippage_limit("BUY", D("3001.37"), D("0.5"), D("0.01")) == D("3016.37")  # 3016.37685: down
    assert slippage_limit("SELL", D("3001.37"), D("0.5"), D("0.01")) == D("2986.37")  # 2986.36315: up
    assert slippage_limit("SELL", D("150"), D("1.5"), D("0.01")) == D("147.75")
    with pytest.raises(ValueError, match="max_slippage_pct"):
        SlaveConfig(id="s1", max_slippage_pct=D(0))
    with pytest.raises(ValueError, match="max_slippage_pct"):
        SlaveConfig(id="s1", max_slippage_pct=D(25))


def test_an_entry_within_the_tolerance_fills_and_exits_go_at_market() -> None:
    h = Harness(CONFIG)
    h.account.book["BTCUSDT"] = D("50200")  # 0.4 % worse than the master: inside 0.5 %
    (entry,) = h.fill("BTCUSDT", "1", price="50000")
    assert (entry.order_type, entry.time_in_force, entry.price, entry.qty) == ("LIMIT", "IOC", D("50250.00"), D("0.5"))
    assert h.position("BTCUSDT") == D("0.5") and skips(h) == [] and h.corrections() == []
    (reduce,) = h.fill("BTCUSDT", "0.5", price="49000")  # an exit: MARKET, whatever the book
    assert (reduce.order_type, reduce.kind, reduce.qty) == ("MARKET", "reduce", D("0.25"))
    close, short = h.fill("BTCUSDT", "-1", price="49000")  # a flip: its close at market, its opening guarded
    assert (close.order_type, close.kind) == ("MARKET", "close")
    assert (short.order_type, short.side, short.price, short.qty) == ("LIMIT", "SELL", D("48755.00"), D("0.5"))
    assert h.position("BTCUSDT") == D("-0.5")  # the book (50200) is better than a sell's limit


def test_what_does_not_fill_is_journalled_not_chased_and_the_next_fill_sends_it() -> None:
    h = Harness(CONFIG)
    h.account.book["BTCUSDT"] = D("50300")  # 0.6 % away: the IOC at 50250 meets nothing
    (entry,) = h.fill("BTCUSDT", "1", price="50000")
    assert entry.time_in_force == "IOC" and h.position("BTCUSDT") == 0
    assert skips(h) == ["slippage"] and told(h) == ["guard_slippage"]
    mirrored = [r for r in h.reports if isinstance(r, OrderMirrored)]
    assert [(r.status, r.executed_qty) for r in mirrored] == [("EXPIRED", D(0))]  # the order, as the exchange ended it
    assert h.corrections() == []  # never chased at market
    assert h.mirror.book.intended[("BTCUSDT", "BOTH")] == D("0.5")  # the copy rule still intends it

    h.fill("BTCUSDT", "2", price="50000")  # missed again: journalled, told once only
    assert skips(h) == ["slippage", "slippage"] and told(h) == ["guard_slippage"] and h.corrections() == []
    (again,) = h.fill("BTCUSDT", "3", price="50290")  # the master's next increase, 50290: the book is inside its limit
    assert (again.qty, again.price) == (D("1.5"), D("50541.45")) and h.position("BTCUSDT") == D("1.5")  # k x 3: all it missed
    assert h.corrections() == []
    (close,) = h.fill("BTCUSDT", "0", price="60000")
    assert (close.order_type, close.qty) == ("MARKET", D("1.5")) and h.position("BTCUSDT") == 0


def test_off_by_default_every_copy_is_a_market_order() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5")))
    h.account.book["BTCUSDT"] = D("99999")
    (entry,) = h.fill("BTCUSDT", "1")
    assert entry.order_type == "MARKET" and h.position("BTCUSDT") == D("0.5")
