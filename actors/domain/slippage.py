"""The entry slippage guard (pure; issue 22, `max_slippage_pct`): a copied entry or increase is
sent as a LIMIT IOC at the master's fill price plus (a buy) or minus (a sell) the tolerance,
instead of a MARKET order, so it never fills worse than that. The limit goes on the tick grid
inside the tolerance (a buy's rounds down, a sell's up). Reductions and closes stay MARKET: an exit
is never held back. What the IOC does not fill is not chased (actors/slave/guards.py)."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from ..binance.filters import round_price
from .orders import OrderIntent

HUNDRED = Decimal(100)


def slippage_limit(side: str, master_price: Decimal, pct: Decimal, tick: Decimal) -> Decimal:
    """The worst price an entry copied from a fill at `master_price` may fill at."""
    if side == "BUY":
        return round_price(master_price * (1 + pct / HUNDRED), tick, ROUND_FLOOR)
    return round_price(master_price * (1 - pct / HUNDRED), tick, ROUND_CEILING)


def guarded(intent: OrderIntent, master_price: Decimal, pct: Decimal, tick: Decimal) -> OrderIntent:
    """`intent` as the guard sends it: an opening MARKET order becomes a LIMIT IOC at the limit;
    anything else is sent as it is."""
    if intent.kind != "open" or intent.order_type != "MARKET" or master_price <= 0:
        return intent
    price = slippage_limit(intent.side, master_price, pct, tick)
    if price <= 0:
        return intent
    return msgspec.structs.replace(intent, order_type="LIMIT", time_in_force="IOC", price=price)
