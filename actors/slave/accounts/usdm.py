"""The slave's USD-M futures side: its own account state, alignment with the master, and orders.

What it keeps (all from the exchange, never guessed):
- positions per (symbol, positionSide): BOTH signed, LONG/SHORT sizes >= 0. Updated from each
  order's cumulative executed quantity (order replies AND the slave's own user-data stream, merged
  per order id so nothing counts twice), and replaced from REST on every reconciliation;
- leverage and margin type per symbol, position mode, equity: the REST `totalMarginBalance`, moved
  since then by the changes of the USD stablecoin wallets (at par) and of each position's unrealized
  PnL from ACCOUNT_UPDATE, exactly as the master's listener counts its own (actors/assets.py),
  so balance_multiplier's k compares like with like in multi-assets mode too;
- its own liquidations and ADL (ORDER_TRADE_UPDATE x=CALCULATED, order type LIQUIDATION, client ids
  `autoclose-...` / `adl_autoclose` / `settlement_autoclose-...`): applied like any execution, and
  told to `on_forced` (the slave journals and notifies them);
- exchange filters per symbol.

Orders go over the WebSocket API connection opened (and, for Ed25519 keys, logged on) at start;
REST with keep-alive is used for set-up, alignment and reconciliation.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Decimal
from typing import Any, NamedTuple

from protocol.messages import PositionKey, PositionMode, SlaveConfig

from ...assets import USD_ASSETS
from ...binance import usdm_api, wire
from ...binance.endpoints import Endpoints
from ...binance.errors import BinanceAPIError, RateLimited, Rejected
from ...binance.filters import SymbolFilters
from ...binance.orders import order_params
from ...binance.rest import RestClient
from ...binance.signing import Signer
from ...binance.userdata import FuturesUserStream
from ...binance.wsapi import WsApiClient
from ...domain.decisions import OrderIntent, SlaveHolding
from ...domain.positions import moved
from ...domain.sizing import capped_leverage
from ...limits import LIMITS
from .execution import Executed, ExecutionPolicy, for_recv_window, place_via
from .usdm_algo import AlgoOrders

log = logging.getLogger("copytrader.usdm")

ZERO = Decimal(0)
_MARGIN_TYPE = {"cross": "CROSSED", "crossed": "CROSSED", "isolated": "ISOLATED"}
# Execution type NEW in an ORDER_TRADE_UPDATE (compact JSON, as Binance sends it): one of the three
# events each copied order brings, and the only one with nothing to apply; skipped undecoded.
_NEW_ORDER = b'"x":"NEW"'
# Client order ids Binance gives the orders it places itself (ORDER_TRADE_UPDATE `c`, USD-M docs).
_FORCED_PREFIXES = (("adl_autoclose", "adl"), ("settlement_autoclose-", "settlement"), ("autoclose-", "liquidation"))


class ForcedFill(NamedTuple):
    """An execution of an order the exchange placed on the slave's account (not ours)."""

    symbol: str
    position_side: str
    kind: str  # liquidation / adl / settlement
    qty: Decimal  # executed by this event
    position: Decimal  # the tracked position after it
    client_order_id: str


def forced_kind(o: wire.BinanceFuturesOrderData) -> str | None:
    """liquidation / adl / settlement for an order the exchange placed, None for an order of ours."""
    for prefix, kind in _FORCED_PREFIXES:
        if o.c.startswith(prefix):
            return kind
    if o.x == "CALCULATED" or o.o == "LIQUIDATION" or o.ot == "LIQUIDATION":
        return "liquidation"
    return None


class OrderBook:
    """Executed quantity already applied per order id, so replies and stream events merge."""

    def __init__(self, limit: int = 20_000) -> None:
        self.applied: dict[int, Decimal] = {}
        self.limit = limit

    def take(self, order_id: int, cumulative: Decimal) -> Decimal:
        """The part of `cumulative` not yet applied for this order (0 if none)."""
        done = self.applied.get(order_id, ZERO)
        if cumulative <= done:
            return ZERO
        self.applied[order_id] = cumulative
        if len(self.applied) > self.limit:  # oldest first (dicts keep insertion order)
            for key in list(self.applied)[: self.limit // 4]:
                del self.applied[key]
        return cumulative - done


class UsdmAccount(AlgoOrders):
    """One slave's USD-M account, as the exchange reports it."""

    market = "usdm"

    def __init__(
        self,
        slave_id: str,
        endpoints: Endpoints,
        signer: Signer,
        *,
        on_state: Callable[[str], None],
        recv_window: int = 5000,
        policy: ExecutionPolicy = ExecutionPolicy(),
    ) -> None:
        self.slave_id = slave_id
        self.endpoints = endpoints
        self.rest = RestClient(endpoints.futures_rest, signer, recv_window=recv_window)
        self.ws = WsApiClient(endpoints.futures_ws_api, signer, recv_window=recv_window)
        self.stream = FuturesUserStream(self.rest, endpoints.futures_stream, self._on_user_event, on_state)
        self.policy = for_recv_window(policy, recv_window)  # the lookup grace covers the orders' recvWindow
        self.filters: dict[str, SymbolFilters] = {}
        self.positions: dict[PositionKey, Decimal] = {}
        self.leverage: dict[str, int] = {}
        self.margin_type: dict[str, str] = {}
        self.position_mode: PositionMode = "one_way"
        self.equity: Decimal | None = None
        self.equity_stale = False  # equity moved in a way we cannot value: read REST soon
        self.wallets: dict[str, Decimal] = {}  # wallet balance per asset (REST, then ACCOUNT_UPDATE B.wb)
        self.available: Decimal | None = None  # free margin (availableBalance) at the last REST read
        self.unrealized: dict[PositionKey, Decimal] = {}  # per position (ACCOUNT_UPDATE P.up)
        self._equity_base = ZERO  # totalMarginBalance of the last REST read ...
        self._usd_wallet_base = ZERO  # ... and the USD wallets and unrealized PnL it contained
        self._up_base = ZERO
        self.on_forced: Callable[[ForcedFill], None] | None = None
        self.orders = OrderBook(LIMITS.slave_orders)
        self.algo_status: dict[str, str] = {}  # clientAlgoId -> last ALGO_UPDATE status of our conditional orders
        self.events_bad = 0

    # -- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        await usdm_api.sync_time(self.rest)
        await self.refresh_filters()
        await self.refresh()
        await self.ws.connect()
        await self.stream.start()

    async def refresh_filters(self) -> None:
        """Exchange filters (step, tick, min notional) of every symbol, from exchangeInfo (weight 1)."""
        self.filters = await usdm_api.exchange_filters(self.rest)

    async def close(self) -> None:
        for closer in (self.stream.stop, self.ws.close, self.rest.close):
            try:
                await closer()
            except Exception:  # noqa: BLE001 - closing: nothing left to do about it
                log.debug("close failed", exc_info=True)

    # -- state from REST ------------------------------------------------------------------------
    async def refresh(self, equity: bool = True) -> None:
        """Position mode, positions, leverage, margin type (and equity), fresh from REST."""
        risks, dual = await usdm_api.positions_and_mode(self.rest)
        self.position_mode = "hedge" if dual else "one_way"
        positions: dict[PositionKey, Decimal] = {}
        for r in risks:
            key = (r.symbol, r.positionSide)
            amt = r.positionAmt
            positions[key] = abs(amt) if r.positionSide in ("LONG", "SHORT") else amt
            if r.leverage is not None:
                self.leverage[r.symbol] = r.leverage
            if r.marginType is not None:
                self.margin_type[r.symbol] = _MARGIN_TYPE.get(r.marginType.lower(), r.marginType.upper())
        self.positions = {k: v for k, v in positions.items() if v != 0}
        if equity:
            await self.refresh_equity()

    async def cancel_every_order(self) -> int:
        """Cancel every open order and conditional order of the account (on_start = flatten);
        how many were open."""
        return await usdm_api.cancel_every_open_order(self.rest)

    async def refresh_equity(self) -> None:
        """Equity (margin balance = wallet + unrealized PnL) from REST; between refreshes it follows
        ACCOUNT_UPDATE events, so 100 slaves on one IP stay far under Binance's weight limit."""
        self.take_account(await usdm_api.account(self.rest))

    def take_account(self, acct: wire.BinanceFuturesAccount) -> None:
        """Equity, wallets and unrealized PnL from GET /fapi/v2/account (no I/O)."""
        self.wallets = {a.asset: a.walletBalance for a in acct.assets}
        self.available = acct.availableBalance
        self.unrealized = {}
        for p in acct.positions:
            if p.positionAmt and p.unrealizedProfit is not None:
                self.unrealized[(p.symbol, p.positionSide)] = p.unrealizedProfit
        if acct.totalMarginBalance is not None:
            self._equity_base = acct.totalMarginBalance
        else:
            self._equity_base = acct.totalWalletBalance + (acct.totalUnrealizedProfit or ZERO)
        self._usd_wallet_base = self._usd_wallet()
        self._up_base = sum(self.unrealized.values(), ZERO)
        self.equity = self._equity_base
        self.equity_stale = False

    def _usd_wallet(self) -> Decimal:
        return sum((v for a, v in self.wallets.items() if a in USD_ASSETS), ZERO)

    def holding(self, symbol: str, position_side: str) -> SlaveHolding:
        return SlaveHolding(position=self.positions.get((symbol, position_side), ZERO))

    def is_flat(self) -> bool:
        return not any(self.positions.values())

    def snapshot_positions(self) -> dict[PositionKey, Decimal]:
        return dict(self.positions)

    # -- alignment ------------------------------------------------------------------------------
    async def align_position_mode(self, master_mode: PositionMode) -> str | None:
        """Switch to the master's position mode when flat. Returns a refusal reason or None."""
        if master_mode == self.position_mode:
            return None
        if not self.is_flat() or await usdm_api.has_open_orders(self.rest):
            return (
                f"position mode differs (master {master_mode}, slave {self.position_mode}) and the slave"
                " has open positions or orders: not copying USD-M until it is flat"
            )
        await usdm_api.set_position_mode(self.rest, master_mode == "hedge")
        self.position_mode = master_mode
        return None

    async def align_symbol(self, symbol: str, leverage: int | None, margin_type: str | None, config: SlaveConfig) -> list[str]:
        """Follow the master's leverage (capped) and margin type on `symbol`. Returns problems."""
        problems: list[str] = []
        if margin_type and self.margin_type.get(symbol, "CROSSED") != margin_type:
            try:
                await usdm_api.set_margin_type(self.rest, symbol, margin_type)
                self.margin_type[symbol] = margin_type
            except RateLimited:
                raise  # transient: the caller tries the alignment again at the next opening
            except Rejected as exc:
                if exc.code == -4046:  # "No need to change margin type."
                    self.margin_type[symbol] = margin_type
                else:
                    problems.append(f"{symbol} margin type {margin_type}: {exc.msg} ({exc.code})")
        if leverage:
            want = capped_leverage(leverage, config)
            if self.leverage.get(symbol) != want:
                try:
                    await usdm_api.set_leverage(self.rest, symbol, want)
                    self.leverage[symbol] = want
                except RateLimited:
                    raise  # transient: the caller tries the alignment again at the next opening
                except Rejected as exc:
                    problems.append(f"{symbol} leverage {want}: {exc.msg} ({exc.code})")
        return problems

    # -- orders ---------------------------------------------------------------------------------
    def order_params(self, intent: OrderIntent) -> dict[str, Any]:
        return order_params(intent, self.filters.get(intent.symbol), position_mode=self.position_mode)

    async def execute(self, intent: OrderIntent) -> Executed:
        """Place one intent exactly once and apply its execution to the positions."""
        done = await place_via(self.ws, self.order_params(intent), self.policy)
        self.apply_order(done.result)
        return done

    # -- resting orders (the copies of the master's, orders = "mirror") ----------------------------
    async def cancel(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        """Cancel one of our resting orders; the order as it ended (its executed quantity applied
        to the positions). An order that is no longer open (filled meanwhile: -2011) is read back."""
        try:
            order = await self.ws.cancel_order(symbol, orig_client_order_id=client_order_id)
        except Rejected as exc:
            if exc.code != -2011:
                raise
            order = await self.ws.order_status(symbol, orig_client_order_id=client_order_id)
        self.apply_order(order)
        return dict(order)

    async def amend(self, intent: OrderIntent) -> dict[str, Any]:
        """Amend a resting order of ours to the intent's price and quantity (`order.modify`: symbol,
        side, quantity, price and the order; no positionSide, which the order keeps)."""
        params = self.order_params(intent)
        modify = {k: params[k] for k in ("symbol", "side", "quantity", "price")}
        modify["origClientOrderId"] = intent.client_order_id
        order = await self.ws.request("order.modify", modify)
        self.apply_order(order)
        return dict(order)

    def apply_order(self, order: dict[str, Any]) -> None:
        """Apply an order reply (or lookup) to the positions, once per executed quantity."""
        try:
            order_id = int(order["orderId"])
            executed = Decimal(str(order.get("executedQty") or "0"))
            side = str(order["side"])
            ps = str(order.get("positionSide") or "BOTH")
            symbol = str(order["symbol"])
        except (KeyError, TypeError, ValueError, ArithmeticError):
            log.warning("order reply without the fields we need: %s", sorted(order)[:12])
            return
        self._apply(symbol, ps, side, order_id, executed)

    def _apply(self, symbol: str, ps: str, side: str, order_id: int, cumulative: Decimal) -> Decimal:
        """Apply what `cumulative` adds to the order's executed quantity; returns that quantity."""
        delta = self.orders.take(order_id, cumulative)
        if delta:
            key = (symbol, ps)
            after = moved(self.positions.get(key, ZERO), side, ps, delta).after  # a hedge side never below zero
            self.positions[key] = after
            if after == 0:
                del self.positions[key]
        return delta

    # -- own user data ----------------------------------------------------------------------------
    def _on_user_event(self, raw: bytes) -> None:
        if type(raw) is bytes and _NEW_ORDER in raw:  # ORDER_TRADE_UPDATE of a new order: no fill to apply
            return
        try:
            event = wire.decode_user_event(raw)
        except Exception:  # noqa: BLE001 - one bad event never stops the stream
            self.events_bad += 1
            log.warning("undecodable user-data event (%d bytes)", len(raw))
            return
        if isinstance(event, wire.BinanceFuturesOrderTradeUpdate):
            o = event.o
            kind = forced_kind(o)
            if o.x == "TRADE" or kind is not None:  # liquidation / ADL: x CALCULATED, applied the same
                done = self._apply(o.s, o.ps, o.S, o.i, o.z)
                if done and kind is not None and self.on_forced is not None:
                    self.on_forced(ForcedFill(o.s, o.ps, kind, done, self.positions.get((o.s, o.ps), ZERO), o.c))
        elif isinstance(event, wire.BinanceFuturesAccountUpdate):
            self._on_account_update(event)
        elif isinstance(event, wire.BinanceAlgoUpdate):
            if len(self.algo_status) >= 4096:  # bounded: the oldest statuses go first
                del self.algo_status[next(iter(self.algo_status))]
            self.algo_status[event.o.caid] = event.o.X
        elif isinstance(event, wire.BinanceFuturesAccountConfigUpdate) and event.ac is not None:
            self.leverage[event.ac.s] = event.ac.l

    def _on_account_update(self, event: wire.BinanceFuturesAccountUpdate) -> None:
        """Wallets from `B`, unrealized PnL of each listed position from `P` (positions not listed
        keep their last value). Equity = the last REST equity + what the USD stablecoin wallets
        (at par) and the unrealized PnL moved since: the master's rule. A wallet of another asset
        (multi-assets mode) cannot be valued here: it marks the equity stale (REST within 30 s)."""
        for b in event.a.B:
            if b.a not in USD_ASSETS and self.wallets.get(b.a) != b.wb:
                self.equity_stale = True
            self.wallets[b.a] = b.wb
        for p in event.a.P:
            key = (p.s, p.ps)
            if p.pa == 0:
                self.unrealized.pop(key, None)
            elif p.up is not None:
                self.unrealized[key] = p.up
        if self.equity is not None:
            value = self._equity_base + (self._usd_wallet() - self._usd_wallet_base) + (sum(self.unrealized.values(), ZERO) - self._up_base)
            self.equity = max(value, ZERO)  # as the master's


__all__ = ["UsdmAccount", "ForcedFill", "forced_kind", "OrderBook", "BinanceAPIError"]
