"""Spot REST `/api/v3` and WebSocket API `/ws-api/v3` endpoints.

Parameter rules, responses and errors follow binance-spot-api-docs/rest-api.md and
web-socket-api.md. The order logic lives in orders.py (shared with Cross Margin).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, USER_DATA, Ctx
from simulator.orders import ORDER_TYPES, RESP_TYPES, SIDES, STOP_TYPES, STP_MODES, SUPPORTED_TYPES, TIFS, OrderEngine
from simulator.params import Params
from simulator.spot_lists import register_lists
from simulator.util import fmt, now_ms

if TYPE_CHECKING:
    from simulator.core import Sim

WS = "/ws-api/v3"


@dataclass
class NewOrder:
    symbol: str
    side: str
    type: str
    tif: str | None
    quantity: Decimal | None
    quote_qty: Decimal | None
    price: Decimal | None
    client_id: str | None
    resp_type: str
    stp: str
    stop_price: Decimal | None = None  # STOP_LOSS(_LIMIT), TAKE_PROFIT(_LIMIT)


def parse_new_order(sim: "Sim", p: Params) -> NewOrder:
    """Read and check the parameters of a new order (spot and margin), in Binance's order of checks."""
    symbol = p.str("symbol")
    side = p.str("side")
    type_ = p.str("type")
    spec = sim.symbols.get(symbol, "spot")
    if side not in SIDES:
        raise errors.invalid_side()
    if type_ not in ORDER_TYPES:
        raise errors.invalid_type()
    if type_ not in SUPPORTED_TYPES:
        raise errors.BinanceError(errors.UNSUPPORTED_OPERATION, "This operation is not supported.")
    tif = p.get("timeInForce")
    quantity = p.opt_decimal("quantity")
    quote_qty = p.opt_decimal("quoteOrderQty")
    price = p.opt_decimal("price")
    stop_price = p.opt_decimal("stopPrice")
    if p.get("trailingDelta") is not None:  # trailing stops are not modelled: refused, never ignored
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Trailing stop orders are not supported for this symbol.")
    if type_ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT"):
        if tif is None:
            raise errors.mandatory("timeInForce")
        if tif not in TIFS:
            raise errors.invalid_tif()
        if quantity is None:
            raise errors.mandatory("quantity")
        if price is None:
            raise errors.mandatory("price")
        if quote_qty is not None:
            raise errors.not_required("quoteOrderQty")
    elif type_ in ("LIMIT_MAKER", "STOP_LOSS", "TAKE_PROFIT"):
        if tif is not None:
            raise errors.not_required("timeInForce")
        if quantity is None:
            raise errors.mandatory("quantity")
        if type_ == "LIMIT_MAKER" and price is None:
            raise errors.mandatory("price")
        if type_ != "LIMIT_MAKER" and price is not None:
            raise errors.not_required("price")
    else:  # MARKET
        if tif is not None:
            raise errors.not_required("timeInForce")
        if price is not None:
            raise errors.not_required("price")
        if quantity is None and quote_qty is None:
            raise errors.either_mandatory("quantity", "quoteOrderQty")
        if quantity is not None and quote_qty is not None:
            raise errors.BinanceError(errors.OPTIONAL_PARAMS_BAD_COMBO, "Combination of optional parameters invalid.")
    if type_ in STOP_TYPES:
        if stop_price is None:
            raise errors.either_mandatory("stopPrice", "trailingDelta")
        if stop_price <= 0:
            raise errors.invalid_param("stopPrice")
    elif stop_price is not None:
        raise errors.not_required("stopPrice")
    if quantity is not None and quantity <= 0 or quote_qty is not None and quote_qty <= 0:
        raise errors.BinanceError(errors.NEW_ORDER_REJECTED, "Price * QTY is zero or less.")
    if price is not None and price <= 0:
        raise errors.invalid_param("price")
    spec.check_precision(quantity, price)
    spec.check_precision(None, stop_price)
    if quote_qty is not None and len(str(quote_qty).partition(".")[2]) > spec.quote_precision:
        raise errors.bad_precision("quoteOrderQty")
    client_id = p.opt_str("newClientOrderId")
    if client_id is not None and (len(client_id) > 36 or not all(c.isalnum() or c in "-_.:/" for c in client_id)):
        raise errors.illegal_chars("newClientOrderId", "^[\\.A-Z\\:/a-z0-9_-]{1,36}$")
    default_resp = "FULL" if type_ in ("LIMIT", "MARKET") else "ACK"
    resp_type = p.enum("newOrderRespType", RESP_TYPES, default_resp)
    stp = p.enum("selfTradePreventionMode", STP_MODES, "EXPIRE_MAKER")
    # Binance reports GTC for MARKET, LIMIT_MAKER, STOP_LOSS and TAKE_PROFIT orders
    tif = tif if type_ in ("LIMIT", "STOP_LOSS_LIMIT", "TAKE_PROFIT_LIMIT") else "GTC"
    return NewOrder(symbol, side, type_, tif, quantity, quote_qty, price, client_id, resp_type, stp, stop_price)


def order_ref(p: Params) -> tuple[int | None, str | None]:
    order_id = p.opt_int("orderId")
    client_id = p.opt_str("origClientOrderId")
    if order_id is None and client_id is None:
        raise errors.either_mandatory("orderId", "origClientOrderId")
    return order_id, client_id


def make_spot_handlers(sim: "Sim", engine: OrderEngine) -> dict[str, Any]:
    """Handlers closed over the engine (spot); returned by name for registration and tests."""

    def new_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        req = parse_new_order(sim, p)
        spec = sim.symbols.get(req.symbol, "spot")
        order = engine.place(
            account,
            spec,
            req.side,
            req.type,
            req.tif,
            req.quantity,
            req.quote_qty,
            req.price,
            req.client_id,
            req.stp,
            ctx.arrival_ns,
            ctx.transport,
            stop_price=req.stop_price,
        )
        return engine.order_result(order, req.resp_type)

    def test_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        parse_new_order(sim, p)
        return {}

    def query_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        order_id, client_id = order_ref(p)
        order = engine.find(account.id, order_id, client_id)
        if order is None or order.symbol != symbol:
            raise errors.order_does_not_exist()
        return engine.order_query(order)

    def cancel_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        order_id, client_id = order_ref(p)
        order = engine.find(account.id, order_id, client_id)
        if order is None or order.symbol != symbol:
            raise errors.cancel_unknown()
        engine.cancel(account, order, p.opt_str("newClientOrderId"))
        ol = engine.lists.get(order.order_list_id)
        if ol is not None:  # a leg of an order list: the list was canceled, and the reply is the list's
            return engine.list_result(ol, [engine.cancel_result(o) for o in ol.orders])
        return engine.cancel_result(order)

    def open_orders(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.opt_str("symbol")
        if symbol is not None:
            sim.symbols.get(symbol, "spot")
        return [engine.order_query(o) for o in engine.open_orders(account.id, symbol)]

    def cancel_open_orders(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        out = []
        for order in engine.open_orders(account.id, symbol):
            if order.is_open:  # not the other leg of a list canceled with its first
                engine.cancel(account, order, None)
                out.append(engine.cancel_result(order))
        if not out:
            raise errors.cancel_unknown()
        return out

    def all_orders(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        limit = min(p.opt_int("limit", 500) or 500, 1000)
        from_id = p.opt_int("orderId")
        rows = [o for o in engine.book(account.id).by_id.values() if o.symbol == symbol and (from_id is None or o.order_id >= from_id)]
        return [engine.order_query(o) for o in rows[-limit:]] if from_id is None else [engine.order_query(o) for o in rows[:limit]]

    def my_trades(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        order_id = p.opt_int("orderId")
        from_id = p.opt_int("fromId")
        limit = min(p.opt_int("limit", 500) or 500, 1000)
        rows = [
            (o, f)
            for o, f in engine.book(account.id).trades
            if o.symbol == symbol and (order_id is None or o.order_id == order_id) and (from_id is None or f.trade_id >= from_id)
        ]
        rows = rows[:limit] if from_id is not None else rows[-limit:]
        return [engine.trade_row(o, f) for o, f in rows]

    def account_info(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        key = ctx.key
        omit_zero = p.bool("omitZeroBalances", False)
        balances = [
            {"asset": a, "free": fmt(b.free), "locked": fmt(b.locked)}
            for a, b in sorted(account.spot.items())
            if not (omit_zero and b.free == 0 and b.locked == 0)
        ]
        maker = int(account.maker_commission * 10000)
        taker = int(account.taker_commission * 10000)
        can_trade = bool(key and key.permissions.get("enableSpotAndMarginTrading"))
        return {
            "makerCommission": maker,
            "takerCommission": taker,
            "buyerCommission": 0,
            "sellerCommission": 0,
            "commissionRates": {
                "maker": fmt(account.maker_commission),
                "taker": fmt(account.taker_commission),
                "buyer": fmt(Decimal(0)),
                "seller": fmt(Decimal(0)),
            },
            "canTrade": can_trade,
            "canWithdraw": bool(key and key.permissions.get("enableWithdrawals")),
            "canDeposit": True,
            "brokered": False,
            "requireSelfTradePrevention": False,
            "preventSor": False,
            "updateTime": account.spot_updated_ms,
            "accountType": "SPOT",
            "balances": balances,
            "permissions": ["SPOT"],
            "uid": account.uid,
        }

    return {
        "new_order": new_order,
        "test_order": test_order,
        "query_order": query_order,
        "cancel_order": cancel_order,
        "open_orders": open_orders,
        "cancel_open_orders": cancel_open_orders,
        "all_orders": all_orders,
        "my_trades": my_trades,
        "account_info": account_info,
    }


def exchange_info(sim: "Sim", p: Params) -> dict[str, Any]:
    symbol = p.opt_str("symbol")
    symbols_param = p.opt_str("symbols")
    specs = sim.symbols.by_market("spot")
    if symbol is not None:
        specs = [sim.symbols.get(symbol, "spot")]
    elif symbols_param is not None:
        import orjson

        try:
            wanted = orjson.loads(symbols_param)
        except orjson.JSONDecodeError:
            raise errors.BinanceError(errors.INVALID_JSON, "JSON sent for parameter 'symbols' is not valid") from None
        if not isinstance(wanted, list):
            raise errors.BinanceError(errors.INVALID_JSON, "JSON sent for parameter 'symbols' is not valid")
        specs = [sim.symbols.get(str(s), "spot") for s in wanted]
    return {
        "timezone": "UTC",
        "serverTime": now_ms(),
        "rateLimits": sim.limiters["spot"].exchange_info(),
        "exchangeFilters": [],
        "symbols": [s.exchange_info() for s in specs],
    }


def register(sim: "Sim") -> OrderEngine:
    engine = OrderEngine(sim, "spot")
    sim.add_market("spot", engine)
    h = make_spot_handlers(sim, engine)
    api = sim.api
    trade = "enableSpotAndMarginTrading"

    def ping(ctx: Ctx, p: Params) -> dict[str, Any]:
        return {}

    def server_time(ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"serverTime": now_ms()}

    def exch_info(ctx: Ctx, p: Params) -> dict[str, Any]:
        return exchange_info(sim, p)

    def ticker_price(ctx: Ctx, p: Params) -> Any:
        symbol = p.opt_str("symbol")
        if symbol is not None:
            sim.symbols.get(symbol, "spot")
            return {"symbol": symbol, "price": fmt(sim.prices.price(symbol))}
        return [{"symbol": s.symbol, "price": fmt(sim.prices.price(s.symbol))} for s in sim.symbols.by_market("spot")]

    def avg_price(ctx: Ctx, p: Params) -> dict[str, Any]:
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        return {"mins": 5, "price": fmt(sim.prices.price(symbol)), "closeTime": now_ms()}

    api.route("GET", "/api/v3/ping", ping, weight=1, ws=[(WS, "ping")])
    api.route("GET", "/api/v3/time", server_time, weight=1, ws=[(WS, "time")])
    api.route("GET", "/api/v3/exchangeInfo", exch_info, weight=20, ws=[(WS, "exchangeInfo")])
    api.route("GET", "/api/v3/ticker/price", ticker_price, weight=lambda p: 2 if p.get("symbol") else 4, ws=[(WS, "ticker.price")])
    api.route("GET", "/api/v3/avgPrice", avg_price, weight=2, ws=[(WS, "avgPrice")])
    api.route("POST", "/api/v3/order", h["new_order"], security=TRADE, weight=1, order=True, permission=trade, ws=[(WS, "order.place")])
    api.route("POST", "/api/v3/order/test", h["test_order"], security=TRADE, weight=1, permission=trade, ws=[(WS, "order.test")])
    api.route("GET", "/api/v3/order", h["query_order"], security=USER_DATA, weight=4, ws=[(WS, "order.status")])
    api.route("DELETE", "/api/v3/order", h["cancel_order"], security=TRADE, weight=1, permission=trade, ws=[(WS, "order.cancel")])
    api.route(
        "GET",
        "/api/v3/openOrders",
        h["open_orders"],
        security=USER_DATA,
        weight=lambda p: 6 if p.get("symbol") else 80,
        ws=[(WS, "openOrders.status")],
    )
    api.route(
        "DELETE",
        "/api/v3/openOrders",
        h["cancel_open_orders"],
        security=TRADE,
        weight=1,
        permission=trade,
        ws=[(WS, "openOrders.cancelAll")],
    )
    api.route("GET", "/api/v3/allOrders", h["all_orders"], security=USER_DATA, weight=20, ws=[(WS, "allOrders")])
    api.route("GET", "/api/v3/myTrades", h["my_trades"], security=USER_DATA, weight=20, ws=[(WS, "myTrades")])
    api.route("GET", "/api/v3/account", h["account_info"], security=USER_DATA, weight=20, ws=[(WS, "account.status")])
    register_lists(sim, engine)
    return engine
