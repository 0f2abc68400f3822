"""actors/domain/sizing.py: k for both sizing modes, caps, leverage, symbol lists."""

from __future__ import annotations

from decimal import Decimal as D

import pytest

from actors.domain.sizing import CannotSize, capped_leverage, notional_cap, ratio_k, symbol_allowed
from protocol.messages import SlaveConfig


def test_fixed_ratio_is_the_ratio_whatever_the_equities() -> None:
    cfg = SlaveConfig(id="a", sizing="fixed_ratio", ratio=D("0.5"))

    assert ratio_k(cfg, D("100"), D("1000")) == D("0.5")
    assert ratio_k(cfg, None, None) == D("0.5")


def test_balance_multiplier_scales_by_equity_ratio() -> None:
    cfg = SlaveConfig(id="a", sizing="balance_multiplier", multiplier=D("2"))

    k = ratio_k(cfg, slave_equity=D("500"), master_equity=D("10000"))

    assert k == D("0.1")  # 2 x 500 / 10000


def test_balance_multiplier_default_multiplier_is_one() -> None:
    cfg = SlaveConfig(id="a")

    assert ratio_k(cfg, D("2500"), D("10000")) == D("0.25")


@pytest.mark.parametrize(
    ("slave", "master", "who"),
    [
        (D("500"), D("0"), "master"),
        (D("500"), D("-1"), "master"),
        (D("500"), None, "master"),
        (D("500"), D("NaN"), "master"),
        (D("0"), D("1000"), "slave"),
        (None, D("1000"), "slave"),
    ],
)
def test_balance_multiplier_without_usable_equity_cannot_size(slave: D | None, master: D | None, who: str) -> None:
    cfg = SlaveConfig(id="a")

    k = ratio_k(cfg, slave, master)

    assert isinstance(k, CannotSize)
    assert who in k.reason


def test_notional_cap_per_symbol_overrides_the_default() -> None:
    cfg = SlaveConfig(id="a", max_position_notional=D("5000"), symbol_max_notional={"ETHUSDT": D("700")})

    assert notional_cap(cfg, "BTCUSDT") == D("5000")
    assert notional_cap(cfg, "ETHUSDT") == D("700")
    assert notional_cap(SlaveConfig(id="b"), "BTCUSDT") is None


@pytest.mark.parametrize(("master", "cap", "expected"), [(20, 10, 10), (5, 10, 5), (125, None, 125), (0, None, 1)])
def test_capped_leverage(master: int, cap: int | None, expected: int) -> None:
    assert capped_leverage(master, SlaveConfig(id="a", max_leverage=cap)) == expected


def test_symbol_lists_deny_wins_and_allow_is_a_whitelist() -> None:
    open_cfg = SlaveConfig(id="a", symbols_deny=("DOGEUSDT",))
    white = SlaveConfig(id="b", symbols_allow=("BTCUSDT",))

    assert symbol_allowed(open_cfg, "BTCUSDT") and not symbol_allowed(open_cfg, "DOGEUSDT")
    assert symbol_allowed(white, "BTCUSDT") and not symbol_allowed(white, "ETHUSDT")
