"""A slave's copy of one conditional master order (pure): the stop-loss / take-profit it places on
the exchange (Binance's Algo Service), so that a follower keeps its protection when the copier,
its host or the network is down when the master's stop triggers.

The copy rule (`orders = "mirror"`, `protective = "mirror"`):
- a close-all order (`closePosition`) is copied as a close-all order of the same side: whatever the
  slave holds of that position when it triggers;
- a quantity order copies the part that reduces the master's position as the same fraction of the
  slave's position (as resting orders do, actors/domain/resting.py), and the part that adds k x;
- trigger price: the master's on the symbol's tick (nearest); a STOP / TAKE_PROFIT limit price
  never more aggressive than the master's (a BUY rounds down, a SELL up); working type, price
  protection, time in force and reduce-only carried over; LOT_SIZE applies to a quantity, and
  MIN_NOTIONAL except to an order that only reduces;
- a trailing stop (TRAILING_STOP_MARKET) has no trigger price: its callback rate is the master's
  and its activation price the master's on the tick (none: it trails from its own placement, a few
  milliseconds after the master's, so the two can trigger at slightly different prices; the
  settle that follows the master's trigger evens out the difference).
What cannot be copied is a `Skip` naming why; the fills of that order are then copied as fills.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

import msgspec

from protocol.messages import ConditionalOrder, ConditionalType, Market, PositionSide, Side, SlaveConfig, TimeInForce, WorkingType

from ..binance.filters import SymbolFilters, format_decimal, round_price, round_qty_down
from .orders import Skip, _cid
from .resting import reducing_part
from .sizing import notional_cap, symbol_allowed

ZERO = Decimal(0)
GUARD_PREFIX = "ca"  # clientAlgoId prefix of a mirrored conditional order


class GuardIntent(msgspec.Struct, frozen=True, kw_only=True):
    """One conditional order the slave should place (POST /fapi/v1/algoOrder)."""

    market: Market
    symbol: str
    side: Side
    position_side: PositionSide
    order_type: ConditionalType
    trigger_price: Decimal  # 0: a trailing stop (none)
    price: Decimal | None = None  # STOP / TAKE_PROFIT
    activate_price: Decimal | None = None  # TRAILING_STOP_MARKET (None: active at once)
    callback_rate: Decimal | None = None  # TRAILING_STOP_MARKET, percent
    qty: Decimal = ZERO  # 0 with close_position
    close_position: bool = False
    reduce_only: bool = False  # one-way only (hedge mode refuses it)
    working_type: WorkingType = "CONTRACT_PRICE"
    price_protect: bool = False
    time_in_force: TimeInForce = "GTC"
    client_algo_id: str


def guard_client_algo_id(slave_id: str, market: str, symbol: str, master_algo_id: int, nonce: str) -> str:
    """clientAlgoId of a mirrored conditional order: "ca" + 24 chars (USD-M's rule allows 36).
    `nonce` is "live" for the copy of a master's placement, the sync round otherwise."""
    return _cid(GUARD_PREFIX, slave_id, market, symbol, master_algo_id, nonce)


def guard_intent(
    order: ConditionalOrder,
    *,
    market: Market,
    slave_id: str,
    config: SlaveConfig,
    k: Decimal,
    filters: SymbolFilters | None,
    held: Decimal,
    nonce: str = "live",
    last_price: Decimal = ZERO,
) -> GuardIntent | Skip:
    """The slave's conditional order for the master's `order`. `held`: the slave's position of the
    order's (symbol, position_side) now (BOTH signed, LONG / SHORT the size); `last_price` the
    last price seen (a trailing stop's notional without an activation price; 0: unknown)."""
    if not symbol_allowed(config, order.symbol):
        return Skip("symbol_filtered", f"{order.symbol} is not copied by this slave (symbols_allow / symbols_deny)")
    if filters is None:
        return Skip("unknown_symbol", f"no exchange filters for {order.symbol}")
    if order.time_in_force == "GTD":  # its goodTillDate is not published: not copied rather than refused
        return Skip("not_copied", "a GTD conditional order is not mirrored (its fills are copied as fills)")
    buy = order.side == "BUY"
    trailing = order.order_type == "TRAILING_STOP_MARKET"
    trigger = ZERO if trailing else round_price(order.trigger_price, filters.tick_size)
    price = round_price(order.price, filters.tick_size, ROUND_FLOOR if buy else ROUND_CEILING) if order.price else None
    activate = round_price(order.activate_price, filters.tick_size) if trailing and order.activate_price else None
    for what, value in (("trigger price", None if trailing else trigger), ("price", price), ("activation price", activate)):
        if value is not None and ((filters.min_price and value < filters.min_price) or (filters.max_price and value > filters.max_price)):
            return Skip("exchange_rejected", f"{what} {format_decimal(value)} is outside PRICE_FILTER")
    if order.order_type in ("STOP", "TAKE_PROFIT") and not price:
        return Skip("exchange_rejected", f"the master's {order.order_type} order has no limit price")
    cid = guard_client_algo_id(slave_id, market, order.symbol, order.algo_id, nonce)
    close_all = GuardIntent(
        market=market,
        symbol=order.symbol,
        side=order.side,
        position_side=order.position_side,
        order_type=order.order_type,
        trigger_price=trigger,
        price=price,
        activate_price=activate,
        callback_rate=order.callback_rate if trailing else None,
        close_position=True,
        working_type=order.working_type,
        price_protect=order.price_protect,
        time_in_force=order.time_in_force,
        client_algo_id=cid,
    )
    if order.close_position:
        return close_all
    reducing_m = reducing_part(order.quantity, order.side, order.position_side, order.reduce_only, order.position_at_place)
    adding_m = order.quantity - reducing_m
    direction = 1 if buy else -1
    slave_held = abs(held) if order.position_side != "BOTH" or held * direction < 0 else ZERO
    master_held = abs(order.position_at_place)
    reducing_s = min(slave_held, slave_held * min(reducing_m / master_held, Decimal(1))) if reducing_m and master_held else ZERO
    adding_s = ZERO if order.reduce_only else k * adding_m
    ref = price or trigger or activate or last_price
    cap = notional_cap(config, order.symbol)
    if adding_s and cap is not None and ref > 0:
        adding_s = min(adding_s, max(cap / ref - abs(held), ZERO))
    qty = round_qty_down(reducing_s + adding_s, filters.step_size)
    if qty <= 0 or (filters.min_qty and qty < filters.min_qty):
        if reducing_m and not reducing_s and not adding_s:
            return Skip("no_position", "the master's conditional order reduces a position this slave does not hold")
        return Skip("below_min_qty", f"the copy is {format_decimal(reducing_s + adding_s)}, under the step or minQty")
    if filters.max_qty and qty > filters.max_qty:
        return Skip("exchange_rejected", f"{format_decimal(qty)} is over LOT_SIZE maxQty {format_decimal(filters.max_qty)}")
    only_reduces = adding_s == 0
    exempt = only_reduces and filters.min_notional_exempt_reduce_only
    if filters.min_notional and not exempt and ref > 0 and qty * ref < filters.min_notional:
        return Skip("below_min_notional", f"{format_decimal(qty)} x {format_decimal(ref)} is under the min notional {filters.min_notional}")
    reduce_only = order.position_side == "BOTH" and (order.reduce_only or only_reduces)
    return msgspec.structs.replace(close_all, close_position=False, qty=qty, reduce_only=reduce_only)
