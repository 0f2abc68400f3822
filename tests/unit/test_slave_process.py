"""The `Slave` process and live configuration edits (issue 21 defects 2, 5 and 9).

- 2: each market's equity is read from REST on its own schedule (it used to share one timer, so
  only the first market was ever refreshed), and sooner when the account marked it stale;
- 5: a live edit of `max_leverage` applies: a lowered cap lowers the leverage of held symbols at
  once and every later opening is aligned again (the `aligned` set used to be kept forever);
- 9: adding a market to a running slave builds, starts and syncs its mirror; removing one stops it.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import msgspec
import pytest

import actors.slave.process as slave_mod
from actors.binance.endpoints import Endpoints
from actors.binance.filters import SymbolFilters
from actors.binance.signing import make_signer
from actors.config import AppConfig, ExchangeConfig, MasterConfig, PathsConfig
from actors.slave import MarketMirror, Slave
from actors.slave.accounts.execution import Executed
from actors.slave.accounts.usdm import UsdmAccount
from actors.slave.markets import build_mirror, refresh_equities
from protocol.messages import MasterFill, PositionEntry, PositionSnapshot, SlaveConfig, SlaveConfigChanged

D = Decimal
EPOCH = 5


def _f(symbol: str, base: str) -> SymbolFilters:
    return SymbolFilters(
        symbol=symbol,
        base_asset=base,
        quote_asset="USDT",
        step_size=D("0.001"),
        min_qty=D("0.001"),
        market_step_size=D("0.001"),
        market_min_qty=D("0.001"),
        min_notional=D("5"),
    )


FILTERS = {"BTCUSDT": _f("BTCUSDT", "BTC"), "ETHUSDT": _f("ETHUSDT", "ETH")}


def _slave(tmp_path: Any, **cfg: Any) -> Slave:
    config = SlaveConfig(id="s1", sizing="fixed_ratio", ratio=D("1"), **cfg)
    app = AppConfig(
        exchange=ExchangeConfig(url="http://127.0.0.1:9"),
        paths=PathsConfig(runtime_dir=str(tmp_path / "run")),
        masters={m: MasterConfig(account="master") for m in ("usdm", "spot", "margin")},
        slaves=(config,),
    )
    return Slave(app, config)


async def _until(check: Any, what: str, timeout: float = 5.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        assert asyncio.get_running_loop().time() < deadline, f"not reached within {timeout}s: {what}"
        await asyncio.sleep(0.01)


class _FakeAccount:
    """An account with no exchange behind it: counts what the slave asks of it."""

    instances: list["_FakeAccount"] = []

    def __init__(self, slave_id: str, endpoints: Any, signer: Any, *, on_state: Any, recv_window: int) -> None:
        self.market = self.kind
        self.filters = dict(FILTERS)
        self.positions: dict[Any, Decimal] = {}
        self.equity: Decimal | None = D("1000")
        self.equity_stale = False
        self.started = self.closed = False
        self.equity_reads = 0
        self.ws = type("Ws", (), {"connected": True})()
        _FakeAccount.instances.append(self)

    kind = "usdm"

    async def start(self) -> None:
        self.started = True

    async def close(self) -> None:
        self.closed = True

    async def refresh(self, equity: bool = True) -> None:
        return None

    async def refresh_equity(self) -> None:
        self.equity_reads += 1
        self.equity_stale = False

    def snapshot_positions(self) -> dict[Any, Decimal]:
        return dict(self.positions)

    async def align_position_mode(self, mode: Any) -> None:
        return None

    async def align_symbol(self, *args: Any) -> list[str]:
        return []


def _fake_types(monkeypatch: pytest.MonkeyPatch) -> None:
    _FakeAccount.instances = []
    types = {m: type(f"Fake{m}", (_FakeAccount,), {"kind": m}) for m in ("usdm", "spot", "margin")}
    monkeypatch.setattr(slave_mod, "_account_type", types.get)


def _snapshot_source(slave: Slave) -> None:
    async def request_snapshot(market: str) -> PositionSnapshot:
        return PositionSnapshot(market=market, epoch=EPOCH, seq=1, equity=D("1000"), reason="start", t_ns=0)  # type: ignore[arg-type]

    slave.request_snapshot = request_snapshot  # type: ignore[method-assign]


# ----------------------------------------------------------------------------------- defect 2
async def test_each_market_refreshes_its_own_equity_and_a_stale_one_sooner(tmp_path, monkeypatch) -> None:
    _fake_types(monkeypatch)
    slave = _slave(tmp_path, markets=("usdm", "spot"))
    _snapshot_source(slave)
    try:
        await slave.start(lambda: None)
        usdm, spot = (slave.mirrors[m].account for m in ("usdm", "spot"))
        t0 = max(slave.equity_read_at.values())
        await refresh_equities(slave, t0 + 10)
        assert (usdm.equity_reads, spot.equity_reads) == (0, 0)
        for hour in range(12):  # one simulated hour: every market read every 5 minutes
            await refresh_equities(slave, t0 + 301 * (hour + 1))
        assert (usdm.equity_reads, spot.equity_reads) == (12, 12)
        t1 = t0 + 301 * 12
        spot.equity_stale = True  # e.g. a deposit of an asset it has no price for
        await refresh_equities(slave, t1 + 20)
        assert spot.equity_reads == 12  # not before 30 s
        await refresh_equities(slave, t1 + 31)
        assert (usdm.equity_reads, spot.equity_reads) == (12, 13) and not spot.equity_stale
    finally:
        await slave.close()


async def test_a_dropped_own_stream_marks_the_equity_stale(tmp_path, monkeypatch) -> None:
    slave = _slave(tmp_path, markets=("usdm",))
    slave.signer_factory = lambda: make_signer("HMAC", "k", "s")
    try:
        mirror = build_mirror(slave, "usdm", UsdmAccount)
        mirror.own_fresh = True
        assert not mirror.account.equity_stale
        mirror.account.stream.on_state("disconnected")  # what the user-data stream calls when it drops
        assert mirror.account.equity_stale and not mirror.own_fresh and mirror.stream_state == "disconnected"
        await mirror.account.close()
    finally:
        await slave.close()


# ----------------------------------------------------------------------------------- defect 5
class _Usdm(UsdmAccount):
    """The real USD-M account logic; REST and orders answered here."""

    def __init__(self) -> None:
        super().__init__("s1", Endpoints.local("http://127.0.0.1:9"), make_signer("HMAC", "k", "s"), on_state=lambda state: None)
        self.filters = dict(FILTERS)
        self.equity = D("10000")
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.refuse_leverage: set[str] = set()

        async def signed(method: str, path: str, params: dict[str, Any] | None = None) -> Any:
            params = dict(params or {})
            self.calls.append((path, params))
            if path == "/fapi/v1/leverage" and params["symbol"] in self.refuse_leverage:
                from actors.binance.errors import Rejected

                raise Rejected(400, -2027, "Exceeded the maximum allowable position at current leverage.")
            return {}

        self.rest.signed = signed  # type: ignore[method-assign]

    async def execute(self, intent: Any) -> Executed:
        self.calls.append(("order", {"symbol": intent.symbol, "qty": intent.qty}))
        reply = {
            "orderId": len(self.calls),
            "symbol": intent.symbol,
            "side": intent.side,
            "positionSide": "BOTH",
            "status": "FILLED",
            "executedQty": str(intent.qty),
            "avgPrice": "50000",
        }
        self.apply_order(reply)
        return Executed(result=reply, sends=1, recovered=False)


def _open(seq: int, symbol: str, qty: str) -> MasterFill:
    return MasterFill(
        market="usdm",
        epoch=EPOCH,
        seq=seq,
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        order_id=seq,
        trade_id=seq,
        client_order_id=f"m{seq}",
        order_type="MARKET",
        price=D("2000"),
        qty=D(qty),
        cum_qty=D(qty),
        status="FILLED",
        position_before=D(0),
        position_after=D(qty),
        equity=D("10000"),
        leverage=20,
        margin_type="CROSSED",
        t_exchange_ms=1,
        t_master_recv_ns=1,
        t_master_pub_ns=1,
    )


async def test_a_lowered_leverage_cap_applies_at_once_and_to_later_opens(tmp_path) -> None:
    slave = _slave(tmp_path, markets=("usdm",), max_leverage=20)
    acct = _Usdm()
    mirror = MarketMirror(slave, acct)
    slave.mirrors["usdm"] = mirror
    mirror.syncing = False
    mirror.master_equity = D("10000")
    mirror.tracker.reset(EPOCH, 10)
    acct.leverage = {"BTCUSDT": 20, "ETHUSDT": 20, "XRPUSDT": 20}
    acct.positions = {("BTCUSDT", "BOTH"): D("0.1")}
    mirror.aligned = {"BTCUSDT", "ETHUSDT"}  # both opened (and aligned at 20) before; ETH since closed
    mirror.last_snapshot = PositionSnapshot(
        market="usdm",
        epoch=EPOCH,
        seq=10,
        equity=D("10000"),
        reason="periodic",
        t_ns=0,
        positions=(PositionEntry(symbol="BTCUSDT", position_side="BOTH", qty=D("0.1"), leverage=20),),
    )
    try:
        slave.on_control(SlaveConfigChanged(slave_id="s1", config=msgspec.structs.replace(slave.config, max_leverage=5), version=2))
        await _until(lambda: not slave.tasks, "the cap applied")
        # the open BTC position's leverage is lowered at once; XRP (nothing held) waits for an opening
        assert acct.calls == [("/fapi/v1/leverage", {"symbol": "BTCUSDT", "leverage": 5})]
        assert acct.leverage["BTCUSDT"] == 5 and acct.leverage["XRPUSDT"] == 20
        mirror.on_event(_open(11, "ETHUSDT", "1"), 0)  # a new ETH position: opened at the new cap
        await _until(lambda: any(c[0] == "order" for c in acct.calls), "the ETH copy")
        assert acct.calls[1:] == [
            ("/fapi/v1/leverage", {"symbol": "ETHUSDT", "leverage": 5}),
            ("order", {"symbol": "ETHUSDT", "qty": D("1.000")}),
        ]
    finally:
        await slave.close()


async def test_a_lowering_binance_refuses_is_said_and_tried_again_at_the_next_open(tmp_path) -> None:
    slave = _slave(tmp_path, markets=("usdm",), max_leverage=20)
    reports: list[Any] = []
    real = slave.report
    slave.report = type(
        "Rec",
        (),
        {
            "__call__": lambda self, m: reports.append(m),
            "flush": lambda self: None,  # type: ignore[assignment]
            "sock": real.sock,
        },
    )()
    acct = _Usdm()
    acct.refuse_leverage = {"BTCUSDT"}  # margin would not suffice at 5x
    mirror = MarketMirror(slave, acct)
    slave.mirrors["usdm"] = mirror
    acct.leverage = {"BTCUSDT": 20}
    acct.positions = {("BTCUSDT", "BOTH"): D("0.1")}
    mirror.aligned = {"BTCUSDT"}
    try:
        slave.on_control(SlaveConfigChanged(slave_id="s1", config=msgspec.structs.replace(slave.config, max_leverage=5), version=2))
        await _until(lambda: not slave.tasks, "the cap tried")
        assert acct.leverage["BTCUSDT"] == 20 and "BTCUSDT" not in mirror.aligned
        assert any(getattr(r, "code", "") == "align" and "-2027" in r.message for r in reports)
    finally:
        await slave.close()


# ----------------------------------------------------------------------------------- defect 9
async def test_a_market_added_live_is_started_and_synced_and_a_removed_one_stopped(tmp_path, monkeypatch) -> None:
    _fake_types(monkeypatch)
    slave = _slave(tmp_path, markets=("usdm",))
    _snapshot_source(slave)
    try:
        await slave.start(lambda: None)
        await _until(lambda: not slave.mirrors["usdm"].syncing, "usdm synced")
        assert list(slave.mirrors) == ["usdm"]
        slave.on_control(
            SlaveConfigChanged(slave_id="s1", version=2, config=msgspec.structs.replace(slave.config, markets=("usdm", "spot")))
        )
        await _until(lambda: "spot" in slave.mirrors and not slave.mirrors["spot"].syncing, "spot started and synced")
        spot = slave.mirrors["spot"]
        assert spot.account.started and spot.account.market == "spot" and "spot" in slave.market_readers
        assert {m.market for m in slave.status().markets} == {"usdm", "spot"}
        usdm = slave.mirrors["usdm"]
        usdm_readers = list(slave.market_readers["usdm"])
        slave.on_control(SlaveConfigChanged(slave_id="s1", version=3, config=msgspec.structs.replace(slave.config, markets=("spot",))))
        await _until(lambda: "usdm" not in slave.mirrors and usdm.account.closed, "usdm stopped")
        assert all(r.sock.closed for r in usdm_readers) and not any(r in slave.readers for r in usdm_readers)
        assert "usdm" not in slave.snapshot_socks and {m.market for m in slave.status().markets} == {"spot"}
        assert not spot.account.closed
    finally:
        await slave.close()
