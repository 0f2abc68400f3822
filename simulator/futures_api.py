"""USD-M futures endpoints: REST ``/fapi`` and WebSocket API ``/ws-fapi/v1``, over `FuturesEngine`.

``register(sim)`` declares every route on ``sim.api`` (one handler serves REST and the WebSocket
API), hooks the price steps (mark prices, resting-order fills through ``sim.matcher``), the
listenKey streams (``simulator/futures_stream.py``) and the fault hooks, and returns the
`FuturesService` (also stored as ``sim.futures``). ``add_routes(sim, app)`` adds the stream
WebSocket routes to the aiohttp application.

Wire shapes follow the USD-M docs (thirdparty-coincise-scrape/docs/binance/usdm); numbers are
plain decimal strings, as Binance sends them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, USER_DATA, USER_STREAM, Ctx
from simulator.futures import DEFAULT_SYMBOLS, FuturesEngine
from simulator.futures_model import ZERO, FuturesAccount, FuturesOrder, FuturesReject, OrderRequest, parse_order_params
from simulator.futures_stream import FuturesStreams
from simulator.futures_symbols import FuturesSymbol
from simulator.matching import Resting
from simulator.params import Params
from simulator.util import now_ms

from .futures_admin import _FuturesAdmin
from .futures_json import _fail, cancel_result, order_query, order_result
from .futures_reads import _FuturesReads

if TYPE_CHECKING:
    from aiohttp import web

    from simulator.accounts import Account
    from simulator.core import Sim

log = logging.getLogger("simulator.futures")

WS_PATH = "/ws-fapi/v1"
PERMISSION = "enableFutures"


class FuturesService(_FuturesReads, _FuturesAdmin):
    """The futures market of one simulator: engine, order execution, REST/WS-API handlers."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        settings = sim.config.raw.get("futures", {}) if isinstance(sim.config.raw, dict) else {}
        self.engine = FuturesEngine(self._load_symbols(), order_ids=sim.order_ids, trade_ids=sim.trade_ids)
        self.streams = FuturesStreams(
            sim,
            listen_key_ttl=float(settings.get("listen_key_ttl", 3600)),
            max_connection_age=float(settings.get("max_connection_age", 86400)),
        )
        self.resting: dict[int, Resting] = {}
        self.arrivals: dict[int, tuple[int, str]] = {}  # order id -> (monotonic ns at arrival, transport)
        self.trades = sim.history.trades()  # the newest fills (a Ring of dicts), for the admin API
        self._synced: dict[str, Decimal] = {}  # account id -> futures USDT balance last mirrored
        # called after every publish with (account id, events): the Algo Service follows the
        # orders its triggered algo orders placed (simulator/futures_algo.py)
        self.publish_hooks: list[Callable[[str, list[dict[str, Any]]], None]] = []
        for symbol in self.engine.symbols:
            if symbol in sim.prices.prices:
                self.engine.set_mark(symbol, sim.prices.mark(symbol))
        sim.on_tick(self.on_prices)

    def _load_symbols(self) -> dict[str, FuturesSymbol]:
        return {s: spec for s, spec in DEFAULT_SYMBOLS.items() if s in self.sim.prices.prices}

    # -- accounts -------------------------------------------------------------------------------------
    def account(self, account: "Account") -> FuturesAccount:
        """The engine's state for a simulator account, created from its config on first use.

        ``account.futures_balances["USDT"]`` mirrors the wallet balance: the engine writes it after
        every change, and a change made by someone else (admin ``POST /_sim/balances``) is applied
        as a deposit / withdrawal (with its ``ACCOUNT_UPDATE``).
        """
        fa = self.engine.accounts.get(account.id)
        if fa is not None:
            wanted = account.futures_balances.get("USDT", ZERO)
            if wanted != self._synced.get(account.id):
                self.publish(account.id, self.engine.deposit(account.id, wanted - fa.wallet, now_ms()))
                self._synced[account.id] = wanted
            return fa
        conf = account.futures_config
        fa = self.engine.open_account(account.id, account.futures_balances.get("USDT", ZERO), account.created_ms or now_ms())
        self.sim.history.futures_orders(fa, self.arrivals)  # closed orders are forgotten after a while
        fa.dual_side = bool(conf.get("dual_side_position", False))
        fa.multi_assets = bool(conf.get("multi_assets_margin", False))
        fa.maker_rate = Decimal(str(conf.get("maker_commission", "0.0002")))
        fa.taker_rate = Decimal(str(conf.get("taker_commission", "0.0005")))
        leverage = conf.get("leverage", {})
        if isinstance(leverage, int):
            fa.leverage = {s: leverage for s in self.engine.symbols}
        elif isinstance(leverage, dict):
            fa.leverage = {str(k).upper(): int(v) for k, v in leverage.items()}
        margin_type = conf.get("margin_type", {})
        if isinstance(margin_type, str):
            fa.isolated = {s: margin_type.upper() == "ISOLATED" for s in self.engine.symbols}
        elif isinstance(margin_type, dict):
            fa.isolated = {str(k).upper(): str(v).upper() == "ISOLATED" for k, v in margin_type.items()}
        account.ext["usdm"] = fa
        self._synced[account.id] = account.futures_balances.get("USDT", ZERO)
        return fa

    def _write_back(self, account_id: str) -> None:
        account = self.sim.store.accounts.get(account_id)
        fa = self.engine.accounts.get(account_id)
        if account is not None and fa is not None:
            account.futures_balances["USDT"] = fa.wallet
            self._synced[account_id] = fa.wallet

    def publish(self, account_id: str, events: list[dict[str, Any]]) -> None:
        for event in events:
            self.sim.hub.publish(account_id, "futures", event)
        for hook in self.publish_hooks:
            hook(account_id, events)

    # -- prices and execution -------------------------------------------------------------------------
    def on_prices(self, prices: dict[str, Decimal]) -> None:
        for symbol, price in prices.items():
            if symbol in self.engine.symbols:
                self.engine.set_mark(symbol, price)

    def _taker_price(self, spec: FuturesSymbol, side: str, limit: Decimal | None) -> Decimal:
        """Current price moved against the taker by the slippage, on the tick grid, capped by limit."""
        price = self.sim.prices.price(spec.symbol)
        slip = self.sim.slippage
        if side == "BUY":
            raw = price * (1 + slip)
            ticked = (raw / spec.tick_size).to_integral_value(ROUND_CEILING) * spec.tick_size
            return min(ticked, limit) if limit is not None else ticked
        raw = price * (1 - slip)
        ticked = max((raw / spec.tick_size).to_integral_value(ROUND_FLOOR), Decimal(1)) * spec.tick_size
        return max(ticked, limit) if limit is not None else ticked

    def _crosses(self, symbol: str, side: str, limit: Decimal) -> bool:
        price = self.sim.prices.price(symbol)
        return limit >= price if side == "BUY" else limit <= price

    def _fill(self, account_id: str, order: FuturesOrder, qty: Decimal, price: Decimal, maker: bool) -> None:
        result, events = self.engine.fill(account_id, order.order_id, qty, price, maker, now_ms())
        if result is not None:
            arrival_ns, transport = self.arrivals.get(order.order_id, (0, ""))
            self.trades.append(
                {
                    "account": account_id,
                    "market": "futures",
                    "symbol": order.symbol,
                    "id": result.trade_id,
                    "orderId": order.order_id,
                    "clientOrderId": order.client_order_id,
                    "side": order.side,
                    "positionSide": order.position_side,
                    "price": str(result.price),
                    "qty": str(result.qty),
                    "realizedPnl": str(result.realized_pnl),
                    "commission": str(result.commission),
                    "maker": result.maker,
                    "time": now_ms(),
                    "arrivalNs": arrival_ns,
                    "transport": transport,
                }
            )
        self._write_back(account_id)
        self.publish(account_id, events)

    def _expire(self, account_id: str, order: FuturesOrder, reason: str) -> None:
        self.publish(account_id, self.engine.expire_order(account_id, order.order_id, now_ms(), reason))

    def execute(self, account_id: str, order: FuturesOrder, req: OrderRequest) -> None:
        """Fill a just-accepted order as far as it goes now; rest or expire the remainder."""
        spec = self.engine.spec(order.symbol)
        if order.type == "MARKET":
            self._fill(account_id, order, order.remaining, self._taker_price(spec, order.side, None), False)
            if order.is_open:
                self._expire(account_id, order, "9")
            return
        tif = order.time_in_force
        if self._crosses(order.symbol, order.side, order.price):
            matcher = self.sim.matcher
            if tif == "FOK" and matcher.budget(order.symbol, order.side) < order.remaining:
                self._expire(account_id, order, "2")
                return
            granted = matcher.take(order.symbol, order.side, order.remaining)
            if granted > 0:
                self._fill(account_id, order, granted, self._taker_price(spec, order.side, order.price), False)
        if not order.is_open:
            return
        if tif in ("IOC", "FOK"):
            self._expire(account_id, order, "2")
            return
        self._rest(account_id, order)

    def _rest(self, account_id: str, order: FuturesOrder) -> None:
        def on_fill(entry: Resting, qty: Decimal, price: Decimal) -> None:
            try:
                if order.is_open:
                    self._fill(account_id, order, qty, price, True)
            except Exception:  # noqa: BLE001 - a bad fill never stops the price step
                log.exception("futures resting fill failed")
            if not order.is_open:
                self.sim.matcher.remove(entry)
                self.resting.pop(order.order_id, None)

        entry = Resting(order.symbol, order.side, order.price, order.remaining, order, on_fill)
        self.resting[order.order_id] = self.sim.matcher.add(entry)

    def _unrest(self, order: FuturesOrder) -> None:
        entry = self.resting.pop(order.order_id, None)
        if entry is not None:
            self.sim.matcher.remove(entry)

    # -- handlers -------------------------------------------------------------------------------------
    def _ctx_account(self, ctx: Ctx) -> FuturesAccount:
        return self.account(ctx.require_account())

    def new_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        try:
            req = parse_order_params(p.raw)
            self.engine.spec(req.symbol)
            if req.type == "LIMIT" and req.time_in_force == "GTX" and self._crosses(req.symbol, req.side, req.price or ZERO):
                raise FuturesReject(
                    -5022,
                    "Due to the order could not be executed as maker, the Post Only order "
                    "will be rejected. The order will not be recorded in the order history",
                )
            order, events = self.engine.place_order(fa.account_id, req, now_ms())
        except FuturesReject as exc:
            raise _fail(exc) from None
        self.arrivals[order.order_id] = (ctx.arrival_ns, ctx.transport)
        self.publish(fa.account_id, events)
        ack = order_result(self.engine, order)
        self.execute(fa.account_id, order, req)
        if req.new_order_resp_type == "RESULT":
            return order_result(self.engine, order)
        return ack

    def _order_ref(self, p: Params) -> tuple[str, int | None, str | None]:
        symbol = p.str("symbol").upper()
        order_id = p.opt_int("orderId")
        client_id = p.get("origClientOrderId")
        if order_id is None and client_id is None:
            raise errors.either_mandatory("orderId", "origClientOrderId")
        return symbol, order_id, client_id

    def query_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol, order_id, client_id = self._order_ref(p)
        try:
            self.engine.spec(symbol)
            order = self.engine.find_order(fa.account_id, symbol, order_id, client_id)
        except FuturesReject as exc:
            raise _fail(exc) from None
        return order_query(self.engine, order)

    def cancel_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol, order_id, client_id = self._order_ref(p)
        try:
            self.engine.spec(symbol)
            order, events = self.engine.cancel_order(fa.account_id, symbol, order_id, client_id, now_ms())
        except FuturesReject as exc:
            raise _fail(exc) from None
        self._unrest(order)
        self.publish(fa.account_id, events)
        return cancel_result(self.engine, order)

    def cancel_all(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        try:
            self.engine.spec(symbol)
            for order in fa.open_orders(symbol):
                _, events = self.engine.cancel_order(fa.account_id, symbol, order.order_id, None, now_ms())
                self._unrest(order)
                self.publish(fa.account_id, events)
        except FuturesReject as exc:
            raise _fail(exc) from None
        return {"code": 200, "msg": "The operation of cancel all open order is done."}

    def open_orders(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        symbol = p.get("symbol")
        if symbol is not None:
            try:
                self.engine.spec(symbol.upper())
            except FuturesReject as exc:
                raise _fail(exc) from None
        return [order_query(self.engine, o) for o in fa.open_orders(symbol.upper() if symbol else None)]

    def all_orders(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        limit = min(p.opt_int("limit", 500) or 500, 1000)
        orders = sorted((o for o in fa.orders.values() if o.symbol == symbol), key=lambda o: o.order_id)
        return [order_query(self.engine, o) for o in orders[-limit:]]

    def set_position_mode(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        dual = p.bool("dualSidePosition") if p.get("dualSidePosition") else None
        if dual is None:
            raise errors.mandatory("dualSidePosition")
        try:
            self.engine.set_position_mode(fa.account_id, dual, now_ms())
        except FuturesReject as exc:
            raise _fail(exc) from None
        return {"code": 200, "msg": "success"}

    def set_margin_type(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        margin_type = p.enum("marginType", ("ISOLATED", "CROSSED"))
        try:
            self.engine.set_margin_type(fa.account_id, symbol, margin_type, now_ms())
        except FuturesReject as exc:
            raise _fail(exc) from None
        return {"code": 200, "msg": "success"}

    def set_leverage(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        leverage = p.int("leverage")
        try:
            response, events = self.engine.set_leverage(fa.account_id, symbol, leverage, now_ms())
        except FuturesReject as exc:
            raise _fail(exc) from None
        self.publish(fa.account_id, events)
        return response

    def set_multi_assets(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        want = p.bool("multiAssetsMargin") if p.get("multiAssetsMargin") else None
        if want is None:
            raise errors.mandatory("multiAssetsMargin")
        if want == fa.multi_assets:
            raise errors.BinanceError(-4171, "Multi-Assets mode is already in this state.")
        fa.multi_assets = want
        now = now_ms()
        self.publish(fa.account_id, [{"e": "ACCOUNT_CONFIG_UPDATE", "E": now, "T": now, "ai": {"j": want}}])
        return {"code": 200, "msg": "success"}


# ----------------------------------------------------------------------------------------------------
# registration


def register(sim: "Sim") -> FuturesService:
    """Declare every futures route and WS-API method on ``sim.api``; returns the service."""
    svc = FuturesService(sim)
    sim.futures = svc  # type: ignore[attr-defined]
    sim.add_market("futures", svc)
    sim.admin.add("POST", "/_sim/futures/symbol", svc.admin_set_filters)
    sim.on_startup(svc.streams.start)
    sim.on_cleanup(svc.streams.stop)
    api = sim.api

    def route(method: str, path: str | None, handler: Callable[..., Any], ws: list[str] | None = None, **kw: Any) -> None:
        if kw.get("security") in (TRADE, USER_DATA, USER_STREAM):
            kw["permission"] = PERMISSION  # a key without futures rights gets -2015
        api.route(method, path, handler, ws=[(WS_PATH, m) for m in (ws or [])], market="futures", limiter="futures", **kw)

    route("GET", "/fapi/v1/ping", svc.ping)
    route("GET", "/fapi/v1/time", svc.server_time)
    route("GET", "/fapi/v1/exchangeInfo", svc.exchange_info)
    route("GET", "/fapi/v1/premiumIndex", svc.premium_index, weight=1)
    route("GET", "/fapi/v1/ticker/price", svc.ticker_price, ws=["ticker.price"], weight=1)
    route("POST", "/fapi/v1/order", svc.new_order, ws=["order.place"], security=TRADE, weight=0, order=True)
    route("GET", "/fapi/v1/order", svc.query_order, ws=["order.status"], security=USER_DATA, weight=1)
    route("DELETE", "/fapi/v1/order", svc.cancel_order, ws=["order.cancel"], security=TRADE, weight=1)
    route("DELETE", "/fapi/v1/allOpenOrders", svc.cancel_all, security=TRADE, weight=1)
    route("GET", "/fapi/v1/openOrders", svc.open_orders, security=USER_DATA, weight=lambda p: 1 if p.get("symbol") else 40)
    route("GET", "/fapi/v1/allOrders", svc.all_orders, security=USER_DATA, weight=5)
    route("GET", "/fapi/v1/positionSide/dual", svc.get_position_mode, security=USER_DATA, weight=30)
    route("POST", "/fapi/v1/positionSide/dual", svc.set_position_mode, security=TRADE, weight=1)
    route("GET", "/fapi/v1/multiAssetsMargin", svc.get_multi_assets, security=USER_DATA, weight=30)
    route("POST", "/fapi/v1/multiAssetsMargin", svc.set_multi_assets, security=TRADE, weight=1)
    route("POST", "/fapi/v1/marginType", svc.set_margin_type, security=TRADE, weight=1)
    route("POST", "/fapi/v1/leverage", svc.set_leverage, security=TRADE, weight=1)
    route("GET", "/fapi/v1/leverageBracket", svc.leverage_bracket, security=USER_DATA, weight=1)
    route("GET", "/fapi/v1/commissionRate", svc.commission_rate, security=USER_DATA, weight=20)
    route("GET", "/fapi/v2/account", svc.account_v2, ws=["account.status"], security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/account", svc.account_v3, security=USER_DATA, weight=5)
    route("GET", "/fapi/v2/balance", svc.balance, ws=["account.balance"], security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/balance", svc.balance, security=USER_DATA, weight=5)
    route("GET", "/fapi/v2/positionRisk", svc.position_risk_v2, ws=["account.position"], security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/positionRisk", svc.position_risk_v3, security=USER_DATA, weight=5)
    route("POST", "/fapi/v1/listenKey", svc.listen_key_start, ws=["userDataStream.start"], security=USER_STREAM, weight=1)
    route("PUT", "/fapi/v1/listenKey", svc.listen_key_keepalive, ws=["userDataStream.ping"], security=USER_STREAM, weight=1)
    route("DELETE", "/fapi/v1/listenKey", svc.listen_key_close, ws=["userDataStream.stop"], security=USER_STREAM, weight=1)
    return svc


def add_routes(sim: "Sim", app: "web.Application") -> None:
    """Add the futures user-data stream WebSocket routes to the aiohttp app."""
    svc: FuturesService = sim.futures  # type: ignore[attr-defined]
    svc.streams.add_routes(app)
