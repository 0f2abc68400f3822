"""A correction refused for capital (-2019) is not re-sent (nor re-paged) every periodic check."""

from __future__ import annotations

import time
from decimal import Decimal
from types import SimpleNamespace

import pytest

from actors.binance.errors import classify_payload
from actors.domain.decisions import OrderIntent
from actors.slave import MarketMirror, rules as slave_mod
from actors.slave.accounts.execution import Executed


class _Account:
    market = "usdm"

    def __init__(self, refuse: bool) -> None:
        self.refuse = refuse
        self.equity = Decimal("8000")
        self.sent: list[OrderIntent] = []

    async def execute(self, intent: OrderIntent) -> Executed:
        self.sent.append(intent)
        if self.refuse:
            raise classify_payload(400, -2019, "Margin is insufficient.")
        return Executed(
            result={"orderId": 1, "status": "FILLED", "executedQty": str(intent.qty), "avgPrice": "100"}, sends=1, recovered=False
        )


def _slave() -> SimpleNamespace:
    reports: list = []
    return SimpleNamespace(
        slave_id="s1",
        report=reports.append,
        reports=reports,
        fatal=False,
        notify_error=lambda *a: None,
        fatal_key_error=lambda *a: None,
        last_latency_ns=0,
    )


def _intent(qty: str = "0.048", side: str = "BUY") -> OrderIntent:
    return OrderIntent(
        market="usdm",
        symbol="BTCUSDT",
        side=side,
        position_side="LONG",
        qty=Decimal(qty),
        kind="open",
        client_order_id="crX",
        ref_price=Decimal("60000"),
    )


async def test_refused_correction_waits_until_equity_grows_or_time_passes(monkeypatch):
    acct = _Account(refuse=True)
    mirror = MarketMirror(_slave(), acct)  # type: ignore[arg-type]
    assert not mirror._capital_still_short(_intent())
    assert not await mirror._send(_intent(), None, 0)  # the first correction is sent and refused
    assert mirror._capital_still_short(_intent())  # the same gap again: not re-sent
    assert mirror._capital_still_short(_intent("0.047"))  # a slightly smaller gap: still short
    assert not mirror._capital_still_short(_intent("0.043"))  # 10% smaller (the master reduced): may fit now
    assert not mirror._capital_still_short(_intent("0.060"))  # the gap grew by more than 2%
    assert not mirror._capital_still_short(_intent(side="SELL"))  # another order entirely
    acct.equity = Decimal("8200")  # a deposit: try again
    assert not mirror._capital_still_short(_intent())
    acct.equity = Decimal("8000")
    assert mirror._capital_still_short(_intent())
    now = time.monotonic()
    monkeypatch.setattr(time, "monotonic", lambda: now + slave_mod.CAPITAL_RETRY_S + 1)
    assert not mirror._capital_still_short(_intent())  # and in any case after CAPITAL_RETRY_S


async def test_a_filled_correction_or_a_refused_copy_does_not_hold_back_corrections():
    acct = _Account(refuse=True)
    mirror = MarketMirror(_slave(), acct)  # type: ignore[arg-type]
    fill = SimpleNamespace(
        symbol="BTCUSDT", order_id=1, trade_id=2, epoch=1, seq=1, t_master_recv_ns=0, t_master_pub_ns=0, position_side="LONG", side="BUY",
        price=Decimal(50000), trade_time_ms=1, t_exchange_ms=1,
    )  # fmt: skip
    assert not await mirror._send(_intent(), fill, 0)  # a copy of a fill refused: a decision, not a gap
    assert not mirror._capital_still_short(_intent())
    assert not await mirror._send(_intent(), None, 0)
    assert mirror._capital_still_short(_intent())
    acct.refuse = False
    acct.equity = Decimal("9000")
    assert await mirror._send(_intent(), None, 0)  # sent again once richer, and filled
    acct.equity = Decimal("8000")
    assert not mirror._capital_still_short(_intent())  # the fill cleared the memory


@pytest.mark.parametrize(
    "market, side, code, capital",
    [
        ("usdm", "BUY", -2019, True),
        ("usdm", "SELL", -2019, True),
        ("spot", "BUY", -2010, True),
        ("margin", "BUY", -2010, True),
        ("margin", "SELL", -2010, False),
        ("usdm", "BUY", -2010, False),
        ("usdm", "BUY", -1013, False),
    ],
)
def test_which_refusals_mean_capital(market, side, code, capital):
    assert slave_mod._is_capital_refusal(market, side, code) is capital
