"""The spot / margin order engine's wire shapes: executionReport and balance events, order replies,
trade rows, and the admin listings; built from an order's state, nothing changed here.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Any

from simulator.order_state import OPEN_STATUSES, Fill, Order
from simulator.util import ZERO, fmt, now_ms

if TYPE_CHECKING:
    from simulator.accounts import Account


class _OrderWire:
    """The part of `OrderEngine` (orders.py) named in this module's docstring; `OrderEngine` inherits it."""

    # -- wire formats -----------------------------------------------------------------------------------
    def execution_report(
        self, order: Order, exec_type: str, status: str, fill: Fill | None, executed: Decimal | None = None, quote: Decimal | None = None
    ) -> dict[str, Any]:
        now = now_ms()
        return {
            "e": "executionReport",
            "E": now,
            "s": order.symbol,
            "c": order.cancel_client_id if exec_type == "CANCELED" else order.client_order_id,
            "S": order.side,
            "o": order.type,
            "f": order.tif,
            "q": fmt(order.orig_qty),
            "p": fmt(order.price),
            "P": fmt(order.stop_price),
            "F": fmt(ZERO),
            "g": order.order_list_id,
            "C": order.client_order_id if exec_type == "CANCELED" else "",
            "x": exec_type,
            "X": status,
            "r": "NONE",
            "i": order.order_id,
            "l": fmt(fill.qty) if fill else fmt(ZERO),
            "z": fmt(executed if executed is not None else order.executed_qty),
            "L": fmt(fill.price) if fill else fmt(ZERO),
            "n": fmt(fill.commission) if fill else "0",
            "N": fill.commission_asset if fill else None,
            "T": fill.time if fill else order.update_time,
            "t": fill.trade_id if fill else -1,
            "I": self.sim.trade_ids(),
            "w": status in OPEN_STATUSES and order.type != "MARKET" and order.working_time != -1,
            "m": fill.maker if fill else False,
            "M": bool(fill),
            "O": order.time,
            "Z": fmt(quote if quote is not None else order.cum_quote),
            "Y": fmt(fill.quote_qty) if fill else fmt(ZERO),
            "Q": fmt(order.orig_quote_qty),
            "W": order.working_time,
            "V": order.stp,
        }

    def publish_balances(self, account: "Account", order: Order) -> None:
        spec = self.sim.symbols.get(order.symbol, "spot")
        assets = [spec.base, spec.quote]
        if order.borrowed_asset and order.borrowed_asset not in assets:
            assets.append(order.borrowed_asset)
        rows = []
        for asset in assets:
            bal = self.balance(account, asset)
            rows.append({"a": asset, "f": fmt(bal.free), "l": fmt(bal.locked)})
        now = now_ms()
        self.sim.hub.publish(account.id, self.market, {"e": "outboundAccountPosition", "E": now, "u": now, "B": rows})

    def order_result(self, order: Order, resp_type: str) -> dict[str, Any]:
        out: dict[str, Any] = {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": order.order_list_id,
            "clientOrderId": order.client_order_id,
            "transactTime": order.time,
        }
        if resp_type == "ACK":
            return out
        out.update(
            {
                "price": fmt(order.price),
                "origQty": fmt(order.orig_qty),
                "executedQty": fmt(order.executed_qty),
                "origQuoteOrderQty": fmt(order.orig_quote_qty),
                "cummulativeQuoteQty": fmt(order.cum_quote),
                "status": order.status,
                "timeInForce": order.tif,
                "type": order.type,
                "side": order.side,
                "workingTime": order.working_time,
                "selfTradePreventionMode": order.stp,
            }
        )
        if order.stop_price:  # only for the stop types (rest-api.md "Conditional fields in Order Responses")
            out["stopPrice"] = fmt(order.stop_price)
        if resp_type == "FULL":
            out["fills"] = [
                {
                    "price": fmt(f.price),
                    "qty": fmt(f.qty),
                    "commission": fmt(f.commission),
                    "commissionAsset": f.commission_asset,
                    "tradeId": f.trade_id,
                }
                for f in order.fills
            ]
        return out

    def order_query(self, order: Order) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "orderId": order.order_id,
            "orderListId": order.order_list_id,
            "clientOrderId": order.client_order_id,
            "price": fmt(order.price),
            "origQty": fmt(order.orig_qty),
            "executedQty": fmt(order.executed_qty),
            "cummulativeQuoteQty": fmt(order.cum_quote),
            "status": order.status,
            "timeInForce": order.tif,
            "type": order.type,
            "side": order.side,
            "stopPrice": fmt(order.stop_price),
            "icebergQty": fmt(ZERO),
            "time": order.time,
            "updateTime": order.update_time,
            "isWorking": order.type != "MARKET" and order.working_time != -1,
            "workingTime": order.working_time,
            "origQuoteOrderQty": fmt(order.orig_quote_qty),
            "selfTradePreventionMode": order.stp,
        }

    def cancel_result(self, order: Order) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "origClientOrderId": order.client_order_id,
            "orderId": order.order_id,
            "orderListId": order.order_list_id,
            "clientOrderId": order.cancel_client_id,
            "transactTime": order.update_time,
            "price": fmt(order.price),
            "origQty": fmt(order.orig_qty),
            "executedQty": fmt(order.executed_qty),
            "origQuoteOrderQty": fmt(order.orig_quote_qty),
            "cummulativeQuoteQty": fmt(order.cum_quote),
            "status": order.status,
            "timeInForce": order.tif,
            "type": order.type,
            "side": order.side,
            "selfTradePreventionMode": order.stp,
        } | ({"stopPrice": fmt(order.stop_price)} if order.stop_price else {})

    def trade_row(self, order: Order, fill: Fill) -> dict[str, Any]:
        return {
            "symbol": order.symbol,
            "id": fill.trade_id,
            "orderId": order.order_id,
            "orderListId": order.order_list_id,
            "price": fmt(fill.price),
            "qty": fmt(fill.qty),
            "quoteQty": fmt(fill.quote_qty),
            "commission": fmt(fill.commission),
            "commissionAsset": fill.commission_asset,
            "time": fill.time,
            "isBuyer": order.side == "BUY",
            "isMaker": fill.maker,
            "isBestMatch": True,
        }

    # -- admin ----------------------------------------------------------------------------------------------
    def admin_orders(self, account_id: str | None) -> list[dict[str, Any]]:
        out = []
        for acc, book in self.accounts.items():
            if account_id not in (None, acc):
                continue
            for order in book.by_id.values():
                row = self.order_query(order)
                row.update(
                    {
                        "account": acc,
                        "market": self.market,
                        "arrivalNs": order.arrival_ns,
                        "transport": order.transport,
                        "sideEffectType": order.side_effect,
                    }
                )
                out.append(row)
        return out

    def admin_trades(self, account_id: str | None) -> list[dict[str, Any]]:
        out = []
        for acc, book in self.accounts.items():
            if account_id not in (None, acc):
                continue
            for order, fill in book.trades:
                row = self.trade_row(order, fill)
                row.update({"account": acc, "market": self.market, "arrivalNs": order.arrival_ns})
                out.append(row)
        return out
