"""Cross Margin `/sapi/v1/margin/*`, `POST /sapi/v1/userListenToken`, and the margin accounting.

Borrowing is real: `sideEffectType` MARGIN_BUY / AUTO_BORROW_REPAY borrow the shortfall before the
order locks its funds; AUTO_REPAY / AUTO_BORROW_REPAY repay the received asset's debt after each
fill. Interest is zero. The borrow limit: liabilities (valued in USDT) may not exceed
(margin_max_leverage - 1) x net equity.
"""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import TRADE, USER_DATA, USER_STREAM, Ctx
from simulator.margin_lists import register_margin_lists
from simulator.order_state import Order
from simulator.orders import OrderEngine
from simulator.params import Params
from simulator.spot import order_ref, parse_new_order
from simulator.util import ZERO, fmt, now_ms

if TYPE_CHECKING:
    from simulator.accounts import Account
    from simulator.core import Sim

SIDE_EFFECTS = ("NO_SIDE_EFFECT", "MARGIN_BUY", "AUTO_REPAY", "AUTO_BORROW_REPAY")
BORROW_EXCEEDED = -3006
LISTEN_TOKEN_MAX_MS = 24 * 3600 * 1000


class MarginBook:
    """Pure accounting over an account's margin balances (valuation needs prices)."""

    def __init__(self, sim: "Sim") -> None:
        self.sim = sim

    def usdt_value(self, asset: str, amount: Decimal) -> Decimal:
        if asset in ("USDT", "USDC", "FDUSD"):
            return amount
        spec = self.sim.symbols.find(f"{asset}USDT", "spot")
        if spec is None:
            return ZERO
        return amount * self.sim.prices.price(spec.symbol)

    def totals(self, account: "Account") -> tuple[Decimal, Decimal]:
        """(total assets, total liabilities) in USDT."""
        assets = ZERO
        liabilities = ZERO
        for asset, bal in account.margin.items():
            assets += self.usdt_value(asset, bal.free + bal.locked)
            liabilities += self.usdt_value(asset, bal.borrowed + bal.interest)
        return assets, liabilities

    def max_borrowable(self, account: "Account", asset: str) -> Decimal:
        assets, liabilities = self.totals(account)
        net = assets - liabilities
        room = (self.sim.config.margin_max_leverage - 1) * net - liabilities
        if room <= 0:
            return ZERO
        unit = self.usdt_value(asset, Decimal(1))
        if unit <= 0:
            return ZERO
        return (room / unit).quantize(Decimal("0.00000001"), rounding="ROUND_DOWN")

    def borrow(self, account: "Account", asset: str, amount: Decimal) -> None:
        if amount <= 0:
            raise errors.invalid_param("amount")
        if amount > self.max_borrowable(account, asset):
            raise errors.BinanceError(BORROW_EXCEEDED, "Your borrow amount has exceed maximum borrow amount.")
        bal = account.margin_balance(asset)
        bal.borrowed += amount
        bal.free += amount

    def repay(self, account: "Account", asset: str, amount: Decimal) -> Decimal:
        """Repay up to `amount` (interest first) from free; returns what was repaid."""
        bal = account.margin_balance(asset)
        amount = min(amount, bal.free, bal.borrowed + bal.interest)
        if amount <= 0:
            return ZERO
        from_interest = min(amount, bal.interest)
        bal.interest -= from_interest
        bal.borrowed -= amount - from_interest
        bal.free -= amount
        return amount

    def level(self, account: "Account") -> Decimal:
        assets, liabilities = self.totals(account)
        if liabilities <= 0:
            return Decimal("999")
        return assets / liabilities


def register(sim: "Sim") -> OrderEngine:
    engine = OrderEngine(sim, "margin")
    sim.add_market("margin", engine)
    book = MarginBook(sim)
    api = sim.api
    perm = "enableMargin"

    def after_fill(order: Order, account: "Account", asset: str, received: Decimal) -> None:
        if order.side_effect in ("AUTO_REPAY", "AUTO_BORROW_REPAY"):
            repaid = book.repay(account, asset, received)
            if repaid > 0:
                publish_balance_update(account, asset, -repaid)

    engine.after_fill = after_fill

    def publish_balance_update(account: "Account", asset: str, delta: Decimal) -> None:
        if sim.hub.has_subscribers(account.id, "margin"):
            now = now_ms()
            sim.hub.publish(account.id, "margin", {"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(delta), "T": now})

    def borrow(side_effect: str, order: Order, asset: str, need: Decimal) -> None:
        """MARGIN_BUY / AUTO_BORROW_REPAY: borrow the shortfall of what `order` locks."""
        if side_effect in ("MARGIN_BUY", "AUTO_BORROW_REPAY"):
            account = sim.store.accounts[order.account_id]
            shortfall = need - account.margin_balance(asset).free
            if shortfall > 0:
                book.borrow(account, asset, shortfall)
                order.borrowed = shortfall
                order.borrowed_asset = asset

    def check_isolated(p: Params) -> None:
        if p.bool("isIsolated", False):
            raise errors.BinanceError(errors.UNSUPPORTED_OPERATION, "This operation is not supported.")

    def new_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        check_isolated(p)
        req = parse_new_order(sim, p)
        side_effect = p.enum("sideEffectType", SIDE_EFFECTS, "NO_SIDE_EFFECT")
        spec = sim.symbols.get(req.symbol, "spot")

        def before_lock(order: Order, asset: str, need: Decimal) -> None:
            order.side_effect = side_effect
            borrow(side_effect, order, asset, need)

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
            before_lock=before_lock,
            stop_price=req.stop_price,
        )
        return order_result(order, req.resp_type)

    def order_result(order: Order, resp_type: str) -> dict[str, Any]:
        """POST /sapi/v1/margin/order response (ACK / RESULT / FULL)."""
        full = engine.order_result(order, resp_type)
        out: dict[str, Any] = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "clientOrderId": order.client_order_id,
            "isIsolated": False,
            "transactTime": order.time,
        }
        if resp_type == "ACK":
            return out
        for name in ("price", "origQty", "executedQty", "cummulativeQuoteQty", "status", "timeInForce", "type", "side"):
            out[name] = full[name]
        if order.borrowed > 0:  # only present when the order borrowed
            out["marginBuyBorrowAmount"] = fmt(order.borrowed)
            out["marginBuyBorrowAsset"] = order.borrowed_asset
        if resp_type == "FULL":
            out["fills"] = full["fills"]
        return out

    def query_row(order: Order) -> dict[str, Any]:
        """GET /sapi/v1/margin/order (and openOrders) row."""
        row = engine.order_query(order)
        for name in ("orderListId", "workingTime", "origQuoteOrderQty"):
            del row[name]
        row["isIsolated"] = False
        return row

    def cancel_row(order: Order) -> dict[str, Any]:
        """DELETE /sapi/v1/margin/order response."""
        row = engine.cancel_result(order)
        for name in ("orderListId", "transactTime", "selfTradePreventionMode", "origQuoteOrderQty"):
            del row[name]
        row["isIsolated"] = False
        return row

    def trade_row(order: Order, fill: Any) -> dict[str, Any]:
        row = engine.trade_row(order, fill)
        for name in ("orderListId", "quoteQty"):
            del row[name]
        row["isIsolated"] = False
        return row

    def query_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        check_isolated(p)
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        order_id, client_id = order_ref(p)
        order = engine.find(account.id, order_id, client_id)
        if order is None or order.symbol != symbol:
            raise errors.order_does_not_exist()
        return query_row(order)

    def cancel_order(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        check_isolated(p)
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        order_id, client_id = order_ref(p)
        order = engine.find(account.id, order_id, client_id)
        if order is None or order.symbol != symbol:
            raise errors.cancel_unknown()
        engine.cancel(account, order, p.opt_str("newClientOrderId"))
        return cancel_row(order)

    def open_orders(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        check_isolated(p)
        symbol = p.opt_str("symbol")
        if symbol is not None:
            sim.symbols.get(symbol, "spot")
        return [query_row(o) for o in engine.open_orders(account.id, symbol)]

    def cancel_open_orders(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        out = []
        for order in engine.open_orders(account.id, symbol):
            if order.is_open:  # not the other order of an OCO canceled with its first
                engine.cancel(account, order, None)
                out.append(cancel_row(order))
        return out

    def my_trades(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        symbol = p.str("symbol")
        sim.symbols.get(symbol, "spot")
        rows = []
        for order, fill in engine.book(account.id).trades:
            if order.symbol == symbol:
                rows.append(trade_row(order, fill))
        return rows

    def margin_account(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        assets, liabilities = book.totals(account)
        btc = sim.prices.price("BTCUSDT") if sim.symbols.find("BTCUSDT") else Decimal(1)
        key = ctx.key
        trade_ok = bool(key and key.permissions.get("enableMargin"))
        return {
            "created": True,
            "borrowEnabled": trade_ok,
            "marginLevel": fmt(book.level(account)),
            "collateralMarginLevel": fmt(book.level(account)),
            "totalAssetOfBtc": fmt(assets / btc),
            "totalLiabilityOfBtc": fmt(liabilities / btc),
            "totalNetAssetOfBtc": fmt((assets - liabilities) / btc),
            "TotalCollateralValueInUSDT": fmt(assets),
            "tradeEnabled": trade_ok,
            "transferInEnabled": True,
            "transferOutEnabled": True,
            "accountType": "MARGIN_1",
            "userAssets": [
                {
                    "asset": a,
                    "borrowed": fmt(b.borrowed),
                    "free": fmt(b.free),
                    "interest": fmt(b.interest),
                    "locked": fmt(b.locked),
                    "netAsset": fmt(b.net),
                }
                for a, b in sorted(account.margin.items())
            ],
        }

    def borrow_repay(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        check_isolated(p)
        asset = p.str("asset").upper()
        amount = p.decimal("amount")
        kind = p.enum("type", ("BORROW", "REPAY"))
        if asset not in sim.symbols.assets("spot"):
            raise errors.BinanceError(-3027, "Not a valid margin asset.")
        if kind == "BORROW":
            book.borrow(account, asset, amount)
            publish_balance_update(account, asset, amount)
        else:
            bal = account.margin_balance(asset)
            if bal.free < amount:
                raise errors.BinanceError(-3041, "Balance is not enough")
            repaid = book.repay(account, asset, amount)
            publish_balance_update(account, asset, -repaid)
        return {"tranId": sim.trade_ids()}

    def max_borrowable(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        asset = p.str("asset").upper()
        amount = book.max_borrowable(account, asset)
        return {"amount": fmt(amount), "borrowLimit": fmt(amount)}

    def listen_token(ctx: Ctx, p: Params) -> dict[str, Any]:
        account = ctx.require_account()
        check_isolated(p)
        validity = p.opt_int("validity", LISTEN_TOKEN_MAX_MS) or LISTEN_TOKEN_MAX_MS
        if validity <= 0 or validity > LISTEN_TOKEN_MAX_MS:
            raise errors.invalid_param("validity")
        token = secrets.token_urlsafe(48)
        expires = now_ms() + validity
        sim.listen_tokens[token] = (account.id, expires)
        return {"token": token, "expirationTime": expires}

    mk = "margin"
    api.route("POST", "/sapi/v1/margin/order", new_order, security=TRADE, weight=6, order=True, market=mk, permission=perm)
    api.route("GET", "/sapi/v1/margin/order", query_order, security=USER_DATA, weight=10, market=mk)
    api.route("DELETE", "/sapi/v1/margin/order", cancel_order, security=TRADE, weight=10, market=mk, permission=perm)
    api.route("GET", "/sapi/v1/margin/openOrders", open_orders, security=USER_DATA, weight=10, market=mk)
    api.route("DELETE", "/sapi/v1/margin/openOrders", cancel_open_orders, security=TRADE, weight=1, market=mk, permission=perm)
    api.route("GET", "/sapi/v1/margin/myTrades", my_trades, security=USER_DATA, weight=10, market=mk)
    api.route("GET", "/sapi/v1/margin/account", margin_account, security=USER_DATA, weight=10, market=mk)
    api.route("POST", "/sapi/v1/margin/borrow-repay", borrow_repay, security=TRADE, weight=1, market=mk, permission=perm)
    api.route("GET", "/sapi/v1/margin/maxBorrowable", max_borrowable, security=USER_DATA, weight=50, market=mk)
    api.route("POST", "/sapi/v1/userListenToken", listen_token, security=USER_STREAM, weight=1, market=mk)
    register_margin_lists(sim, engine, SIDE_EFFECTS, borrow, check_isolated)
    return engine
