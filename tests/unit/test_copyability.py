"""The pre-trade copyability check (issue 22, actors/domain/copyability.py, and the slave's status:
actors/slave/reports.py `_copyable`): per symbol the smallest master entry a slave copies, whether
its entries are refused now and why, and whether its free margin carries the smallest copy."""

from __future__ import annotations

from decimal import Decimal

from actors.domain.copyability import copyability
from actors.domain.sizing import CannotSize
from protocol.messages import SlaveConfig
from tests.helpers.mirror import BTC, Harness

D = Decimal
RATIO = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"))


def check(config: SlaveConfig = RATIO, **over: object):  # type: ignore[no-untyped-def]
    kw: dict = dict(config=config, k=D("0.5"), filters=BTC, price=D(50000), blocked=None, leverage=10, slave_equity=D(10000),
                    free_margin=None)  # fmt: skip
    kw.update(over)
    return copyability("BTCUSDT", **kw)


def test_the_smallest_master_entry_copied_at_this_k() -> None:
    # the minimum order: max(minQty 0.001, 100 USDT min notional / 50000 = 0.002) = 0.002; over k 0.5: 0.004
    c = check()
    assert (c.entries, c.smallest_master_qty, c.leverage, c.margin_ok) == ("ok", D("0.004"), 10, None)
    assert check(k=D("0.25")).smallest_master_qty == D("0.008")
    assert check(free_margin=D(10)).margin_ok is True  # 0.002 x 50000 / 10x = 10 USDT of margin
    assert check(free_margin=D("9.99")).margin_ok is False


def test_fixed_amounts_copy_every_entry_or_none() -> None:
    ok = check(SlaveConfig(id="s1", sizing="fixed_amount", amount=D(300)), k=CannotSize("per order"))
    assert (ok.entries, ok.smallest_master_qty) == ("ok", D(0))
    small = check(SlaveConfig(id="s1", sizing="fixed_amount", amount=D(50)), k=CannotSize("per order"))
    assert small.entries.startswith("every entry skipped: 50 is under the minimum order of 100")


def test_refusals_say_why() -> None:
    assert check(blocked="close-only: entries and increases are not copied").entries.startswith("close-only")
    assert check(SlaveConfig(id="s1", sizing="fixed_ratio", symbols_deny=("BTCUSDT",))).entries == "filtered by the symbol lists"
    assert check(filters=None).entries == "no exchange filters for the symbol"
    assert check(k=CannotSize("master equity is 0: cannot scale by balance")).entries.startswith("cannot size")


def test_the_slave_checks_the_symbols_the_master_trades_without_telling_anyone() -> None:
    h = Harness(SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("0.5"), max_open_positions=1))
    h.fill("BTCUSDT", "1")
    h.mirror.last_price["ETHUSDT"] = D(3000)  # the master traded ETH too
    btc, eth = h.mirror._copyable(D("0.5"))
    assert (btc.symbol, btc.entries, btc.smallest_master_qty) == ("BTCUSDT", "ok", D("0.004"))  # an increase of an open one
    assert (eth.symbol, eth.entries) == ("ETHUSDT", "max open positions (1) reached")
    h.set_config(close_only=True)
    assert {c.entries for c in h.mirror._copyable(D("0.5"))} == {
        "close-only: entries and increases are not copied (reductions and closes are)"
    }
    assert h.reports[-1:] and not [r for r in h.reports if type(r).__name__ == "SlaveError"]  # a check tells nobody
