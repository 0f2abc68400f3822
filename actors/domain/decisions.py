"""Copy decisions (pure): what a slave does for one master fill, and to correct drift.

Follows ARCHITECTURE.md "Copy semantics", on every market through the one target
(actors/domain/target.py): per (symbol, positionSide) the slave's exact intended position grows by k*q
when the master's grows by q, shrinks by the master's fraction f, is zero when the master is flat
(an exact close, no dust); each order brings the actual position to it (openings rounded down,
reductions to the nearest step; up to the step where that rounding alone would take an amount that
passes the exchange's minimum under it), under the slave's min-notional policy (defer / round_up / skip).
- USD-M: per (symbol, positionSide), reduce-only reductions and closes.
- Spot: (symbol, BOTH) is the base-asset holding (free + locked). Buys add k*q; sells sell the
  master's fraction f (never more than the free balance); a master that sold out (what is left
  cannot be traded: under one step / minQty) -> the slave sells all of its free holding, rounded
  down to the step.
- Cross margin: (symbol, BOTH) is the net position (free + locked - borrowed), like one-way
  futures, with `sideEffectType` mirroring the master's borrowing (see `_margin_effect`).
How spot and margin orders move the position (commission, free balance, loans): `_venue`.

Flip through zero in one master order (one-way, e.g. +1 -> -0.5): TWO orders, executed in order —
leg 0 a reduce-only close of the slave's whole position, then leg 1 opening k*0.5 the other way
(`Decision.sequential` is True). Why not one order of (slave position + k*0.5):
  * each leg gets its own rule: the close is exact and exempt from MIN_NOTIONAL (reduce-only),
    the open leg is step-rounded, capped and checked against min notional like any opening;
    one combined order would open a below-minimum position that policy "skip" refuses;
  * if the open leg fails (margin, cap, min notional, exchange refusal) the slave is left flat,
    never still holding the old side: the risk-reducing leg does not depend on the risky one;
  * reduce-only caps the close at the real position if our view of it is stale, so a flip can
    never over-shoot. The cost is one more round trip on a rare event. The legs must not be sent
    concurrently: an un-flagged open leg executed first would reduce the old position and the
    reduce-only close would then leave the slave flat instead of short.

Min notional (facts from ../shared/binance-reference/):
  * USD-M: error -4164 "Order's notional must be no smaller than %s (unless you choose reduce
    only)" (thirdparty-coincise-scrape/docs/binance/usdm/error_codes.md): reduce-only orders are
    exempt. `reduceOnly` "Cannot be sent in Hedge Mode" (endpoints/public/post_fapi_v1_order.md);
    there LONG+SELL / SHORT+BUY orders are the reducing ones (usdm/authentication.md lists them
    with reduce-only/close-position orders), and we treat them as exempt too.
  * Spot and margin: no exemption; NOTIONAL/MIN_NOTIONAL apply to MARKET orders when
    applyMinToMarket/applyToMarket is true (binance-spot-api-docs/filters.md). A sell worth less
    than the minimum is skipped ("below_min_notional") — on spot that dust cannot be sold at all.
With policy "round_up", an order under minQty / min notional is raised to the smallest valid
quantity, but never above the slave's position (reductions) nor above the notional cap (openings).

Every master fill yields a `Decision` with intents, or no intents and exactly one `Skip`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal

import msgspec

from protocol.messages import Market, MasterFill, PositionEntry, PositionKey, PositionSide, Side, SideEffect, SlaveConfig

from ..binance.filters import SymbolFilters, round_qty_nearest, round_qty_up
from .orders import (  # noqa: F401 - re-exported: the copy API
    MAX_LEGS,
    ZERO,
    Decision,
    IntentKind,
    OrderIntent,
    Skip,
    SlaveHolding,
    _collect,
    _fmt,
    _Legs,
    _open_side,
    _sign,
    _skip,
    client_order_id,
    reconcile_client_order_id,
)
from .sizing import CannotSize, symbol_allowed
from .target import FUTURES, Venue, decide_target, follow

# --------------------------------------------------------------------------- per-fill decision

_SWAP: dict[PositionSide, PositionSide] = {"BOTH": "BOTH", "LONG": "SHORT", "SHORT": "LONG"}


def decide_fill(
    fill: MasterFill,
    *,
    slave_id: str,
    config: SlaveConfig,
    k: Decimal | CannotSize,
    filters: SymbolFilters | None,
    holding: SlaveHolding,
    paused_all: bool = False,
    refused: str | None = None,
    intended: Decimal | None = None,
) -> Decision:
    """What the slave does for one master fill.

    `k` from actors.domain.sizing.ratio_k; `filters` the slave market's rules for the symbol (None if
    unknown); `holding` the slave's position this fill applies to (see SlaveHolding; for hedge
    mode with `reverse`, the opposite position side's); `refused` a reason the slave refuses this
    market (e.g. position mode differs and the slave is not flat).
    """
    gate = _gate(fill, config, filters, paused_all, refused)
    if gate is not None:
        return msgspec.structs.replace(gate, intended=follow(fill, config, k, holding.position, intended))
    assert filters is not None
    legs = _Legs(
        market=fill.market,
        filters=filters,
        config=config,
        price=fill.price,
        cid=lambda leg: client_order_id(slave_id, fill.order_id, fill.trade_id, leg, market=fill.market, symbol=fill.symbol),
    )
    venue = FUTURES if fill.market == "usdm" else _venue(fill, config, holding, legs)
    return decide_target(fill, config, k, holding.position, intended, legs, venue)


def _gate(fill: MasterFill, config: SlaveConfig, filters: SymbolFilters | None, paused_all: bool, refused: str | None) -> Decision | None:
    if not config.enabled:
        return _skip("disabled", f"slave {config.id} is disabled")
    if fill.market not in config.markets:
        return _skip("disabled", f"slave {config.id} does not follow {fill.market}")
    if config.paused or paused_all:
        return _skip("paused", "copying paused" + (" for every slave" if paused_all else ""))
    if refused:
        return _skip("market_refused", refused)
    if not symbol_allowed(config, fill.symbol):
        return _skip("symbol_filtered", f"{fill.symbol} is filtered out by the slave's symbol lists")
    if filters is None:
        return _skip("unknown_symbol", f"no exchange filters for {fill.symbol} on {fill.market}")
    return None


MAX_COMMISSION_GROSS_UP = Decimal("1.01")  # a buy never takes more than 1 % over the position it adds


def _dust(legs: _Legs) -> Decimal:
    """A spot/margin holding under this is not tradeable: the master counts as out."""
    return max(legs.rules.step, legs.rules.min_qty)


def _venue(fill: MasterFill, config: SlaveConfig, holding: SlaveHolding, legs: _Legs) -> Venue:
    """How spot and margin orders move the slave's position (actors/domain/target.py `Venue`).

    Buys receive the base asset net of the commission (taken from the asset received), so an
    order that should add X to the position buys X times the master's own ratio of order
    quantity to position gained (at most MAX_COMMISSION_GROSS_UP): a cover of a whole short buys
    that much more than the short, so no fee-sized loan is left behind. Sells move the position
    by exactly their quantity. Spot sells take at most the free holding; margin sells of a long
    too (selling into a short borrows). Margin legs carry `sideEffectType` (`_margin_effect`),
    and an opening that borrows passes the slave's margin-level floor (`margin_guard`)."""
    gross = Decimal(1)
    gained = fill.position_after - fill.position_before
    if fill.side == "BUY" and 0 < gained < fill.qty:
        gross = min(fill.qty / gained, MAX_COMMISSION_GROSS_UP)
    if fill.market == "spot":
        free = max(holding.position if holding.free is None else holding.free, ZERO)
        return Venue(exempt=False, reduce_only=False, dust=_dust(legs), gross=gross, free=free)
    return Venue(
        exempt=False,
        reduce_only=False,
        dust=_dust(legs),
        gross=gross,
        free=holding.free,
        effect=lambda kind, direction: _margin_effect(fill, kind, direction),
        guard=lambda intents, free: margin_guard(config, holding, intents, free),
    )


def _leveraged_long(fill: MasterFill, position: Decimal) -> bool:
    """The master's long of `position` is worth more than its whole (net) equity: it cannot be
    paid for with its own quote asset, so the master owes quote (it borrowed to buy)."""
    return position > 0 and fill.equity > 0 and position * fill.price > fill.equity


def _margin_effect(fill: MasterFill, kind: IntentKind, direction: int) -> SideEffect:
    """sideEffectType of a margin leg. Opening a short must borrow the base asset (MARGIN_BUY);
    opening a long borrows when the master did; reducing/closing repays when the master did.

    "The master did" is the master listener's hint when it has one (`side_effect`, or its base
    loan moving). Without a hint, a long bigger than the master's equity says the master trades
    on borrowed quote: a buy growing it borrowed (the user data stream does not report loans, so
    the listener cannot tell the first borrow of a master without debt), a sell shrinking it
    repays; a buy covering a short repays the borrowed base."""
    hint = fill.side_effect
    borrowed_up = borrowed_down = False
    if fill.borrowed_before is not None and fill.borrowed_after is not None:
        borrowed_up = fill.borrowed_after > fill.borrowed_before
        borrowed_down = fill.borrowed_after < fill.borrowed_before
    if kind == "open":
        if direction < 0 or hint == "MARGIN_BUY" or (hint is None and borrowed_up):
            return "MARGIN_BUY"
        if hint is None and direction > 0 and _leveraged_long(fill, fill.position_after):
            return "MARGIN_BUY"
        return "NO_SIDE_EFFECT"
    if hint == "AUTO_REPAY" or (hint is None and borrowed_down):
        return "AUTO_REPAY"
    if hint is None and direction > 0 and _leveraged_long(fill, fill.position_before):
        return "AUTO_REPAY"
    if hint is None and direction < 0 and fill.borrowed_before is None:
        return "AUTO_REPAY"  # covering a short (sold with borrowed base) with no word on loans: repay
    return "NO_SIDE_EFFECT"


def margin_level_after(holding: SlaveHolding, side: Side, qty: Decimal, price: Decimal) -> Decimal | None:
    """Estimated margin level (total assets / total liabilities) after a MARGIN_BUY order of `qty`
    at `price`: it borrows its shortfall S (quote for a buy, base for a sell), which adds S to both
    assets and liabilities. None when it cannot be estimated or nothing is owed."""
    if holding.assets_value is None or holding.liabilities_value is None or price <= 0:
        return None
    if side == "BUY":
        shortfall = qty * price - max(holding.quote_free or ZERO, ZERO)
    else:
        shortfall = (qty - max(holding.free or ZERO, ZERO)) * price
    borrow = max(shortfall, ZERO)
    liabilities = holding.liabilities_value + borrow
    if liabilities <= 0:
        return None
    return (holding.assets_value + borrow) / liabilities


def margin_guard(config: SlaveConfig, holding: SlaveHolding, intents: list[OrderIntent], base_free: Decimal | None) -> Skip | None:
    """Refuse a borrowing order when the margin level is, or would fall, below the slave's floor."""
    floor = config.margin_level_min
    if floor is None or not intents:
        return None
    level = holding.margin_level
    if level is not None and level < floor:
        return Skip(
            "cap_reached",
            f"margin level {_fmt(level)} is below the slave's minimum {_fmt(floor)}: no new borrowing",
            notify="margin_level_low",
        )
    qty = sum((i.qty for i in intents), ZERO)
    after = margin_level_after(msgspec.structs.replace(holding, free=base_free), intents[0].side, qty, intents[0].ref_price)
    if after is not None and after < floor:
        return Skip(
            "cap_reached",
            f"{intents[0].side} {_fmt(qty)} {intents[0].symbol} would take the "
            f"margin level to about {_fmt(after.quantize(Decimal('0.01')))}, below the slave's "
            f"minimum {_fmt(floor)}: not copied",
            notify="margin_level_low",
        )
    return None


# --------------------------------------------------------------------------- reconciliation


def reconcile_target(
    master_positions: Iterable[PositionEntry],
    slave_positions: Mapping[PositionKey, Decimal],
    k: Decimal,
    filters: Mapping[str, SymbolFilters],
    *,
    market: Market,
    slave_id: str,
    config: SlaveConfig,
    nonce: str,
    prices: Mapping[str, Decimal] | None = None,
    buy_commission: Decimal = ZERO,
    expected: Mapping[PositionKey, Decimal] | None = None,
) -> list[OrderIntent]:
    """Orders that bring the slave to its target positions, where it drifted.

    Positions are keyed (symbol, position_side): BOTH / spot / margin signed (spot >= 0), LONG
    and SHORT sizes (sign ignored). The target is `expected` when given (the mirror's one target of
    actors/domain/target.py, keyed like `slave_positions`), else k x master (mirrored by `reverse` on
    USD-M: flatten, and tests); rounded to the nearest step. A position whose target is zero is closed whatever its
    size (no dust survives the master); otherwise a drift of one step or less is left alone. A
    correction is never rounded up to the minimum (it would overshoot, and the next check undo it).
    Prices for notional checks come from `prices`, else the master's entry price; an increase
    without any price is left out. Intents of one (symbol, position_side) must run in list order
    (a close before the opening in the other direction).
    """
    master: dict[PositionKey, PositionEntry] = {}
    for entry in master_positions:
        master[(entry.symbol, entry.position_side)] = entry
    reverse = config.reverse and market == "usdm"
    if config.min_notional_policy == "round_up":
        config = msgspec.structs.replace(config, min_notional_policy="defer")
    expected_raw: dict[PositionKey, Decimal] = {}
    if expected is not None:
        expected_raw.update((key, v) for key, v in expected.items() if v)
    else:
        for (symbol, ps), entry in master.items():
            qty = abs(entry.qty) if ps != "BOTH" else entry.qty
            key: PositionKey = (symbol, _SWAP[ps] if reverse else ps)
            expected_raw[key] = k * qty * (-1 if reverse and ps == "BOTH" else 1)
    out: list[OrderIntent] = []
    for key in sorted(set(expected_raw) | set(slave_positions)):
        symbol, ps = key
        f = filters.get(symbol)
        if f is None or not symbol_allowed(config, symbol):
            continue
        price = (prices or {}).get(symbol)
        if price is None:
            master_key = (symbol, _SWAP[ps] if reverse else ps)
            found = master.get(master_key)
            price = found.entry_price if found is not None and found.entry_price > 0 else None
        out.extend(
            _correct_one(
                key,
                expected_raw.get(key, ZERO),
                slave_positions.get(key, ZERO),
                f,
                market=market,
                slave_id=slave_id,
                config=config,
                nonce=nonce,
                price=price,
                buy_commission=buy_commission,
            )
        )
    return out


def _correct_one(
    key: PositionKey,
    expected_raw: Decimal,
    actual: Decimal,
    f: SymbolFilters,
    *,
    market: Market,
    slave_id: str,
    config: SlaveConfig,
    nonce: str,
    price: Decimal | None,
    buy_commission: Decimal = ZERO,
) -> list[OrderIntent]:
    symbol, ps = key
    # Spot/margin buys receive the base asset net of the commission (taken from the asset
    # received): a correction that buys grosses its quantity up, or it would land short of it.
    gross = Decimal(1) / (1 - buy_commission) if market != "usdm" and 0 < buy_commission < 1 else Decimal(1)
    if ps != "BOTH":  # sizes -> signed in the position's direction
        sign = 1 if ps == "LONG" else -1
        expected_raw, actual = sign * abs(expected_raw), sign * abs(actual)
    legs = _Legs(
        market=market,
        filters=f,
        config=config,
        price=price or ZERO,
        cid=lambda leg: reconcile_client_order_id(slave_id, market, symbol, ps, nonce, leg),
    )
    step = legs.rules.step
    expected = round_qty_nearest(expected_raw, step)
    if market == "spot":
        expected = max(expected, ZERO)
    futures = market == "usdm"
    one_way = futures and ps == "BOTH"
    exempt = futures

    def effect(kind: IntentKind, direction: int) -> SideEffect | None:
        if market != "margin":
            return None
        if kind == "open":
            return "MARGIN_BUY" if direction < 0 else "NO_SIDE_EFFECT"
        return "AUTO_REPAY" if direction < 0 else "NO_SIDE_EFFECT"

    parts: list[list[OrderIntent] | Skip] = []
    if actual != 0 and (expected == 0 or _sign(expected) != _sign(actual)):
        d = _sign(actual)
        closing = abs(actual) if d > 0 else round_qty_up(abs(actual) * gross, step)
        parts.append(
            legs.close(closing, side=_open_side(-d), position_side=ps, reduce_only=one_way, exempt=exempt, side_effect=effect("close", d))
        )
        actual = ZERO
    diff = expected - actual
    if expected != 0 and abs(diff) > step:
        d = _sign(expected)
        if abs(expected) > abs(actual):
            if price is not None:
                parts.append(
                    legs.open(
                        abs(diff) * (gross if d > 0 else 1),
                        side=_open_side(d),
                        position_side=ps,
                        held=abs(actual),
                        side_effect=effect("open", d),
                    )
                )
        else:
            fraction = abs(diff) / abs(actual)
            if d < 0:  # buying back part of a short
                fraction = min(Decimal(1), fraction * gross)
            parts.append(
                legs.reduce(
                    fraction,
                    abs(actual),
                    side=_open_side(-d),
                    position_side=ps,
                    reduce_only=one_way,
                    exempt=exempt,
                    side_effect=effect("reduce", d),
                )
            )
    return [intent for part in parts if not isinstance(part, Skip) for intent in part]
