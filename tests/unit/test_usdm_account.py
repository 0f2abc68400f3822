"""UsdmAccount (actors/slave/accounts/usdm.py): what the slave's own user data does to its tracked state.

Issue 21: defect 1 (its own liquidation / ADL was invisible) and defect 11 (equity between REST
reads counted only the USDT wallet, while the master counts every USD stablecoin)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from actors.binance.endpoints import Endpoints
from actors.binance.signing import make_signer
from actors.binance.wire import BinanceFuturesAccount, BinanceFuturesAccountUpdate, BinanceFuturesPositionRisk, convert
from actors.master.usdm_state import FuturesState
from actors.slave.accounts.usdm import UsdmAccount

D = Decimal


def _account(forced: list[Any] | None = None) -> UsdmAccount:
    acct = UsdmAccount("s1", Endpoints.local("http://127.0.0.1:9"), make_signer("HMAC", "k", "s"), on_state=lambda state: None)
    if forced is not None:
        acct.on_forced = forced.append
    return acct


def _otu(
    x: str,
    side: str,
    last: str,
    cum: str,
    *,
    c: str = "x-cp-1",
    o: str = "MARKET",
    order_id: int = 7,
    ps: str = "BOTH",
    status: str = "FILLED",
) -> bytes:
    return json.dumps(
        {
            "e": "ORDER_TRADE_UPDATE",
            "E": 1,
            "T": 1,
            "o": {
                "s": "BTCUSDT",
                "c": c,
                "S": side,
                "o": o,
                "f": "IOC",
                "q": cum,
                "p": "0",
                "ap": "50000",
                "sp": "0",
                "x": x,
                "X": status,
                "i": order_id,
                "l": last,
                "z": cum,
                "L": "50000",
                "T": 1,
                "t": 3,
                "ps": ps,
                "ot": o,
                "R": False,
            },
        },
        separators=(",", ":"),
    ).encode()


# ------------------------------------------------------------------------------- defect 1
@pytest.mark.parametrize(
    "x, c, o",
    [
        ("CALCULATED", "autoclose-1700000000123", "LIQUIDATION"),  # liquidation (Binance docs: x CALCULATED)
        ("CALCULATED", "adl_autoclose", "LIQUIDATION"),  # ADL
        ("TRADE", "adl_autoclose", "MARKET"),  # an ADL fill reported as a trade
    ],
)
def test_own_liquidation_or_adl_moves_the_tracked_position(x: str, c: str, o: str) -> None:
    forced: list[Any] = []
    acct = _account(forced)
    acct.positions[("BTCUSDT", "BOTH")] = D("1.0")
    acct._on_user_event(_otu(x, "SELL", "0.5", "0.5", c=c, o=o))
    assert acct.positions[("BTCUSDT", "BOTH")] == D("0.5")
    assert [(f.symbol, f.position_side, f.kind, f.qty, f.position) for f in forced] == [
        ("BTCUSDT", "BOTH", "adl" if c.startswith("adl") else "liquidation", D("0.5"), D("0.5"))
    ]
    acct._on_user_event(_otu(x, "SELL", "0.5", "0.5", c=c, o=o))  # the same event again: counted once
    assert acct.positions[("BTCUSDT", "BOTH")] == D("0.5") and len(forced) == 1


def test_a_hedge_short_liquidated_in_two_parts_ends_flat() -> None:
    forced: list[Any] = []
    acct = _account(forced)
    acct.positions[("BTCUSDT", "SHORT")] = D("0.3")
    acct._on_user_event(_otu("CALCULATED", "BUY", "0.1", "0.1", c="autoclose-9", o="LIQUIDATION", ps="SHORT", status="PARTIALLY_FILLED"))
    acct._on_user_event(_otu("CALCULATED", "BUY", "0.2", "0.3", c="autoclose-9", o="LIQUIDATION", ps="SHORT"))
    assert ("BTCUSDT", "SHORT") not in acct.positions
    assert [f.qty for f in forced] == [D("0.1"), D("0.2")] and forced[-1].position == 0


def test_our_own_fills_are_not_called_forced() -> None:
    forced: list[Any] = []
    acct = _account(forced)
    acct._on_user_event(_otu("TRADE", "BUY", "0.2", "0.2"))
    assert acct.positions[("BTCUSDT", "BOTH")] == D("0.2") and forced == []


# ------------------------------------------------------------------------------- defect 11
def _rest(wallets: dict[str, str], margin_balance: str, up: str = "0") -> BinanceFuturesAccount:
    return convert(
        {
            "totalWalletBalance": str(sum(D(v) for v in wallets.values())),
            "totalMarginBalance": margin_balance,
            "multiAssetsMargin": True,
            "assets": [{"asset": a, "walletBalance": v} for a, v in wallets.items()],
            "positions": [{"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "0.1", "unrealizedProfit": up}],
        },
        BinanceFuturesAccount,
    )


def _update(balances: dict[str, str], up: str) -> bytes:
    return json.dumps(
        {
            "e": "ACCOUNT_UPDATE",
            "E": 5,
            "T": 5,
            "a": {
                "m": "ORDER",
                "B": [{"a": a, "wb": wb, "cw": wb} for a, wb in balances.items()],
                "P": [{"s": "BTCUSDT", "pa": "0.1", "ep": "50000", "up": up, "mt": "cross", "ps": "BOTH"}],
            },
        }
    ).encode()


def test_slave_equity_counts_usd_stablecoins_as_the_master_does() -> None:
    # multi-assets mode: 1000 USDT + 500 USDC + 0.01 BTC (valued by Binance in totalMarginBalance)
    rest = _rest({"USDT": "1000", "USDC": "500", "BTC": "0.01"}, margin_balance="2010", up="10")
    acct = _account()
    acct.take_account(rest)
    master = FuturesState()  # the master's listener, fed the same REST read and events
    master.rebuild(
        False,
        [
            convert(
                {"symbol": "BTCUSDT", "positionSide": "BOTH", "positionAmt": "0.1", "unRealizedProfit": "10"}, BinanceFuturesPositionRisk
            )
        ],
        rest,
    )
    assert acct.equity == master.equity() == D("2010")
    for balances, up in (({"USDC": "480"}, "12"), ({"USDT": "990", "USDC": "470"}, "-3")):
        raw = _update(balances, up)
        acct._on_user_event(raw)
        event = convert(json.loads(raw), BinanceFuturesAccountUpdate)
        master.apply_account_update(event)
        assert acct.equity == master.equity()
    assert acct.equity == D("2010") - 10 - 30 - 13  # USDT -10, USDC -30, unrealized 10 -> -3
