"""A slave's copy of one resting master order (pure): side, price, time in force and quantity.

The copy rule for a resting order (`orders = "mirror"`):
- the part of the order that adds to the master's position is copied k x;
- the part that reduces it (hedge: SELL LONG / BUY SHORT; one-way: against the position, and all of
  a reduce-only order) is copied as the same fraction of the slave's position as it is of the
  master's position when the order was placed (`RestingOrder.position_at_place`);
- what is left of the order is copied (`orig_qty - cum_qty`): at placement all of it, after a
  resync what the master has not filled yet;
- the price is the master's on the symbol's tick, never more aggressive (a BUY rounds down, a SELL
  up); LOT_SIZE (not MARKET_LOT_SIZE) applies, and MIN_NOTIONAL except to an order that only
  reduces (USD-M; spot and margin always apply it);
- the order type is the master's (USD-M LIMIT; spot and margin LIMIT, LIMIT_MAKER, STOP_LOSS(_LIMIT)
  and TAKE_PROFIT(_LIMIT), whose stop price goes on the tick the same way; a STOP_LOSS or a
  TAKE_PROFIT, which has no price, is checked against the filters at its stop price), margin copies
  borrow to add and repay to reduce (`margin_side_effect`).
What cannot be copied is a `Skip` naming why; the master's fills of that order are then copied as
fills (market orders), as in `orders = "fills"`.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from protocol.messages import SPOT_MARKET_STOPS, Market, RestingOrder, SideEffect, SlaveConfig

from ..binance.filters import SymbolFilters, format_decimal, round_price, round_qty_down
from .orders import IntentKind, OrderIntent, Skip, _cid
from .sizing import notional_cap, symbol_allowed

ZERO = Decimal(0)


def resting_client_order_id(slave_id: str, market: str, symbol: str, master_order_id: int, nonce: str) -> str:
    """newClientOrderId of a mirrored resting order: "cm" + 24 chars. `nonce` is "live" for the
    copy of a master's placement, the sync round otherwise: an order placed again after a cancel
    never reuses the id of the one before (a lookup by id would find the canceled one)."""
    return _cid("cm", slave_id, market, symbol, master_order_id, nonce)


def reducing_part(remaining: Decimal, side: str, position_side: str, reduce_only: bool, position_at_place: Decimal) -> Decimal:
    """How much of a master order's `remaining` quantity reduces its position (the rest adds):
    hedge SELL LONG / BUY SHORT all of it; one-way what goes against the position, all of a
    reduce-only order. Resting and conditional orders alike."""
    p = position_at_place
    if position_side != "BOTH":
        closing = (position_side == "LONG") == (side == "SELL")
        return remaining if closing else ZERO
    against = (p > 0 and side == "SELL") or (p < 0 and side == "BUY")
    if reduce_only:
        return remaining
    return min(remaining, abs(p)) if against else ZERO


def _reducing(order: RestingOrder) -> Decimal:
    return reducing_part(order.orig_qty - order.cum_qty, order.side, order.position_side, order.reduce_only, order.position_at_place)


def resting_intent(
    order: RestingOrder,
    *,
    market: Market,
    slave_id: str,
    config: SlaveConfig,
    k: Decimal,
    filters: SymbolFilters | None,
    held: Decimal,
    nonce: str = "live",
    quote_free: Decimal | None = None,
) -> OrderIntent | Skip:
    """The slave's order for the master's resting `order`. `held`: the slave's position of the
    order's (symbol, position_side) now (BOTH signed, LONG / SHORT the size); `quote_free`
    (margin): its free quote asset."""
    if not symbol_allowed(config, order.symbol):
        return Skip("symbol_filtered", f"{order.symbol} is not copied by this slave (symbols_allow / symbols_deny)")
    if filters is None:
        return Skip("unknown_symbol", f"no exchange filters for {order.symbol}")
    remaining = order.orig_qty - order.cum_qty
    if remaining <= 0:
        return Skip("not_copied", "the master's order has nothing left to fill")
    master_held = abs(order.position_at_place)
    reducing_m = _reducing(order)
    adding_m = remaining - reducing_m
    direction = 1 if order.side == "BUY" else -1
    if order.position_side == "BOTH":
        slave_held = abs(held) if held * direction < 0 else ZERO  # only a position against the order is reduced
    else:
        slave_held = abs(held)
    reducing_s = ZERO  # a master that reduces nothing it held reduces nothing of ours
    if reducing_m and master_held:
        reducing_s = min(slave_held, slave_held * min(reducing_m / master_held, Decimal(1)))
    adding_s = ZERO if order.reduce_only else k * adding_m
    rounding = ROUND_FLOOR if order.side == "BUY" else ROUND_CEILING
    stop_price = round_price(order.stop_price, filters.tick_size, rounding) if order.stop_price else None
    at_market = order.order_type in SPOT_MARKET_STOPS  # no limit price: the filters see the stop price
    limit = None if at_market else round_price(order.price, filters.tick_size, rounding)
    price = stop_price if at_market else limit
    assert price is not None
    cap = notional_cap(config, order.symbol)
    if adding_s and cap is not None and price > 0:  # the cap, against the position held now
        adding_s = min(adding_s, max(cap / price - abs(held), ZERO))
    qty = round_qty_down(reducing_s + adding_s, filters.step_size)
    if qty <= 0 or (filters.min_qty and qty < filters.min_qty):
        what = "reduces" if reducing_m and not adding_m else "adds"
        if reducing_m and not reducing_s and not adding_s:
            return Skip("no_position", f"the master's order {what} a position this slave does not hold")
        return Skip("below_min_qty", f"k x the order is {format_decimal(reducing_s + adding_s)}, under the step or minQty")
    if filters.max_qty and qty > filters.max_qty:
        return Skip("exchange_rejected", f"{format_decimal(qty)} is over LOT_SIZE maxQty {format_decimal(filters.max_qty)}")
    for what, value in (("price", limit), ("stop price", stop_price)):
        if value is not None and ((filters.min_price and value < filters.min_price) or (filters.max_price and value > filters.max_price)):
            return Skip("exchange_rejected", f"{what} {format_decimal(value)} is outside PRICE_FILTER")
    only_reduces = adding_s == 0
    exempt = only_reduces and filters.min_notional_exempt_reduce_only
    if filters.min_notional and not exempt and qty * price < filters.min_notional:
        return Skip(
            "below_min_notional", f"{format_decimal(qty)} x {format_decimal(price)} is under the min notional {filters.min_notional}"
        )
    closes = only_reduces and qty >= slave_held and slave_held > 0
    kind: IntentKind = "close" if closes else ("reduce" if only_reduces else "open")
    return OrderIntent(
        market=market,
        symbol=order.symbol,
        side=order.side,
        position_side=order.position_side,
        qty=qty,
        kind=kind,
        reduce_only=market == "usdm" and order.position_side == "BOTH" and (order.reduce_only or only_reduces),
        side_effect=margin_side_effect(kind, order.side, qty * price, quote_free) if market == "margin" else None,
        client_order_id=resting_client_order_id(slave_id, market, order.symbol, order.order_id, nonce),
        ref_price=price,
        order_type=order.order_type,
        price=limit,
        time_in_force=None if order.order_type in ("LIMIT_MAKER", *SPOT_MARKET_STOPS) else order.time_in_force,
        stop_price=stop_price,
    )


def margin_side_effect(kind: IntentKind, side: str, notional: Decimal, quote_free: Decimal | None) -> SideEffect:
    """sideEffectType of a margin copy. One that opens a short borrows the base it sells
    (MARGIN_BUY borrows only the shortfall, when the order is placed); one that adds to a long
    borrows only when the free quote does not cover it (a loan taken for an order that may rest
    for days costs interest); one that reduces repays the loan it frees (AUTO_REPAY: nothing
    without one). The master's executionReport does not say which it sent, so the slave's own
    balance decides."""
    if kind != "open":
        return "AUTO_REPAY"
    if side == "BUY" and quote_free is not None and quote_free >= notional:
        return "NO_SIDE_EFFECT"
    return "MARGIN_BUY"
