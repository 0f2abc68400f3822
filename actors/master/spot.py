"""master-spot / master-margin's exchange side: user data over the WebSocket API, REST for state.

Spot (binance-spot-api-docs/user-data-stream.md, web-socket-api.md): `SpotUserStream`
(`session.logon` + `userDataStream.subscribe` for Ed25519 keys, else
`userDataStream.subscribe.signature`). State: GET /api/v3/account (weight 20) for balances,
GET /api/v3/exchangeInfo once (symbol -> base/quote), GET /api/v3/ticker/price (weight 4) for equity,
and at each (re)build GET /api/v3/openOrders (weight 80; margin GET /sapi/v1/margin/openOrders,
weight 10): the resting orders (resting.py), published as they change from executionReport.

Cross margin: `MarginUserStream` (POST /sapi/v1/userListenToken + `userDataStream.subscribe.listenToken`,
renewed). State: GET /sapi/v1/margin/account (weight 10: free, locked, borrowed, interest, netAsset).

Margin loans, and what we chose: the user data stream carries no loan figures (no `borrowed` in
outboundAccountPosition; executionReport does not echo `sideEffectType`; USER_LIABILITY_CHANGE is on
the separate margin risk data stream, which our client does not follow). The net position
(free + locked - borrowed) a fill produces does not depend on loans, so `position_before/after` are
exact and published at once. `borrowed_before/after` (base asset) and `side_effect` are estimates
from the position change (actors/master/spot_state.py `SpotState._margin_guess`). Right after a fill or a
balanceUpdate we re-read the margin account over REST (debounced, ~10 weight) and, when REST
disagrees with our figures, take REST's and publish a snapshot: slaves reconcile their loans and
positions from it. The alternative, holding the fill back until REST answers, would add a REST round
trip to every copied margin trade.
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any, NamedTuple

import msgspec

from ..binance import spot_api
from ..binance.endpoints import Endpoints as ExchangeEndpoints
from ..binance.rest import RestClient
from ..binance.signing import Signer
from ..binance.userdata import MarginUserStream, SpotUserStream
from ..binance.wire import (
    BinanceBalanceUpdate,
    BinanceExecutionReport,
    BinanceListStatus,
    BinanceMarginAccount,
    BinanceOutboundAccountPosition,
    BinanceSpotAccount,
    BinanceSpotOrder,
)
from ..binance.wsapi import WsApiClient
from ..limits import LIMITS
from .order_lists import ListSorter
from .outputs import Duplicate, Fill, Order, Outputs, Recheck, Resync, Snapshot
from .resting import OrderUpdate, RestingBook, spot_open_order, spot_update
from .spot_state import SpotState, SymbolInfo, UnknownSymbol
from .state import Deduper

_LIST_TYPES = frozenset({"LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT"})  # a margin OCO's orders
log = logging.getLogger("copytrader.master")

MARGIN_REFRESH_DELAY_S = 0.2  # after a fill: let the balance events of the same trade arrive first


class SpotRest(NamedTuple):
    account: BinanceSpotAccount | BinanceMarginAccount
    prices: dict[str, Decimal]
    rest_ms: int  # trades with T <= rest_ms are contained in `account`
    open_orders: list[BinanceSpotOrder] = []


class SpotPoll(NamedTuple):
    """A periodic read (full polls only); `fills`: fills seen before the requests went out."""

    account: BinanceSpotAccount | BinanceMarginAccount
    prices: dict[str, Decimal]
    fills: int


class MarginRecheck(NamedTuple):
    """The margin account read again after a fill or a balance update."""

    account: BinanceMarginAccount
    fills: int


class SpotAdapter:
    """Spot (market "spot") or cross margin (market "margin")."""

    def __init__(
        self, market: str, endpoints: ExchangeEndpoints, signer: Signer, *, recv_window: int = 5000, quote_asset: str = "USDT"
    ) -> None:
        if market not in ("spot", "margin"):
            raise ValueError(f"SpotAdapter serves spot and margin, not {market!r}")
        self.market = market
        self.endpoints = endpoints
        self.signer = signer
        self.rest = RestClient(endpoints.spot_rest, signer, recv_window=recv_window)
        self.state = SpotState(
            kind="margin" if market == "margin" else "spot", quote_asset=quote_asset, dedupe=Deduper(LIMITS.master_dedupe)
        )
        self.ws: WsApiClient | None = None
        self.stream: SpotUserStream | None = None
        self.resting = RestingBook()
        self.lists = ListSorter()  # which order-list orders go to the book, and with which list id
        self.fills_seen = 0
        self.corrections = 0
        self._spot_suspects: dict[str, tuple[Decimal, Decimal]] = {}

    @property
    def ready(self) -> bool:
        return self.state.ready

    def last_event_ms(self) -> int:
        return self.state.last_event_ms

    # -- lifecycle -------------------------------------------------------------------------------
    async def start_stream(self, on_event: Any, on_state: Any) -> None:
        try:
            await spot_api.sync_time(self.rest)
        except Exception:  # signed calls resync on -1021 anyway
            pass
        ws = WsApiClient(self.endpoints.spot_ws_api, self.signer)
        if self.market == "margin":
            stream: SpotUserStream = MarginUserStream(self.rest, ws, on_event, on_state)
        else:
            stream = SpotUserStream(ws, on_event, on_state)
        try:
            await stream.start()
        except BaseException:
            await _quietly(stream.stop())
            await _quietly(ws.close())
            raise
        self.ws, self.stream = ws, stream

    async def close(self) -> None:
        if self.stream is not None:
            await _quietly(self.stream.stop())
        if self.ws is not None:
            await _quietly(self.ws.close())
        await self.rest.close()

    # -- REST ------------------------------------------------------------------------------------
    async def _symbols(self) -> None:
        if self.state.symbols:
            return
        self.state.set_symbols({s.symbol: SymbolInfo(s.baseAsset, s.quoteAsset) for s in await spot_api.symbol_assets(self.rest)})

    async def _prices(self) -> dict[str, Decimal]:
        return await spot_api.ticker_prices(self.rest)

    async def _account(self) -> tuple[BinanceSpotAccount | BinanceMarginAccount, int]:
        sent_ms = self.rest.now_ms()
        if self.market == "margin":
            return await spot_api.margin_account(self.rest), sent_ms
        account = await spot_api.account(self.rest)
        return account, account.updateTime or sent_ms

    async def _open_orders(self) -> list[BinanceSpotOrder]:
        if self.market == "margin":  # its rows carry no orderListId: the open lists say which orders are an OCO's
            orders = await spot_api.margin_open_orders(self.rest)
            if any(o.type in _LIST_TYPES for o in orders):
                lists = await spot_api.margin_open_order_lists(self.rest)
                orders = [msgspec.structs.replace(o, orderListId=lists.get(o.orderId, -1)) for o in orders]
            return orders
        return await spot_api.open_orders(self.rest)

    async def fetch(self) -> SpotRest:
        await self._symbols()
        account, rest_ms = await self._account()
        prices = await self._prices()
        return SpotRest(account, prices, rest_ms, await self._open_orders())

    def rebuild(self, fetched: SpotRest) -> None:
        self.state.set_prices(fetched.prices)
        if isinstance(fetched.account, BinanceMarginAccount):
            self.state.rebuild_margin(fetched.account.userAssets, fetched.rest_ms)
        else:
            self.state.rebuild_spot(fetched.account.balances, fetched.rest_ms)
        rows = [spot_open_order(o) for o in fetched.open_orders]
        relisted = self.lists.rebuild(rows)  # an OTO's working order goes out on its own
        self.resting.rebuild((r._replace(list_id=relisted.get(r.order_id, r.list_id)) for r in rows), self.position)
        self._spot_suspects.clear()

    def position(self, symbol: str, position_side: str = "BOTH") -> Decimal:
        """The master's position of a symbol: its base asset (margin: net of loans)."""
        info = self.state.symbols.get(symbol)
        return self.state.position(info.base) if info is not None else Decimal(0)

    async def poll(self, full: bool) -> SpotPoll | None:
        """Every snapshot interval: prices (equity) and the account, for a drift check."""
        if not full:
            return None
        fills = self.fills_seen
        account, _ = await self._account()
        prices = await self._prices()
        return SpotPoll(account, prices, fills)

    async def recheck(self) -> MarginRecheck | None:
        fills = self.fills_seen
        account, _ = await self._account()
        return MarginRecheck(account, fills) if isinstance(account, BinanceMarginAccount) else None

    async def lookup(self, key: int) -> None:
        return None  # spot and margin events carry everything: no Lookup is ever asked

    def looked_up(self, key: int, reading: None, t_recv_ns: int) -> Outputs:
        return []

    def apply(self, reading: SpotPoll | MarginRecheck | None) -> Outputs:
        """Take a REST read (the shell calls this only if no rebuild happened meanwhile)."""
        match reading:
            case SpotPoll(account, prices, fills):
                self.state.set_prices(prices)
                if fills == self.fills_seen:  # no fill raced the request
                    if isinstance(account, BinanceMarginAccount):
                        self._take_margin(account)
                    else:
                        self._confirm_spot_drift(account)
                return [Snapshot("periodic")]
            case MarginRecheck(account, fills):
                if fills != self.fills_seen:
                    return [Recheck(MARGIN_REFRESH_DELAY_S)]  # a fill raced the request: ask again
                return [Snapshot("periodic")] if self._take_margin(account) else []
        return []

    def _take_margin(self, account: BinanceMarginAccount) -> bool:
        drifted = self.state.margin_drift(account.userAssets)
        if drifted:
            self.state.take_margin_assets(account.userAssets, drifted, self.state.rest_ms)
            self.corrections += 1
            log.info("margin account corrected from REST", extra={"fields": {"assets": ",".join(drifted)}})
        return bool(drifted)

    def _confirm_spot_drift(self, account: BinanceSpotAccount) -> bool:
        """Take REST's balance of an asset only after two polls in a row saw the same disagreement."""
        rest = {b.asset: (b.free, b.locked) for b in account.balances}
        suspects: dict[str, tuple[Decimal, Decimal]] = {}
        corrected = False
        for asset in sorted(set(rest) | set(self.state.balances)):
            free, locked = rest.get(asset, (Decimal(0), Decimal(0)))
            bal = self.state.balances.get(asset)
            ours = bal.total if bal is not None else Decimal(0)
            if free + locked == ours:
                continue
            if self._spot_suspects.get(asset) == (free, locked):
                bal = self.state._bal(asset)
                bal.free, bal.locked = free, locked
                corrected = True
            else:
                suspects[asset] = (free, locked)
        self._spot_suspects = suspects
        if corrected:
            self.corrections += 1
        return corrected

    # -- events ----------------------------------------------------------------------------------
    def handle(self, event: Any, t_recv_ns: int) -> Outputs:
        state = self.state
        if isinstance(event, BinanceExecutionReport):
            state.last_event_ms = max(state.last_event_ms, event.E)
            if event.x != "TRADE" or event.l <= 0:
                return self._order_change(event, t_recv_ns)
            try:
                res = state.apply_trade(event)
            except UnknownSymbol:
                log.error("fill of an unknown symbol; rebuilding", extra={"fields": {"symbol": event.s}})
                state.symbols = {}  # reload exchangeInfo with the rebuild
                return [Resync()]
            if res is None:
                return [Duplicate()]
            self.fills_seen += 1
            for update in self.lists.sort(spot_update(event)):
                self.resting.on_event(update, self.position)  # its filled quantity; FILLED ends it
            return [
                Fill(
                    {
                        "symbol": event.s,
                        "position_side": "BOTH",
                        "side": event.S,
                        "order_id": event.i,
                        "trade_id": event.t,
                        "client_order_id": event.c,
                        "order_type": event.o,
                        "price": event.L,
                        "qty": event.l,
                        "cum_qty": event.z,
                        "status": event.X,
                        "order_qty": event.q,
                        "position_before": res.before,
                        "position_after": res.after,
                        "borrowed_before": res.borrowed_before,
                        "borrowed_after": res.borrowed_after,
                        "side_effect": res.side_effect,
                        "equity": state.equity(),
                        "equity_asset": state.quote_asset,
                        "trade_time_ms": event.T,
                        "t_exchange_ms": event.E,
                        "t_master_recv_ns": t_recv_ns,
                    }
                ),
                *self._recheck(),
            ]
        if isinstance(event, BinanceListStatus):  # an order list's type: what waited for it (order_lists.py)
            return self._book(self.lists.on_list_status(event.g, event.c, event.L == "ALL_DONE"), event.E, t_recv_ns)
        if isinstance(event, BinanceOutboundAccountPosition):
            state.last_event_ms = max(state.last_event_ms, event.E)
            state.apply_balances(event)
        elif isinstance(event, BinanceBalanceUpdate):
            state.last_event_ms = max(state.last_event_ms, event.E)
            state.apply_balance_delta(event.a, event.d, event.T)
            return self._recheck()
        return []

    def _order_change(self, event: BinanceExecutionReport, t_recv_ns: int) -> Outputs:
        """A resting order placed, amended, canceled or expired (resting.py): published in order
        with the fills, for the slaves in `orders = "mirror"`."""
        return self._book(self.lists.sort(spot_update(event)), event.E, t_recv_ns)

    def _book(self, updates: list[OrderUpdate], t_exchange_ms: int, t_recv_ns: int) -> Outputs:
        out: Outputs = []
        for update in updates:
            change = self.resting.on_event(update, self.position)
            if change is None:
                continue
            action, order = change
            fields = {
                "position": self.position(order.symbol),
                "equity": self.state.equity(),
                "t_exchange_ms": t_exchange_ms,
                "t_master_recv_ns": t_recv_ns,
            }
            out.append(Order(action, order, fields))
        return out

    def _recheck(self) -> Outputs:
        """Margin: loans are not in the stream, so read the account again shortly (debounced)."""
        return [Recheck(MARGIN_REFRESH_DELAY_S)] if self.market == "margin" else []

    def snapshot_fields(self) -> dict[str, Any]:
        return {
            "equity": self.state.equity(),
            "equity_asset": self.state.quote_asset,
            "positions": self.state.entries(),
            "holdings": self.state.holdings(),
            "open_orders": self.resting.entries(),
        }


async def _quietly(aw: Any) -> None:
    try:
        await aw
    except Exception:  # closing: nothing useful to do with the error
        pass
