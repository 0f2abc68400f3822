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

import msgspec

from simulator import errors
from simulator.api import TRADE, USER_DATA, USER_STREAM, Ctx
from simulator.futures import (
    DEFAULT_SYMBOLS,
    ZERO,
    FuturesAccount,
    FuturesEngine,
    FuturesOrder,
    FuturesReject,
    FuturesSymbol,
    OrderRequest,
    Position,
    fixed,
    parse_order_params,
    plain,
    price_text,
)
from simulator.futures_stream import FuturesStreams
from simulator.matching import Resting
from simulator.params import Params
from simulator.util import now_ms

if TYPE_CHECKING:
    from aiohttp import web

    from simulator.accounts import Account
    from simulator.core import Sim

log = logging.getLogger("simulator.futures")

WS_PATH = "/ws-fapi/v1"
PERMISSION = "enableFutures"
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
ONBOARD_MS = 1569398400000
DELIVERY_MS = 4133404800000


def _fail(exc: FuturesReject) -> errors.BinanceError:
    return errors.BinanceError(exc.code, exc.msg, exc.http_status)


class FuturesService:
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
            self.trades.append({
                "account": account_id, "market": "futures", "symbol": order.symbol, "id": result.trade_id,
                "orderId": order.order_id, "clientOrderId": order.client_order_id, "side": order.side,
                "positionSide": order.position_side, "price": str(result.price), "qty": str(result.qty),
                "realizedPnl": str(result.realized_pnl), "commission": str(result.commission),
                "maker": result.maker, "time": now_ms(), "arrivalNs": arrival_ns, "transport": transport,
            })
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

    # -- admin listings (sim.markets) -----------------------------------------------------------------
    def admin_orders(self, account_id: str | None) -> list[dict[str, Any]]:
        out = []
        for acct in self.engine.accounts.values():
            if account_id in (None, acct.account_id):
                for o in acct.orders.values():
                    arrival_ns, transport = self.arrivals.get(o.order_id, (0, ""))
                    out.append({"accountId": acct.account_id, "account": acct.account_id, "market": "futures",
                                "arrivalNs": arrival_ns, "transport": transport, **order_query(self.engine, o)})
        return out

    def admin_set_filters(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """POST /_sim/futures/symbol {symbol, step_size?, min_qty?, tick_size?, min_notional?}:
        change a symbol's filters now (exchangeInfo and order checks follow at once), as Binance
        does now and then."""
        symbol = str(body.get("symbol", "")).upper()
        spec = self.engine.spec(symbol)
        fields = ("step_size", "min_qty", "tick_size", "min_notional", "market_min_qty")
        changes = {k: Decimal(str(body[k])) for k in fields if k in body}
        if "step_size" in changes:
            step = changes["step_size"]
            changes.setdefault("min_qty", max(spec.min_qty, step))
            changes.setdefault("market_min_qty", max(spec.market_min_qty, step))
            changes["quantity_precision"] = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[assignment]
        if "tick_size" in changes:
            changes["price_precision"] = max(0, -changes["tick_size"].normalize().as_tuple().exponent)  # type: ignore[assignment]
        self.engine.symbols[symbol] = msgspec.structs.replace(spec, **changes)
        return {"symbol": symbol, **{k: str(v) for k, v in changes.items()}}

    def admin_trades(self, account_id: str | None) -> list[dict[str, Any]]:
        return [t for t in self.trades if account_id in (None, t["account"])]

    # -- handlers -------------------------------------------------------------------------------------
    def _ctx_account(self, ctx: Ctx) -> FuturesAccount:
        return self.account(ctx.require_account())

    def new_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        try:
            req = parse_order_params(p.raw)
            self.engine.spec(req.symbol)
            if req.type == "LIMIT" and req.time_in_force == "GTX" and self._crosses(req.symbol, req.side, req.price or ZERO):
                raise FuturesReject(-5022, "Due to the order could not be executed as maker, the Post Only order "
                                           "will be rejected. The order will not be recorded in the order history")
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
        return order_result(self.engine, order)

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

    def get_position_mode(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"dualSidePosition": self._ctx_account(ctx).dual_side}

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

    def get_multi_assets(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"multiAssetsMargin": self._ctx_account(ctx).multi_assets}

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

    def leverage_bracket(self, ctx: Ctx, p: Params) -> Any:
        self._ctx_account(ctx)
        symbol = p.get("symbol")
        if symbol is not None:
            try:
                return bracket_json(self.engine.spec(symbol.upper()))
            except FuturesReject as exc:
                raise _fail(exc) from None
        return [bracket_json(spec) for spec in self.engine.symbols.values()]

    def commission_rate(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        fa = self._ctx_account(ctx)
        symbol = p.str("symbol").upper()
        try:
            self.engine.spec(symbol)
        except FuturesReject as exc:
            raise _fail(exc) from None
        return {"symbol": symbol, "makerCommissionRate": plain(fa.maker_rate),
                "takerCommissionRate": plain(fa.taker_rate), "rpiCommissionRate": "0"}

    def account_v2(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return account_json(self.engine, self._ctx_account(ctx), version=2)

    def account_v3(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return account_json(self.engine, self._ctx_account(ctx), version=3)

    def balance(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        return balance_json(self.engine, self._ctx_account(ctx), ctx.require_account().uid)

    def _positions(self, fa: FuturesAccount, p: Params) -> list[Position]:
        symbol = p.get("symbol")
        symbols = list(self.engine.symbols)
        if symbol is not None:
            symbol = symbol.upper()
            try:
                self.engine.spec(symbol)
            except FuturesReject as exc:
                raise _fail(exc) from None
            symbols = [symbol]
        sides = ("LONG", "SHORT") if fa.dual_side else ("BOTH",)
        return [fa.position(s, side) for s in symbols for side in sides]

    def position_risk_v2(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        return [position_risk_v2_json(self.engine, fa, pos) for pos in self._positions(fa, p)]

    def position_risk_v3(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        fa = self._ctx_account(ctx)
        return [position_risk_v3_json(self.engine, fa, pos) for pos in self._positions(fa, p)
                if pos.amt != 0 or any(o.position_side == pos.side for o in fa.open_orders(pos.symbol))]

    def listen_key_start(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"listenKey": self.streams.create(ctx.require_account().id)}

    def listen_key_keepalive(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"listenKey": self.streams.keepalive(ctx.require_account().id, p.get("listenKey"))}

    def listen_key_close(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        self.streams.close_key(ctx.require_account().id, p.get("listenKey"))
        return {}

    # -- public market data ---------------------------------------------------------------------------
    def ping(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {}

    def server_time(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"serverTime": now_ms()}

    def exchange_info(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        return {
            "timezone": "UTC",
            "serverTime": now_ms(),
            "futuresType": "U_MARGINED",
            "rateLimits": self.sim.limiters["futures"].exchange_info(),
            "exchangeFilters": [],
            "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
            "symbols": [symbol_json(spec) for spec in self.engine.symbols.values()],
        }

    def premium_index(self, ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")
        if symbol is not None:
            symbol = symbol.upper()
            if symbol not in self.engine.symbols:
                raise errors.invalid_symbol()
            return self._premium(symbol)
        return [self._premium(s) for s in self.engine.symbols]

    def _premium(self, symbol: str) -> dict[str, Any]:
        now = now_ms()
        mark = fixed(self.engine.mark(symbol), 8)
        return {
            "symbol": symbol,
            "markPrice": mark,
            "indexPrice": mark,
            "estimatedSettlePrice": mark,
            "lastFundingRate": "0.00010000",
            "interestRate": "0.00010000",
            "nextFundingTime": (now // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
            "time": now,
        }

    def ticker_price(self, ctx: Ctx, p: Params) -> Any:
        symbol = p.get("symbol")
        def one(s: str) -> dict[str, Any]:
            spec = self.engine.symbols[s]
            return {"symbol": s, "price": fixed(self.sim.prices.price(s), spec.price_precision), "time": now_ms()}
        if symbol is not None:
            if symbol.upper() not in self.engine.symbols:
                raise errors.invalid_symbol()
            return one(symbol.upper())
        return [one(s) for s in self.engine.symbols]


# ----------------------------------------------------------------------------------------------------
# wire builders (pure functions of the engine state)


def _qty(engine: FuturesEngine, symbol: str, value: Decimal) -> str:
    return fixed(value, engine.spec(symbol).quantity_precision)


def _price(engine: FuturesEngine, symbol: str, value: Decimal) -> str:
    return fixed(value, engine.spec(symbol).price_precision)


def _order_common(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    return {
        "orderId": o.order_id,
        "symbol": o.symbol,
        "status": o.status,
        "clientOrderId": o.client_order_id,
        "price": _price(engine, o.symbol, o.price) if o.price else "0",
        "avgPrice": price_text(o.avg_price) if o.executed_qty else "0.00",
        "origQty": _qty(engine, o.symbol, o.orig_qty),
        "executedQty": _qty(engine, o.symbol, o.executed_qty),
        "cumQuote": fixed(o.cum_quote, 8).rstrip("0").rstrip(".") if o.cum_quote else "0",
        "timeInForce": o.time_in_force,
        "type": o.type,
        "reduceOnly": o.reduce_only,
        "closePosition": False,
        "side": o.side,
        "positionSide": o.position_side,
        "stopPrice": "0",
        "workingType": o.working_type,
        "priceProtect": False,
        "origType": o.type,
        "priceMatch": o.price_match,
        "selfTradePreventionMode": o.stp_mode,
        "goodTillDate": o.good_till_date,
        "updateTime": o.update_time,
    }


def order_result(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    """POST / DELETE /fapi/v1/order (and order.place / order.cancel) result."""
    out = _order_common(engine, o)
    out["cumQty"] = out["executedQty"]
    return out


def order_query(engine: FuturesEngine, o: FuturesOrder) -> dict[str, Any]:
    """GET /fapi/v1/order, openOrders, allOrders (and order.status) result."""
    out = _order_common(engine, o)
    out["time"] = o.time
    return out


def bracket_json(spec: FuturesSymbol) -> dict[str, Any]:
    return {
        "symbol": spec.symbol,
        "notionalCoef": 1.0,
        "brackets": [
            {
                "bracket": b.bracket,
                "initialLeverage": b.initial_leverage,
                "notionalCap": int(b.notional_cap),
                "notionalFloor": int(b.notional_floor),
                "maintMarginRatio": float(b.maint_margin_ratio),
                "cum": int(b.cum) if b.cum == b.cum.to_integral_value() else float(b.cum),
            }
            for b in spec.brackets
        ],
    }


def symbol_json(spec: FuturesSymbol) -> dict[str, Any]:
    pp = spec.price_precision
    qp = spec.quantity_precision
    return {
        "symbol": spec.symbol,
        "pair": spec.symbol,
        "contractType": "PERPETUAL",
        "deliveryDate": DELIVERY_MS,
        "onboardDate": ONBOARD_MS,
        "status": "TRADING",
        "maintMarginPercent": "2.5000",
        "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base_asset,
        "quoteAsset": spec.quote_asset,
        "marginAsset": spec.quote_asset,
        "pricePrecision": pp,
        "quantityPrecision": qp,
        "baseAssetPrecision": 8,
        "quotePrecision": 8,
        "underlyingType": "COIN",
        "underlyingSubType": [],
        "settlePlan": 0,
        "triggerProtect": "0.0500",
        "liquidationFee": "0.012500",
        "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": plain(spec.min_price), "maxPrice": plain(spec.max_price),
             "tickSize": plain(spec.tick_size)},
            {"filterType": "LOT_SIZE", "minQty": plain(spec.min_qty), "maxQty": plain(spec.max_qty),
             "stepSize": plain(spec.step_size)},
            {"filterType": "MARKET_LOT_SIZE", "minQty": plain(spec.market_min_qty),
             "maxQty": plain(spec.market_max_qty), "stepSize": plain(spec.step_size)},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": plain(spec.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": fixed(spec.multiplier_up, spec.multiplier_decimal),
             "multiplierDown": fixed(spec.multiplier_down, spec.multiplier_decimal),
             "multiplierDecimal": str(spec.multiplier_decimal)},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET",
                       "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
        "permissionSets": ["GRID", "COPY"],
    }


def _asset_json(engine: FuturesEngine, fa: FuturesAccount, version: int) -> dict[str, Any]:
    t = engine.totals(fa)
    out = {
        "asset": "USDT",
        "walletBalance": fixed(t.wallet, 8),
        "unrealizedProfit": fixed(t.unrealized, 8),
        "marginBalance": fixed(t.margin_balance, 8),
        "maintMargin": fixed(t.maint_margin, 8),
        "initialMargin": fixed(t.initial_margin, 8),
        "positionInitialMargin": fixed(t.position_im, 8),
        "openOrderInitialMargin": fixed(t.open_order_im, 8),
        "crossWalletBalance": fixed(t.cross_wallet, 8),
        "crossUnPnl": fixed(t.cross_unrealized, 8),
        "availableBalance": fixed(t.available, 8),
        "maxWithdrawAmount": fixed(t.max_withdraw, 8),
    }
    if version == 2:
        out["marginAvailable"] = True
    out["updateTime"] = fa.update_time
    return out


def account_json(engine: FuturesEngine, fa: FuturesAccount, version: int) -> dict[str, Any]:
    """GET /fapi/v2/account (version=2) or /fapi/v3/account (version=3)."""
    t = engine.totals(fa)
    out: dict[str, Any] = {}
    if version == 2:
        out.update(feeTier=0, feeBurn=True, canTrade=fa.can_trade, canDeposit=True, canWithdraw=True,
                   updateTime=0, multiAssetsMargin=fa.multi_assets, tradeGroupId=-1)
    out.update(
        totalInitialMargin=fixed(t.initial_margin, 8),
        totalMaintMargin=fixed(t.maint_margin, 8),
        totalWalletBalance=fixed(t.wallet, 8),
        totalUnrealizedProfit=fixed(t.unrealized, 8),
        totalMarginBalance=fixed(t.margin_balance, 8),
        totalPositionInitialMargin=fixed(t.position_im, 8),
        totalOpenOrderInitialMargin=fixed(t.open_order_im, 8),
        totalCrossWalletBalance=fixed(t.cross_wallet, 8),
        totalCrossUnPnl=fixed(t.cross_unrealized, 8),
        availableBalance=fixed(t.available, 8),
        maxWithdrawAmount=fixed(t.max_withdraw, 8),
        assets=[_asset_json(engine, fa, version)],
    )
    sides = ("LONG", "SHORT") if fa.dual_side else ("BOTH",)
    if version == 2:
        out["positions"] = [_account_position_v2(engine, fa, fa.position(s, side))
                            for s in engine.symbols for side in sides]
    else:
        out["positions"] = [_account_position_v3(engine, fa, p) for p in list(fa.positions.values())
                            if p.side in sides and (p.amt != 0 or any(
                                o.position_side == p.side for o in fa.open_orders(p.symbol)))]
    return out


def _account_position_v2(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    spec = engine.spec(pos.symbol)
    lev = fa.lev(pos.symbol)
    return {
        "symbol": pos.symbol,
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "unrealizedProfit": fixed(f.unrealized, 8),
        "positionInitialMargin": fixed(f.position_im, 8),
        "openOrderInitialMargin": fixed(f.open_order_im, 8),
        "leverage": str(lev),
        "isolated": fa.is_isolated(pos.symbol),
        "entryPrice": price_text(pos.entry),  # no breakEvenPrice in v2 account positions (scrape, official SDK)
        "maxNotional": plain(spec.max_notional(lev)),
        "bidNotional": "0",
        "askNotional": "0",
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "updateTime": pos.update_time,
    }


def _account_position_v3(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    return {
        "symbol": pos.symbol,
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "unrealizedProfit": fixed(f.unrealized, 8),
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "notional": fixed(f.notional, 8),
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "updateTime": pos.update_time,
    }


def position_risk_v2_json(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    spec = engine.spec(pos.symbol)
    lev = fa.lev(pos.symbol)
    return {
        "symbol": pos.symbol,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "entryPrice": price_text(pos.entry),
        "breakEvenPrice": price_text(f.break_even),
        "markPrice": fixed(f.mark, 8),
        "unRealizedProfit": fixed(f.unrealized, 8),
        "liquidationPrice": "0",
        "leverage": str(lev),
        "maxNotionalValue": plain(spec.max_notional(lev)),
        "marginType": "isolated" if fa.is_isolated(pos.symbol) else "cross",
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "isAutoAddMargin": "false",
        "positionSide": pos.side,
        "notional": fixed(f.notional, 8),
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "updateTime": pos.update_time,
    }


def position_risk_v3_json(engine: FuturesEngine, fa: FuturesAccount, pos: Position) -> dict[str, Any]:
    f = engine.position_figures(fa, pos)
    return {
        "symbol": pos.symbol,
        "positionSide": pos.side,
        "positionAmt": _qty(engine, pos.symbol, pos.amt),
        "entryPrice": price_text(pos.entry),
        "breakEvenPrice": price_text(f.break_even),
        "markPrice": fixed(f.mark, 8),
        "unRealizedProfit": fixed(f.unrealized, 8),
        "liquidationPrice": "0",
        "isolatedMargin": fixed(f.isolated_margin, 8),
        "notional": fixed(f.notional, 8),
        "marginAsset": "USDT",
        "isolatedWallet": fixed(pos.isolated_wallet, 8),
        "initialMargin": fixed(f.position_im + f.open_order_im, 8),
        "maintMargin": fixed(f.maint_margin, 8),
        "positionInitialMargin": fixed(f.position_im, 8),
        "openOrderInitialMargin": fixed(f.open_order_im, 8),
        "adl": 0,
        "bidNotional": "0",
        "askNotional": "0",
        "updateTime": pos.update_time,
    }


def balance_json(engine: FuturesEngine, fa: FuturesAccount, uid: int) -> list[dict[str, Any]]:
    """GET /fapi/v2/balance (and /fapi/v3/balance)."""
    t = engine.totals(fa)
    return [{
        "accountAlias": f"Sim{uid}",
        "asset": "USDT",
        "balance": fixed(t.wallet, 8),
        "crossWalletBalance": fixed(t.cross_wallet, 8),
        "crossUnPnl": fixed(t.cross_unrealized, 8),
        "availableBalance": fixed(t.available, 8),
        "maxWithdrawAmount": fixed(t.max_withdraw, 8),
        "marginAvailable": True,
        "updateTime": fa.update_time,
    }]


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

    def route(method: str, path: str | None, handler: Callable[..., Any], ws: list[str] | None = None,
              **kw: Any) -> None:
        if kw.get("security") in (TRADE, USER_DATA, USER_STREAM):
            kw["permission"] = PERMISSION  # a key without futures rights gets -2015
        api.route(method, path, handler, ws=[(WS_PATH, m) for m in (ws or [])], market="futures",
                  limiter="futures", **kw)

    route("GET", "/fapi/v1/ping", svc.ping)
    route("GET", "/fapi/v1/time", svc.server_time)
    route("GET", "/fapi/v1/exchangeInfo", svc.exchange_info)
    route("GET", "/fapi/v1/premiumIndex", svc.premium_index, weight=1)
    route("GET", "/fapi/v1/ticker/price", svc.ticker_price, ws=["ticker.price"], weight=1)
    route("POST", "/fapi/v1/order", svc.new_order, ws=["order.place"], security=TRADE, weight=0, order=True)
    route("GET", "/fapi/v1/order", svc.query_order, ws=["order.status"], security=USER_DATA, weight=1)
    route("DELETE", "/fapi/v1/order", svc.cancel_order, ws=["order.cancel"], security=TRADE, weight=1)
    route("DELETE", "/fapi/v1/allOpenOrders", svc.cancel_all, security=TRADE, weight=1)
    route("GET", "/fapi/v1/openOrders", svc.open_orders, security=USER_DATA,
          weight=lambda p: 1 if p.get("symbol") else 40)
    route("GET", "/fapi/v1/allOrders", svc.all_orders, security=USER_DATA, weight=5)
    route("GET", "/fapi/v1/positionSide/dual", svc.get_position_mode, security=USER_DATA, weight=30)
    route("POST", "/fapi/v1/positionSide/dual", svc.set_position_mode, security=TRADE, weight=1)
    route("GET", "/fapi/v1/multiAssetsMargin", svc.get_multi_assets, security=USER_DATA, weight=30)
    route("POST", "/fapi/v1/multiAssetsMargin", svc.set_multi_assets, security=TRADE, weight=1)
    route("POST", "/fapi/v1/marginType", svc.set_margin_type, security=TRADE, weight=1)
    route("POST", "/fapi/v1/leverage", svc.set_leverage, security=TRADE, weight=1)
    route("GET", "/fapi/v1/leverageBracket", svc.leverage_bracket, security=USER_DATA, weight=1)
    route("GET", "/fapi/v1/commissionRate", svc.commission_rate, security=USER_DATA, weight=20)
    route("GET", "/fapi/v2/account", svc.account_v2, ws=["account.status"],
          security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/account", svc.account_v3, security=USER_DATA, weight=5)
    route("GET", "/fapi/v2/balance", svc.balance, ws=["account.balance"],
          security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/balance", svc.balance, security=USER_DATA, weight=5)
    route("GET", "/fapi/v2/positionRisk", svc.position_risk_v2, ws=["account.position"],
          security=USER_DATA, weight=5)
    route("GET", "/fapi/v3/positionRisk", svc.position_risk_v3, security=USER_DATA, weight=5)
    route("POST", "/fapi/v1/listenKey", svc.listen_key_start, ws=["userDataStream.start"],
          security=USER_STREAM, weight=1)
    route("PUT", "/fapi/v1/listenKey", svc.listen_key_keepalive, ws=["userDataStream.ping"],
          security=USER_STREAM, weight=1)
    route("DELETE", "/fapi/v1/listenKey", svc.listen_key_close, ws=["userDataStream.stop"],
          security=USER_STREAM, weight=1)
    return svc


def add_routes(sim: "Sim", app: "web.Application") -> None:
    """Add the futures user-data stream WebSocket routes to the aiohttp app."""
    svc: FuturesService = sim.futures  # type: ignore[attr-defined]
    svc.streams.add_routes(app)
