"""The exchange closing an account's USD-M position by itself: liquidation and ADL (admin only).

`POST /_sim/futures/liquidate {account, symbol, position_side?, qty?, kind?}` closes `qty` (default:
all) of the position at the current price with an order the exchange places, as Binance reports it
(USD-M user data "Event: Order Update", "Liquidation and ADL"): order type LIQUIDATION, client id
`autoclose-<time>` (kind "liquidation") or `adl_autoclose` (kind "adl"), first an
ORDER_TRADE_UPDATE with x NEW, then the execution with x CALCULATED, then ACCOUNT_UPDATE.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from simulator.admin_params import AdminError
from simulator.futures_model import FuturesOrder

if TYPE_CHECKING:
    from simulator.core import Sim

_CLIENT_IDS = {"liquidation": "autoclose-{now}", "adl": "adl_autoclose"}


def register(sim: "Sim") -> None:
    svc = getattr(sim, "futures", None)
    if svc is None:  # no futures engine loaded: nothing to liquidate
        return

    def liquidate(body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        return force_close(sim, svc, body)

    sim.admin.add("POST", "/_sim/futures/liquidate", liquidate)


def force_close(sim: "Sim", svc: Any, body: dict[str, Any]) -> dict[str, Any]:
    from simulator.futures_api import now_ms

    account_id = str(body.get("account", ""))
    account = sim.store.accounts.get(account_id)
    if account is None:
        raise AdminError(f"unknown account {account_id!r}")
    symbol = str(body.get("symbol", "")).upper()
    position_side = str(body.get("position_side", "BOTH")).upper()
    kind = str(body.get("kind", "liquidation"))
    if kind not in _CLIENT_IDS:
        raise AdminError(f"'kind' must be one of {sorted(_CLIENT_IDS)}")
    engine = svc.engine
    svc.account(account)
    acct = engine.account(account_id)
    pos = acct.positions.get((symbol, position_side))
    if pos is None or pos.amt == 0:
        raise AdminError(f"{account_id} holds no {symbol} {position_side} position")
    try:
        qty = Decimal(str(body["qty"])) if "qty" in body else abs(pos.amt)
    except InvalidOperation:
        raise AdminError("'qty' must be a decimal") from None
    if qty <= 0:
        raise AdminError("'qty' must be > 0")
    qty = min(qty, abs(pos.amt))
    now = now_ms()
    price = Decimal(str(sim.prices.price(symbol)))
    order = FuturesOrder(
        order_id=engine._order_ids(),
        symbol=symbol,
        client_order_id=_CLIENT_IDS[kind].format(now=now),
        side="SELL" if pos.amt > 0 else "BUY",
        position_side=position_side,
        type="LIQUIDATION",
        time_in_force="IOC",
        orig_qty=qty,
        price=price,
        reduce_only=True,
        time=now,
        update_time=now,
    )
    acct.add_order(order)
    events = [engine._order_event(acct, order, "NEW", now)]
    result, more = engine.fill(account_id, order.order_id, qty, price, False, now, exec_type="CALCULATED")
    svc._write_back(account_id)
    svc.publish(account_id, events + more)
    return {
        "orderId": order.order_id,
        "clientOrderId": order.client_order_id,
        "executedQty": str(result.qty if result is not None else 0),
        "price": str(price),
    }
