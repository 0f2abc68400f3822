"""A slave's own liquidation / ADL (issue 21 defect 1), end to end through the mirror.

The account's tracked position follows the forced fill; the slave journals and notifies it, does
not buy the liquidated part back by itself (no correction while the master's position stays open),
and later copies scale from what is left, so reduce-only orders never exceed the position."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from actors.binance.endpoints import Endpoints
from actors.binance.filters import SymbolFilters
from actors.binance.signing import make_signer
from actors.domain.equity_stop import EquityStopState
from actors.slave import MarketMirror
from actors.slave.accounts.execution import Executed
from actors.slave.accounts.usdm import UsdmAccount
from protocol.messages import MasterFill, PositionEntry, PositionSnapshot, SlaveConfig, SlaveError

D = Decimal
EPOCH = 3
BTC = SymbolFilters(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    step_size=D("0.001"),
    min_qty=D("0.001"),
    market_step_size=D("0.001"),
    market_min_qty=D("0.001"),
    min_notional=D("5"),
)


class _Account(UsdmAccount):
    """The real USD-M account state; orders fill at once, reduce-only ones only up to the position."""

    def __init__(self) -> None:
        super().__init__("s1", Endpoints.local("http://127.0.0.1:9"), make_signer("HMAC", "k", "s"), on_state=lambda state: None)
        self.filters = {"BTCUSDT": BTC}
        self.equity = D("10000")
        self.sent: list[Any] = []
        self.next_id = 100

    async def refresh(self, equity: bool = True) -> None:
        return None

    async def execute(self, intent: Any) -> Executed:
        held = abs(self.positions.get((intent.symbol, intent.position_side), D(0)))
        if intent.reduce_only and intent.qty > held:
            raise AssertionError(f"reduce-only {intent.qty} over the position {held}: Binance refuses it (-2022)")
        self.sent.append(intent)
        self.next_id += 1
        reply = {
            "orderId": self.next_id,
            "symbol": intent.symbol,
            "side": intent.side,
            "positionSide": "BOTH",
            "status": "FILLED",
            "executedQty": str(intent.qty),
            "avgPrice": "50000",
        }
        self.apply_order(reply)
        return Executed(result=reply, sends=1, recovered=False)


def _mirror() -> tuple[MarketMirror, _Account, list[Any]]:
    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D("1"))
    reports: list[Any] = []
    slave = SimpleNamespace(
        slave_id="s1",
        report=reports.append,
        fatal=False,
        paused_all=False,
        equity_stop=EquityStopState(),
        config=config,
        notify_error=lambda *a: None,
        fatal_key_error=lambda *a: None,
        last_latency_ns=0,
        forced_changed=lambda: None,
    )
    acct = _Account()
    mirror = MarketMirror(slave, acct)  # type: ignore[arg-type]
    acct.on_forced = mirror.on_forced
    mirror.syncing = False
    mirror.master_equity = D("10000")
    mirror.aligned.add("BTCUSDT")
    mirror.tracker.reset(EPOCH, 10)
    acct.positions[("BTCUSDT", "BOTH")] = D("1.0")  # the copy of the master's 1.0
    mirror.master_positions[("BTCUSDT", "BOTH")] = D("1.0")
    mirror.book.intended[("BTCUSDT", "BOTH")] = D("1.0")  # the one target of that copy
    mirror.book.master[("BTCUSDT", "BOTH")] = D("1.0")
    return mirror, acct, reports


def _liquidation(qty: str) -> bytes:
    return json.dumps(
        {
            "e": "ORDER_TRADE_UPDATE",
            "E": 1,
            "T": 1,
            "o": {
                "s": "BTCUSDT",
                "c": "autoclose-1700000000001",
                "S": "SELL",
                "o": "LIQUIDATION",
                "f": "IOC",
                "q": qty,
                "p": "0",
                "x": "CALCULATED",
                "X": "FILLED",
                "i": 9,
                "l": qty,
                "z": qty,
                "L": "45000",
                "T": 1,
                "t": 1,
                "ps": "BOTH",
            },
        }
    ).encode()


def _fill(seq: int, before: str, after: str) -> MasterFill:
    qty = abs(D(before) - D(after))
    return MasterFill(
        market="usdm",
        epoch=EPOCH,
        seq=seq,
        symbol="BTCUSDT",
        position_side="BOTH",
        side="SELL" if D(after) < D(before) else "BUY",
        order_id=seq,
        trade_id=seq,
        client_order_id=f"m{seq}",
        order_type="MARKET",
        price=D("50000"),
        qty=qty,
        cum_qty=qty,
        status="FILLED",
        reduce_only=D(after) < D(before),
        position_before=D(before),
        position_after=D(after),
        equity=D("10000"),
        leverage=20,
        margin_type="CROSSED",
        t_exchange_ms=1,
        t_master_recv_ns=1,
        t_master_pub_ns=1,
    )


async def _settle(mirror: MarketMirror) -> None:
    for _ in range(50):
        await asyncio.sleep(0)
    await asyncio.wait_for(mirror.idle.wait(), 5)


async def test_own_liquidation_is_tracked_notified_and_not_bought_back() -> None:
    mirror, acct, reports = _mirror()
    acct._on_user_event(_liquidation("0.5"))
    assert acct.positions[("BTCUSDT", "BOTH")] == D("0.5")
    errors = [r for r in reports if isinstance(r, SlaveError)]
    assert [e.code for e in errors] == ["liquidated"] and "BTCUSDT" in errors[0].message
    # the master still holds 1.0: a periodic check must not restore the liquidated half
    snap = PositionSnapshot(
        market="usdm",
        epoch=EPOCH,
        seq=11,
        equity=D("10000"),
        reason="periodic",
        t_ns=0,
        positions=(PositionEntry(symbol="BTCUSDT", position_side="BOTH", qty=D("1.0"), entry_price=D("50000")),),
    )
    mirror.on_event(snap, 0)
    await _settle(mirror)
    assert acct.sent == []
    # the master sells half: the slave sells half of what it has (0.25), reduce-only, accepted
    mirror.on_event(_fill(12, "1.0", "0.5"), 0)
    await _settle(mirror)
    assert [(i.side, i.qty, i.reduce_only) for i in acct.sent] == [("SELL", D("0.250"), True)]
    # the master closes: the slave closes what is left, and copies normally again afterwards
    mirror.on_event(_fill(13, "0.5", "0"), 0)
    await _settle(mirror)
    assert ("BTCUSDT", "BOTH") not in acct.positions
    assert not mirror.forced


async def test_a_liquidation_where_the_master_is_flat_blocks_nothing() -> None:
    mirror, acct, reports = _mirror()
    mirror.master_positions.clear()  # a leftover of ours the master does not hold: nothing to restore
    acct._on_user_event(_liquidation("1.0"))
    assert acct.positions == {} and not mirror.forced
    assert [r.code for r in reports if isinstance(r, SlaveError)] == ["liquidated"]


async def test_the_liquidated_set_survives_a_restart_and_is_released_by_the_master_close(tmp_path) -> None:
    from actors.config import AppConfig, ExchangeConfig, MasterConfig, PathsConfig
    from actors.slave import Slave
    from actors.slave.forced_state import forced_path
    from actors.slave.markets import build_mirror

    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D("1"))
    app = AppConfig(
        exchange=ExchangeConfig(url="http://127.0.0.1:9"),
        masters={"usdm": MasterConfig(account="m")},
        paths=PathsConfig(runtime_dir=str(tmp_path / "run"), state_dir=str(tmp_path / "var")),
        slaves=(config,),
    )

    def started() -> tuple[Slave, MarketMirror]:
        slave = Slave(app, config)
        slave.signer_factory = lambda: make_signer("HMAC", "k", "s")
        mirror = build_mirror(slave, "usdm", UsdmAccount)
        slave.mirrors["usdm"] = mirror
        return slave, mirror

    slave, mirror = started()
    mirror.master_positions[("BTCUSDT", "BOTH")] = D("1.0")
    mirror.account.positions[("BTCUSDT", "BOTH")] = D("1.0")
    mirror.account._on_user_event(_liquidation("0.5"))
    assert mirror.forced == {("BTCUSDT", "BOTH")}
    assert forced_path(tmp_path / "var", "s1").stat().st_mode & 0o777 == 0o600
    await slave.close()

    slave, mirror = started()  # the restarted process
    assert mirror.forced == {("BTCUSDT", "BOTH")}
    mirror.syncing = True  # (fills wait; the release happens when the master's close arrives)
    mirror.on_event(_fill(20, "0.5", "0"), 0)
    assert mirror.forced == set()
    await slave.close()
    slave, mirror = started()
    assert mirror.forced == set()
    await slave.close()


async def test_an_unreadable_liquidation_record_is_reported_by_name_and_ignored(tmp_path) -> None:
    from actors.config import AppConfig, ExchangeConfig, MasterConfig, PathsConfig
    from actors.slave import Slave
    from actors.slave.forced_state import forced_path

    config = SlaveConfig(id="s1", markets=("usdm",), sizing="fixed_ratio", ratio=D("1"))
    app = AppConfig(
        exchange=ExchangeConfig(url="http://127.0.0.1:9"),
        masters={"usdm": MasterConfig(account="m")},
        paths=PathsConfig(runtime_dir=str(tmp_path / "run"), state_dir=str(tmp_path / "var")),
        slaves=(config,),
    )
    path = forced_path(tmp_path / "var", "s1")
    path.parent.mkdir(parents=True)
    path.write_text('{"usdm": [["BTCUSDT"]]}')
    slave = Slave(app, config)
    assert slave.forced_saved == {} and any(str(path) in e for e in slave.errors)
    await slave.close()
