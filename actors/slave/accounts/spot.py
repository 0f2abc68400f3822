"""The slave's spot side: its own balances, the symbols it mirrors, and exactly-once orders.

What it keeps (from the exchange, never guessed):
- balances per asset (free, locked) in a `Ledger`: set from REST (GET /api/v3/account), then moved
  by each of the slave's trades exactly once, whichever reports it first — the order's FULL reply
  (`fills[]`, with the commission and its asset) or the slave's own `executionReport` (x=TRADE) —
  keyed by (symbol, order id, trade id). A REST read is taken only while none of the slave's own
  orders is in flight (a read that overlaps one is read again), so it contains every trade of the
  orders finished before it and none of those sent after: trades of our own orders are applied
  unless already seen (or their order was settled by a read), never judged by time — a correction
  placed the millisecond after the read, or a clock offset off by a few ms, would otherwise have
  its trade taken as "already in REST" and lost (chaos seed 101, 2026-12-03). Only trades of
  other orders (the account's owner trading by hand, and the resting copies of the master's
  orders, `orders = "mirror"`, which fill at any time, REST reads included) fall back to time: one
  not after the last REST read is already contained in it; one applied while a read was on its
  way and after it is applied again over the read's balances; one in a read's window (margin:
  the reply has no time) asks for another read (ledger.py). A canceled copy whose cancel reply
  says it filled more than its trades seen so far has the balances read again (`cancel`).
  `outboundAccountPosition` is not applied: it is not ordered against the order replies, so
  taking it could undo or repeat a trade; REST at every reconciliation is the final word
  (ARCHITECTURE.md "Reconciliation").
- which symbols it mirrors: the master's (every symbol in its snapshots and fills). Holdings of
  other assets are the slave's own business and are never traded.
- equity in the quote asset (USDT): sum of holdings x last price (as the master's listener counts
  it, so balance_multiplier's k compares like with like); prices from GET /api/v3/ticker/price.

Orders: MARKET with `quantity` (the step-rounded decision of actors/domain/decisions.py; a `quoteOrderQty`
order would let the exchange choose the quantity, which breaks "k x the master's quantity") over
the WebSocket API (`order.place`, newOrderRespType FULL), exactly once: on an unknown status the
order is looked up with `order.status` by origClientOrderId (actors/slave/accounts/execution.py).
The copies of the master's resting orders are LIMIT / LIMIT_MAKER orders placed the same way and
canceled with `order.cancel` (margin: `DELETE /sapi/v1/margin/order`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from decimal import Decimal
from typing import Any, TypeVar

import msgspec

from protocol.messages import PositionKey, PositionSnapshot, SlaveConfig

from ...binance import spot_api, wire
from ...binance.endpoints import Endpoints
from ...binance.errors import Rejected
from ...binance.filters import SymbolFilters, format_decimal
from ...binance.orders import order_params
from ...binance.rest import RestClient
from ...binance.signing import Signer
from ...binance.userdata import SpotUserStream
from ...binance.wsapi import WsApiClient
from ...domain.decisions import OrderIntent, SlaveHolding
from ...limits import LIMITS
from .execution import Executed, ExecutionPolicy, for_recv_window, place_via
from .ledger import Balance, Ledger, Trade
from .spot_lists import OrderLists

log = logging.getLogger("copytrader.spot")

ZERO = Decimal(0)
QUOTE = "USDT"
FINAL = frozenset({"FILLED", "CANCELED", "EXPIRED", "EXPIRED_IN_MATCH", "REJECTED"})  # order statuses with no trade to come
QUIET_READS = 20  # REST reads of the balances tried before one spanning an order is taken anyway
T = TypeVar("T")


def trades_of_reply(order: dict[str, Any]) -> list[Trade] | None:
    """The trades of a FULL order reply; None when it has no `fills` (e.g. an order lookup)."""
    fills = order.get("fills")
    if not isinstance(fills, list):
        return None
    reply = wire.convert(order, wire.BinanceSpotOrder)
    t = reply.transactTime or reply.updateTime or 0
    return [
        Trade(
            symbol=reply.symbol,
            order_id=reply.orderId,
            trade_id=f.tradeId,
            side=str(reply.side),
            qty=f.qty,
            quote_qty=f.qty * f.price,
            commission=f.commission,
            commission_asset=f.commissionAsset,
            time_ms=t,
            price=f.price,
        )
        for f in reply.fills
    ]


def trade_of_report(ev: wire.BinanceExecutionReport) -> Trade | None:
    if ev.x != "TRADE" or ev.l <= 0:
        return None
    quote = ev.Y if ev.Y is not None and ev.Y > 0 else ev.l * ev.L
    return Trade(
        symbol=ev.s,
        order_id=ev.i,
        trade_id=ev.t,
        side=ev.S,
        qty=ev.l,
        quote_qty=quote,
        commission=ev.n or ZERO,
        commission_asset=ev.N,
        time_ms=ev.T,
        price=ev.L,
    )


def with_avg_price(done: Executed) -> Executed:
    """Add `avgPrice` (cummulativeQuoteQty / executedQty) to a spot/margin order for the reports."""
    r = done.result
    try:
        qty = Decimal(str(r.get("executedQty") or "0"))
        quote = Decimal(str(r.get("cummulativeQuoteQty") or "0"))
    except ArithmeticError:
        return done
    if qty > 0 and "avgPrice" not in r:
        r = dict(r, avgPrice=format_decimal((quote / qty).quantize(Decimal("0.00000001"))))
        return msgspec.structs.replace(done, result=r)
    return done


class BalanceAccount:
    """What spot and cross margin share: ledger, tracked symbols, prices, equity, user data."""

    market = "spot"

    def __init__(
        self,
        slave_id: str,
        endpoints: Endpoints,
        signer: Signer,
        *,
        on_state: Callable[[str], None],
        recv_window: int = 5000,
        policy: ExecutionPolicy = ExecutionPolicy(),
        quote_asset: str = QUOTE,
    ) -> None:
        self.slave_id = slave_id
        self.endpoints = endpoints
        self.rest = RestClient(endpoints.spot_rest, signer, recv_window=recv_window)
        self.ws = WsApiClient(endpoints.spot_ws_api, signer, recv_window=recv_window)
        self.on_state = on_state
        self.policy = for_recv_window(policy, recv_window)  # the lookup grace covers the orders' recvWindow
        self.quote_asset = quote_asset
        self.filters: dict[str, SymbolFilters] = {}
        self.ledger = Ledger(LIMITS.slave_trades)
        self.prices: dict[str, Decimal] = {}
        self.tracked: set[str] = set()
        self.buy_commission = ZERO  # taker rate: the share of a market buy's base kept as commission
        self.equity_stale = False
        self.events_bad = 0
        self.in_flight = 0  # our orders placed and not yet finished
        self.orders_done = 0  # +1 per finished order: a REST read that spans one is read again
        self.rest_rereads = 0
        self._no_order = asyncio.Event()
        self._no_order.set()
        self._own: set[str] = set()  # client order ids we sent (bounded): their stream trades are ours
        self._own_order: deque[str] = deque()
        self.stream: SpotUserStream = self._make_stream()

    def _make_stream(self) -> SpotUserStream:
        return SpotUserStream(self.ws, self._on_user_event, self.on_state)

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await spot_api.sync_time(self.rest)
        await self.refresh_filters()
        await self.refresh()
        await self.ws.connect()
        await self.ws.sync_time()
        await self.stream.start()

    async def refresh_filters(self) -> None:
        """Exchange filters of the symbols quoted in our quote asset (exchangeInfo, weight 20)."""
        self.filters = await spot_api.exchange_filters(self.rest, self.quote_asset)

    async def close(self) -> None:
        for closer in (self.stream.stop, self.ws.close, self.rest.close):
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing: nothing left to do about it
                log.debug("close failed", exc_info=True)

    # -- state from REST ------------------------------------------------------------------------
    async def refresh(self) -> None:
        """Balances and prices, fresh from REST, read while no order of ours is in flight."""
        raise NotImplementedError

    async def read_quietly(self, read: Callable[[], Awaitable[T]]) -> T:
        """`read()` (a REST read of the balances) at a moment no order of ours is in flight: one
        that an order started or finished during is read again, so that the read holds exactly
        the trades of the orders finished before it (see the module docstring). An account
        never quiet for QUIET_READS reads takes the last one (logged; the next read settles it)."""
        for _ in range(QUIET_READS):
            await self._no_order.wait()
            done = self.orders_done
            result = await read()
            if self.in_flight == 0 and done == self.orders_done:
                return result
            self.rest_rereads += 1
        log.warning("balances read while orders were in flight (%d reads): the next read settles them", QUIET_READS)
        return result

    @contextlib.contextmanager
    def placing(self, intent: OrderIntent) -> Iterator[None]:
        """Around one order's placement: REST reads wait for it; its stream trades count as ours."""
        cid = intent.client_order_id
        if intent.order_type == "MARKET" and cid not in self._own:  # a resting copy's later trades are judged by time
            self._own.add(cid)
            self._own_order.append(cid)
            if len(self._own_order) > LIMITS.slave_trades:
                self._own.discard(self._own_order.popleft())
        self.in_flight += 1
        self._no_order.clear()
        try:
            yield
        finally:
            self.in_flight -= 1
            self.orders_done += 1
            if self.in_flight == 0:
                self._no_order.set()

    def priced_symbols(self) -> list[str]:
        """Symbols whose price the equity needs: every held asset's `<asset><quote>`, and the tracked."""
        held = {a + self.quote_asset for a in self.ledger.balances if a + self.quote_asset in self.filters}
        return sorted(held | self.tracked)

    async def cancel_every_order(self) -> int:
        """Cancel every open order of the account (on_start = flatten); how many were open. The
        balances they locked are free again at the next refresh."""
        return await spot_api.cancel_every_open_order(self.rest, margin=self.market == "margin")

    async def refresh_prices(self) -> None:
        """GET /api/v3/ticker/price for the symbols we value (weight 4; one symbol: 2)."""
        symbols = self.priced_symbols()
        if not symbols:
            return
        wanted = set(symbols)
        self.prices.update({s: p for s, p in (await spot_api.ticker_prices(self.rest, symbols)).items() if s in wanted})

    async def refresh_equity(self) -> None:
        await self.refresh_prices()
        self.equity_stale = False

    def observe_master(self, snap: PositionSnapshot) -> None:
        """Mirror the symbols of the master's snapshot (held, or traded since it started)."""
        for e in snap.positions:
            if e.symbol in self.filters:
                self.tracked.add(e.symbol)

    def base_of(self, symbol: str) -> str | None:
        f = self.filters.get(symbol)
        return f.base_asset if f is not None else None

    def price_of(self, asset: str) -> Decimal | None:
        if asset == self.quote_asset:
            return Decimal(1)
        return self.prices.get(asset + self.quote_asset)

    def amount_of(self, bal: Balance) -> Decimal:
        """The amount of an asset that counts as position and equity (spot: free + locked)."""
        return bal.total

    @property
    def equity(self) -> Decimal | None:
        """Value in the quote asset: every asset with a price, x its amount (None before REST)."""
        if not self.prices and not self.ledger.balances:
            return None
        total = ZERO
        for asset, bal in self.ledger.balances.items():
            amount = self.amount_of(bal)
            price = self.price_of(asset) if amount else None
            if price is not None:
                total += amount * price
        return max(total, ZERO)

    # -- positions --------------------------------------------------------------------------------
    def position_of(self, symbol: str) -> Decimal:
        base = self.base_of(symbol)
        return self.amount_of(self.ledger.holding(base)) if base else ZERO

    def holding(self, symbol: str, position_side: str) -> SlaveHolding:
        """The slave's holding of `symbol`'s base asset (asking about a symbol tracks it)."""
        if symbol in self.filters:
            self.tracked.add(symbol)
        base = self.base_of(symbol)
        bal = self.ledger.holding(base) if base else Balance()
        return SlaveHolding(position=bal.total, free=bal.free)

    def snapshot_positions(self) -> dict[PositionKey, Decimal]:
        out: dict[PositionKey, Decimal] = {}
        for symbol in sorted(self.tracked):
            qty = self.position_of(symbol)
            if qty != 0:
                out[(symbol, "BOTH")] = qty
        return out

    @property
    def positions(self) -> dict[PositionKey, Decimal]:
        return self.snapshot_positions()

    def is_flat(self) -> bool:
        return not self.snapshot_positions()

    # -- resting copies (orders = "mirror") -------------------------------------------------------
    async def cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        """Cancel a resting copy of ours; the order as it ended. One no longer open (filled
        meanwhile: -2011) is read back. When it filled more than its trades seen so far (their
        events still on the way) the balances are read from REST, which holds them: a settle that
        follows never counts a fill twice or misses one."""
        try:
            order = await self._cancel_request(symbol, client_order_id)
        except Rejected as exc:
            if exc.code != -2011:
                raise
            order = await self._order_request(symbol, client_order_id)
        reports = order.get("orderReports")
        if isinstance(reports, list):  # a leg of an OCO of ours: the list was canceled, each order as it ended
            rows = [dict(r) for r in reports if isinstance(r, dict)]
            await self.read_back(symbol, rows)
            return next((r for r in rows if r.get("origClientOrderId") == client_order_id), rows[0] if rows else dict(order))
        try:
            executed, order_id = Decimal(str(order.get("executedQty") or "0")), int(order["orderId"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            log.warning("cancel reply without executedQty / orderId: balances read again")
            executed, order_id = Decimal(1), 0
        if executed > self.ledger.filled(symbol, order_id):
            await self.refresh()
        return dict(order)

    async def read_back(self, symbol: str, orders: list[dict[str, Any]]) -> None:
        """Read the balances from REST when one of `orders` executed more than its trades seen."""
        for order in orders:
            try:
                executed, order_id = Decimal(str(order.get("executedQty") or "0")), int(order["orderId"])
            except (KeyError, TypeError, ValueError, ArithmeticError):
                executed, order_id = Decimal(1), 0
            if executed > self.ledger.filled(symbol, order_id):
                await self.refresh()
                return

    async def _cancel_request(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return dict(await self.ws.cancel_order(symbol, orig_client_order_id=client_order_id))

    async def _order_request(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return dict(await self.ws.order_status(symbol, orig_client_order_id=client_order_id))

    # -- alignment: nothing to align on spot / cross margin ---------------------------------------
    async def align_position_mode(self, master_mode: Any) -> str | None:
        return None

    async def align_symbol(self, symbol: str, leverage: int | None, margin_type: str | None, config: SlaveConfig) -> list[str]:
        return []

    # -- trades -----------------------------------------------------------------------------------
    def apply_trade(self, trade: Trade, *, own: bool = False) -> bool:
        f = self.filters.get(trade.symbol)
        if f is None:
            log.warning("trade of an unknown symbol %s: balances refreshed at the next reconciliation", trade.symbol)
            return False
        if trade.price > 0:
            self.prices[trade.symbol] = trade.price
        return self.ledger.apply_trade(trade, f.base_asset, f.quote_asset, own=own)

    def apply_reply(self, order: dict[str, Any]) -> bool:
        """Apply an order reply's trades. False when it has none to give (a lookup): the caller
        must then read the balances from REST."""
        try:
            trades = trades_of_reply(order)
        except (msgspec.ValidationError, TypeError, ValueError) as exc:
            log.warning("order reply without the fields we need: %s", exc)
            return False
        if trades is None:
            if Decimal(str(order.get("executedQty") or "0")) == 0:
                return True
            if str(order.get("status")) not in FINAL:  # a resting copy: its later trades are judged by time
                return False
            try:  # its trades are in the REST read the caller takes now: never apply them again
                self.ledger.settle_order(str(order["symbol"]), int(order["orderId"]))
            except (KeyError, TypeError, ValueError):
                log.warning("order lookup without symbol / orderId: its stream trades may count twice")
            return False
        for t in trades:
            self.apply_trade(t, own=True)
        return True

    def _on_user_event(self, raw: bytes) -> None:
        try:
            event = wire.decode_user_event(raw)
        except Exception:  # noqa: BLE001 - one bad event never stops the stream
            self.events_bad += 1
            log.warning("undecodable user-data event (%d bytes)", len(raw))
            return
        if isinstance(event, wire.BinanceExecutionReport):
            trade = trade_of_report(event)
            if trade is not None:  # equity follows from the ledger and the trade's price
                self.apply_trade(trade, own=event.c in self._own)
                if self.ledger.unsure:  # a trade REST may or may not hold: read it again
                    self.ledger.unsure = False
                    self.reread()
        else:
            self.on_other_event(event)

    def reread(self) -> None:
        """Read the balances again soon (margin: its loan refresh); spot's reads have no window."""

    def on_other_event(self, event: Any) -> None:
        if isinstance(event, wire.BinanceBalanceUpdate):
            # Deposit / withdrawal / transfer: moves free unless REST already has it.
            if event.T > self.ledger.rest_ms:
                self.ledger.bal(event.a).free += event.d
                if self.price_of(event.a) is None:  # an asset we have no price for: read prices soon
                    self.equity_stale = True


def taker_commission(account: wire.BinanceSpotAccount) -> Decimal:
    """The taker commission rate of GET /api/v3/account (`commissionRates.taker`, else
    `takerCommission` in basis points); 0 when absent or malformed (never fails the read)."""
    rates, bps = account.commissionRates, account.takerCommission
    try:
        rate = Decimal(str(rates.taker)) if rates and rates.taker is not None else Decimal(str(bps or 0)) / 10000
    except (ArithmeticError, ValueError, TypeError):
        return ZERO
    return rate if rate.is_finite() and ZERO <= rate < 1 else ZERO


class SpotAccount(OrderLists, BalanceAccount):
    """One slave's spot account (its OCO copies: spot_lists.py)."""

    market = "spot"

    async def refresh(self) -> None:
        sent_ms = self.rest.now_ms()
        acct = await self.read_quietly(lambda: spot_api.account(self.rest))
        self.buy_commission = taker_commission(acct)
        self.ledger.set_from_rest(((b.asset, b.free, b.locked, ZERO, ZERO) for b in acct.balances), acct.updateTime or sent_ms)
        await self.refresh_equity()

    def order_params(self, intent: OrderIntent) -> dict[str, Any]:
        return order_params(intent, self.filters.get(intent.symbol))

    async def execute(self, intent: OrderIntent) -> Executed:
        """Place one intent exactly once and apply its trades to the balances."""
        with self.placing(intent):
            done = await place_via(self.ws, self.order_params(intent), self.policy)
            complete = self.apply_reply(done.result)
        if not complete:
            await self.refresh()  # found by lookup: no fills in it, REST has the balances
        return with_avg_price(done)


__all__ = ["taker_commission", "SpotAccount", "BalanceAccount", "Ledger", "Balance", "Trade", "trades_of_reply", "trade_of_report"]
