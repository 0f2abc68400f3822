"""An in-memory slave (USD-M, spot or cross margin) for copy tests: the real `MarketMirror` (its `_mirror`, `_plan`,
`_correct`) over a simulated account that fills every market order at once, so a test drives the
copy engine fill by fill without processes, sockets or an event loop.

`run_sync` drives a coroutine that never waits on real I/O (the simulated account answers at
once) to its end without an event loop; it fails if the coroutine would block."""

from __future__ import annotations

from collections.abc import Coroutine
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from actors.binance.filters import SymbolFilters
from actors.domain.decisions import OrderIntent, SlaveHolding
from actors.domain.equity_stop import EquityStopState
from actors.slave import MarketMirror
from actors.slave.accounts.execution import Executed
from protocol.messages import MasterFill, PositionEntry, PositionSnapshot, SlaveConfig

ZERO = Decimal(0)
EPOCH = 5


def futures_filters(symbol: str, step: str, min_notional: str) -> SymbolFilters:
    s = Decimal(step)
    return SymbolFilters(
        symbol=symbol,
        base_asset=symbol.removesuffix("USDT"),
        quote_asset="USDT",
        tick_size=Decimal("0.01"),
        step_size=s,
        min_qty=s,
        max_qty=Decimal("100000"),
        market_step_size=s,
        market_min_qty=s,
        market_max_qty=Decimal("100000"),
        min_notional=Decimal(min_notional),
        apply_min_to_market=True,
        min_notional_exempt_reduce_only=True,
    )


BTC = futures_filters("BTCUSDT", "0.001", "100")
ETH = futures_filters("ETHUSDT", "0.001", "20")
SOL = futures_filters("SOLUSDT", "0.01", "5")


def run_sync(coro: Coroutine[Any, Any, Any]) -> Any:
    try:
        coro.send(None)
    except StopIteration as stop:
        return stop.value
    coro.close()
    raise AssertionError("the coroutine waited on something: not an in-memory run")


class SimAccount:
    """A USD-M account that executes every MARKET order in full at once (reduce-only never
    crosses zero, as on Binance) and records it. A LIMIT IOC fills in full when the symbol's
    `book` price (if set) is at or better than its limit, else not at all (EXPIRED)."""

    market = "usdm"

    def __init__(self, filters: dict[str, SymbolFilters], equity: str = "10000") -> None:
        self.filters = dict(filters)
        self.equity: Decimal | None = Decimal(equity)
        self.positions: dict[tuple[str, str], Decimal] = {}
        self.sent: list[OrderIntent] = []
        self.order_id = 0
        self.book: dict[str, Decimal] = {}  # the price a LIMIT IOC meets (none: it fills)

    def holding(self, symbol: str, position_side: str) -> SlaveHolding:
        return SlaveHolding(position=self.positions.get((symbol, position_side), ZERO))

    def snapshot_positions(self) -> dict[tuple[str, str], Decimal]:
        return dict(self.positions)

    async def refresh(self, equity: bool = True) -> None:
        return None

    async def align_symbol(self, *args: Any) -> list[str]:
        return []

    def move(self, symbol: str, ps: str, side: str, qty: Decimal, reduce_only: bool = False) -> Decimal:
        key = (symbol, ps)
        now = self.positions.get(key, ZERO)
        if ps == "BOTH":
            delta = qty if side == "BUY" else -qty
            if reduce_only:
                delta = max(-now, min(delta, ZERO)) if now > 0 else min(-now, max(delta, ZERO))
        else:
            grows = (side == "BUY") == (ps == "LONG")
            delta = qty if grows else -min(qty, now)
        after = now + delta
        if after:
            self.positions[key] = after
        else:
            self.positions.pop(key, None)
        return abs(delta)

    def crosses(self, intent: OrderIntent) -> bool:
        """Whether an IOC limit meets the book (a MARKET order always does)."""
        book = self.book.get(intent.symbol)
        if intent.time_in_force != "IOC" or book is None or intent.price is None:
            return True
        return book <= intent.price if intent.side == "BUY" else book >= intent.price

    async def execute(self, intent: OrderIntent) -> Executed:
        self.sent.append(intent)
        self.order_id += 1
        if not self.crosses(intent):
            return Executed(result={"orderId": self.order_id, "status": "EXPIRED", "executedQty": "0"}, sends=1, recovered=False)
        done = self.move(intent.symbol, intent.position_side, intent.side, intent.qty, intent.reduce_only)
        return Executed(
            result={"orderId": self.order_id, "status": "FILLED", "executedQty": str(done), "avgPrice": "1"}, sends=1, recovered=False
        )


class BalanceSimAccount(SimAccount):
    """A spot or cross margin account: per symbol the base asset's position (spot: the holding;
    margin: the net position, short via borrowing), all of it free. A buy receives its quantity
    less `commission` (taken from the base asset bought, as on Binance); a spot sell never takes
    more than the holding."""

    def __init__(self, market: str, filters: dict[str, SymbolFilters], equity: str = "10000", commission: str = "0") -> None:
        super().__init__(filters, equity)
        self.market = market
        self.commission = Decimal(commission)

    def holding(self, symbol: str, position_side: str) -> SlaveHolding:
        position = self.positions.get((symbol, "BOTH"), ZERO)
        return SlaveHolding(position=position, free=max(position, ZERO))

    async def execute(self, intent: OrderIntent) -> Executed:
        self.sent.append(intent)
        key = (intent.symbol, "BOTH")
        now = self.positions.get(key, ZERO)
        if intent.side == "BUY":
            after = now + intent.qty * (1 - self.commission)
        else:
            assert self.market == "margin" or intent.qty <= now, (intent, now)
            after = now - intent.qty
        if after:
            self.positions[key] = after
        else:
            self.positions.pop(key, None)
        self.order_id += 1
        return Executed(
            result={"orderId": self.order_id, "status": "FILLED", "executedQty": str(intent.qty), "avgPrice": "1"}, sends=1, recovered=False
        )


class Harness:
    """One slave mirror on a SimAccount (or a BalanceSimAccount: `market`), fed master fills in
    sequence."""

    def __init__(
        self, config: SlaveConfig, filters: dict[str, SymbolFilters] | None = None, market: str = "usdm", commission: str = "0"
    ) -> None:
        self.market = market
        if market == "usdm":
            self.account: SimAccount = SimAccount(filters or {"BTCUSDT": BTC, "ETHUSDT": ETH, "SOLUSDT": SOL})
        else:
            self.account = BalanceSimAccount(market, filters or {}, commission=commission)
        self.reports: list[Any] = []
        self.slave = SimpleNamespace(
            slave_id=config.id,
            report=self.reports.append,
            fatal=False,
            paused_all=False,
            config=config,
            notify_error=lambda *a: None,
            fatal_key_error=lambda *a: None,
            last_latency_ns=0,
            guards_noted=set(),
            equity_stop=EquityStopState(),
        )
        self.mirror = MarketMirror(self.slave, self.account)  # type: ignore[arg-type]
        self.mirror.syncing = False
        self.mirror.aligned.update(self.account.filters)
        self.master: dict[tuple[str, str], Decimal] = {}
        self.seq = 0
        self.trade = 0
        self.price: dict[str, Decimal] = {}

    def set_config(self, **changes: Any) -> None:
        import msgspec

        self.slave.config = msgspec.structs.replace(self.slave.config, **changes)

    def fill(
        self,
        symbol: str,
        after: str | Decimal,
        *,
        ps: str = "BOTH",
        price: str | Decimal = "50000",
        qty: Decimal | None = None,
        equity: str = "10000",
        **order: Any,
    ) -> list[OrderIntent]:
        """The master's position of (symbol, ps) moves to `after` in one fill; returns the orders
        (`order`: order_id, order_qty, cum_qty of the fill's order, see `make_fill`)."""
        return self.apply(self.make_fill(symbol, after, ps=ps, price=price, qty=qty, equity=equity, **order))

    def make_fill(
        self,
        symbol: str,
        after: str | Decimal,
        *,
        ps: str = "BOTH",
        price: str | Decimal = "50000",
        qty: Decimal | None = None,
        equity: str | Decimal = "10000",
        leverage: int = 10,
        margin_type: str = "CROSSED",
        order_id: int | None = None,
        order_qty: str | Decimal = "0",
        cum_qty: str | Decimal | None = None,
        reduce_only: bool = False,
    ) -> MasterFill:
        """The next master fill moving (symbol, ps) to `after` (the harness's master follows it).
        Each fill is its own order unless `order_id` is given; `order_qty` the order's quantity (0:
        not reported), `cum_qty` its filled quantity after this fill (default: this fill's)."""
        key = (symbol, ps)
        before = self.master.get(key, ZERO)
        after = Decimal(after)
        if ps == "BOTH":
            side = "BUY" if after > before else "SELL"
        else:
            side = "BUY" if (after > before) == (ps == "LONG") else "SELL"
        self.seq += 1
        self.trade += 1
        fill = MasterFill(
            market=self.market,
            epoch=EPOCH,
            seq=self.seq,
            symbol=symbol,
            position_side=ps,
            side=side,
            order_id=self.trade if order_id is None else order_id,
            trade_id=self.trade,
            client_order_id="m",
            order_type="LIMIT",
            price=Decimal(price),
            qty=qty or abs(after - before),
            cum_qty=Decimal(cum_qty) if cum_qty is not None else (qty or abs(after - before)),
            order_qty=Decimal(order_qty),
            reduce_only=reduce_only,
            status="PARTIALLY_FILLED",
            position_before=before,
            position_after=after,
            equity=Decimal(equity),
            leverage=leverage,
            margin_type=margin_type,  # type: ignore[arg-type]
            t_exchange_ms=1,
            t_master_recv_ns=1,
            t_master_pub_ns=1,
        )
        if after:
            self.master[key] = after
        else:
            self.master.pop(key, None)
        self.price[symbol] = Decimal(price)
        return fill

    def apply(self, fill: MasterFill) -> list[OrderIntent]:
        """Mirror one master fill; returns the orders it sent."""
        start = len(self.account.sent)
        self.mirror.tracker.feed(fill.epoch, fill.seq)
        run_sync(self.mirror._mirror(fill, 1))
        return self.account.sent[start:]

    def correct(self) -> list[OrderIntent]:
        """Run a check's corrections (what a periodic check would send after a fault)."""
        start = len(self.account.sent)
        snap = self.snapshot()
        self.mirror._move_target(snap)
        run_sync(self.mirror._correct(snap, nonce=f"check-{self.seq}"))
        return self.account.sent[start:]

    def snapshot(self, reason: str = "periodic", equity: str = "10000") -> PositionSnapshot:
        return PositionSnapshot(
            market=self.market,
            epoch=EPOCH,
            seq=self.seq,
            equity=Decimal(equity),
            reason=reason,  # type: ignore[arg-type]
            positions=tuple(
                PositionEntry(symbol=s, position_side=ps, qty=q, entry_price=self.price.get(s, Decimal(1)))  # type: ignore[arg-type]
                for (s, ps), q in sorted(self.master.items())
            ),
            t_ns=0,
        )

    def corrections(self) -> list[OrderIntent]:
        """What a periodic check would order now (no I/O, nothing sent)."""
        return self.mirror._plan(self.snapshot(), nonce="check")

    def position(self, symbol: str, ps: str = "BOTH") -> Decimal:
        return self.account.positions.get((symbol, ps), ZERO)
