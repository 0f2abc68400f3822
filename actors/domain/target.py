"""The one target (pure, no I/O): each slave's exact intended positions, and the order a master
fill implies (ARCHITECTURE.md "Copy semantics", "One target"). Every market: USD-M per (symbol,
position side); spot (the base-asset holding) and cross margin (the net base position) per
(symbol, BOTH), whose orders differ only in how they move the position (`Venue`: min notional
applies to sells too, buys land net of the commission, sells take only the free balance, loans).

Per (symbol, position side) the slave keeps an exact, unrounded *intended* position, moved by the
copy rule at every master fill (`move`):
- the master's position grows by q          -> intended + k*q
- it shrinks by a fraction f of its size    -> intended * (1 - f)   (the remainder scales with it)
- it reaches zero                           -> 0
- a one-way flip through zero               -> k * the new side (a close, then an open)
The order sent for a fill is what brings the actual position to the new intended one, rounded to
the step (openings down, reductions to the nearest, closes exact; up instead where that rounding
alone would take a copyable amount under the exchange's minimum), and only in the fill's own
direction: a slave already at or past its intended position (a rounded-up copy) sends nothing.
What the rounding leaves (under one step) stays in the intended position for the next fill.
An order under the exchange's minimum follows the slave's `min_notional_policy`:
- defer (default): not sent; the intended keeps it, and the next fill that makes the difference
  copyable sends it, at that fill (never a timer);
- round_up: the smallest valid order is sent now; the intended stays exact, so the next
  increase is smaller by the over-copy;
- skip: not sent, and the intended forgets this fill's move, so no later correction places it.
An opening clipped by the notional cap clips the intended position to what was sent.

The periodic check and every resync compare the actual position with the same intended position
(`advance` moves it by what the master's snapshot shows changed since), so they correct only what
a fault caused (a missed fill, a restart, a rejected order), never a deliberate policy outcome.

Values: the master's and the intended positions are signed here (LONG > 0, SHORT < 0, BOTH as is);
the slave keeps them in the account's convention (BOTH signed, LONG/SHORT sizes >= 0). Spot and
margin: a master position under one tradeable quantity (`Venue.dust`) counts as flat.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import NamedTuple

from protocol.messages import MasterFill, PositionKey, PositionSide, SideEffect, SkipReason, SlaveConfig

from ..binance.filters import round_qty_down, round_qty_nearest, round_qty_up
from .orders import Decision, IntentKind, OrderIntent, Skip, _fmt, _Legs, _open_side, _sign
from .sizing import CannotSize, PerIncrease, Sizing, growth

ZERO = Decimal(0)
Key = PositionKey  # (symbol, positionSide)
_SWAP: dict[PositionSide, PositionSide] = {"BOTH": "BOTH", "LONG": "SHORT", "SHORT": "LONG"}


def signed(ps: str, qty: Decimal) -> Decimal:
    """A position in the account's convention -> signed (a SHORT size counts negative)."""
    if ps == "LONG":
        return abs(qty)
    if ps == "SHORT":
        return -abs(qty)
    return qty


def unsigned(ps: str, value: Decimal) -> Decimal:
    """Signed -> the account's convention (LONG/SHORT sizes >= 0)."""
    return abs(value) if ps != "BOTH" else value


def slave_key(symbol: str, ps: PositionSide, reverse: bool) -> Key:
    """The slave position a master (symbol, position side) maps to (`reverse`: LONG <-> SHORT)."""
    return (symbol, _SWAP[ps] if reverse else ps)


def move(intended: Decimal, before: Decimal, after: Decimal, k: Decimal | None, flip: int = 1) -> Decimal:
    """The copy rule: the intended position (signed, the slave's side) after the master's position
    (signed) went from `before` to `after`. `flip` -1 copies the opposite direction (`reverse`).
    k None (cannot size): an increase leaves the intended position where it was."""
    if after == 0:
        return ZERO
    sb, sa = _sign(before), _sign(after)
    if sb == 0 or sa != sb:  # opened from flat, or flipped through zero: k x the new side
        return flip * k * after if k is not None else ZERO
    if abs(after) > abs(before):
        return intended + flip * k * (after - before) if k is not None else intended
    return intended * abs(after) / abs(before)  # reduced by fraction f: the same fraction of ours


def advance(
    intended: Mapping[Key, Decimal], master_then: Mapping[Key, Decimal], master_now: Mapping[Key, Decimal], k: Sizing, *, reverse: bool
) -> dict[Key, Decimal]:
    """The intended positions (account convention, keyed by the slave's position) moved by what the
    master's positions (account convention, keyed by the master's) did between two snapshots:
    after a gap, a restart, or at a start without any saved target (`master_then` empty: k x the
    master's positions, the sync target). `k` a `PerIncrease` (fixed_amount / fixed_fraction):
    each position's growth is one entry of its notional."""
    kk = None if isinstance(k, (CannotSize, PerIncrease)) else k
    flip = -1 if reverse else 1
    out = {key: v for key, v in intended.items() if v}
    for mkey in set(master_then) | set(master_now):
        before = signed(mkey[1], master_then.get(mkey, ZERO))
        after = signed(mkey[1], master_now.get(mkey, ZERO))
        skey = slave_key(mkey[0], mkey[1], reverse)
        if before == after and skey in out:
            continue
        if isinstance(k, PerIncrease):
            kk = k(mkey[0], growth(before, after))
        value = move(signed(skey[1], out.get(skey, ZERO)), before, after, kk, flip)
        if value:
            out[skey] = unsigned(skey[1], value)
        else:
            out.pop(skey, None)
    return out


def clip_increases(before: Mapping[Key, Decimal], after: dict[Key, Decimal], most: Mapping[str, Decimal]) -> dict[Key, Decimal]:
    """Clip what `advance` added to an intended position (account convention) at `most`, the
    largest size the notional cap allows per symbol: like a copied opening, an increase the cap
    leaves no room for is not intended. Positions it did not grow are never clipped (the cap
    limits openings, never a position the price moved over it)."""
    for key, value in after.items():
        cap = most.get(key[0])
        if cap is None:
            continue
        old = before.get(key, ZERO)
        grown = abs(value) > abs(old) and (old == 0 or _sign(signed(key[1], value)) == _sign(signed(key[1], old)))
        if grown and abs(value) > cap:
            after[key] = max(abs(old), cap) * _sign(value)
    return after


class Venue(NamedTuple):
    """How one market's orders move its position (the defaults: USD-M)."""

    exempt: bool = True  # reductions and closes are exempt from min notional (USD-M: reduce-only)
    reduce_only: bool = True  # a one-way (BOTH) reduction or close sends reduceOnly (USD-M only)
    dust: Decimal = ZERO  # a master position under this counts as flat (spot/margin: untradeable)
    gross: Decimal = Decimal(1)  # buys: order quantity per unit of position gained (spot/margin:
    # the commission is taken from the base asset bought, so a buy lands short of its quantity)
    free: Decimal | None = None  # a sell from a long takes at most this (spot/margin: free base)
    effect: Callable[[IntentKind, int], SideEffect | None] = lambda kind, direction: None  # margin
    guard: Callable[[list[OrderIntent], Decimal | None], Skip | None] = lambda intents, free: None  # margin level


FUTURES = Venue()
UNCLOSABLE = frozenset({"no_position", "below_min_notional", "below_min_qty"})  # a flip opens all the same


def decide_target(
    fill: MasterFill,
    config: SlaveConfig,
    k: Decimal | CannotSize,
    position: Decimal,
    intended: Decimal | None,
    legs: _Legs,
    venue: Venue = FUTURES,
) -> Decision:
    """The orders for one master fill and the intended position after it (`Decision.intended`,
    account convention), on any market (`venue`: how its orders move the position). `position`
    is the slave's actual position of the fill's slave key, `intended` its intended one before the
    fill (None: the actual position, i.e. no target kept)."""
    mps = fill.position_side
    sps = _SWAP[mps] if config.reverse else mps
    flip = -1 if config.reverse else 1
    before, after = (_undust(signed(mps, q), venue.dust) for q in (fill.position_before, fill.position_after))
    slave = signed(sps, position)
    ib = slave if intended is None else signed(sps, intended)
    kk = None if isinstance(k, CannotSize) else k
    ia = move(ib, before, after, kk, flip)
    one_way = sps == "BOTH" and venue.reduce_only
    step = legs.rules.step
    if after == before:
        return _done(_skip1("not_copied", f"fill left the master's {fill.symbol} position unchanged"), sps, ib, position, venue.gross)
    sb, sa = _sign(before), _sign(after)

    def gross(side: str) -> Decimal:
        return venue.gross if side == "BUY" else Decimal(1)

    def no_free(side: str) -> Skip | None:
        if side == "SELL" and venue.free is not None and round_qty_down(venue.free, step) <= 0:
            return Skip("no_position", f"slave holds no free {legs.f.base_asset} to sell")
        return None

    def open_to(direction: int, held: Decimal, free: Decimal | None) -> tuple[list[OrderIntent] | Skip, Decimal]:
        """Open towards the intended position from `held` (>= 0, in `direction`)."""
        nonlocal ia
        if kk is None:
            ia = ib if sb == sa else ZERO
            return (Skip(k.skip, k.reason) if isinstance(k, CannotSize) else Skip("cannot_size", "")), ia
        want = abs(ia) - held
        if want < step:  # at or past it, or under a step: carried
            return Skip("not_copied", f"{fill.symbol} {sps} is within one step of its intended {_fmt(ia)}: {_fmt(want)} carried"), ia
        side = _open_side(direction)
        g = gross(side)
        q = round_qty_down(want * g, step)
        effect = venue.effect("open", direction)
        out = legs.open(want * g, side=side, position_side=sps, held=held, side_effect=effect)
        if not isinstance(out, Skip) and effect == "MARGIN_BUY":
            out = venue.guard(out, free) or out
        if isinstance(out, Skip):
            if out.reason == "cap_reached":
                ia = direction * held  # the cap leaves no room: the intended is what is held
            elif config.min_notional_policy == "skip":
                ia = ib if sb == sa else ZERO  # drop this fill's move
                out = Skip(out.reason, out.text + " (skipped: not placed later)")
            else:
                out = Skip(out.reason, out.text + " (deferred to the next fill that makes it copyable)")
            return out, ia
        sent = sum((i.qty for i in out), ZERO)
        if sent < q:  # clipped by the cap
            ia = direction * (held + sent / g)
        return out, ia

    def close_old(master_dir: int) -> list[OrderIntent] | Skip:
        direction = master_dir * flip
        if slave == 0 or _sign(slave) != direction:
            return Skip("no_position", f"slave holds no {fill.symbol} {sps} position to close")
        side = _open_side(-direction)
        qty = abs(slave) if gross(side) == 1 else round_qty_up(abs(slave) * gross(side), step)
        return no_free(side) or legs.close(
            qty,
            side=side,
            position_side=sps,
            reduce_only=one_way,
            exempt=venue.exempt,
            side_effect=venue.effect("close", direction),
            sell_limit=venue.free if side == "SELL" else None,
        )

    if sb == 0 or (sa == sb and abs(after) > abs(before)):  # an increase
        direction = sa * flip
        held = max(direction * slave, ZERO)
        part, ia = open_to(direction, held, venue.free)
        return _done([part], sps, ia, position, venue.gross)
    if sa == 0:  # the master is flat: close exactly
        return _done([close_old(sb)], sps, ZERO, position, venue.gross)
    if sa == sb:  # a reduction by fraction f
        direction = sb * flip
        held = direction * slave
        if held <= 0:
            return _done(_skip1("no_position", f"slave holds no {fill.symbol} {sps} position to reduce"), sps, ia, position, venue.gross)
        want = held - direction * ia
        if want <= 0:
            return _done(
                _skip1("not_copied", f"{fill.symbol} {sps} {_fmt(slave)} is at or under its intended {_fmt(ia)}"),
                sps,
                ia,
                position,
                venue.gross,
            )
        side = _open_side(-direction)
        want = want * gross(side)  # an order that buys lands net of the commission
        if round_qty_nearest(want, step) <= 0:
            return _done(
                _skip1("not_copied", f"{fill.symbol} {sps}: {_fmt(want)} to reduce is under half a step: carried"),
                sps,
                ia,
                position,
                venue.gross,
            )
        part = no_free(side) or legs.reduce(
            min(Decimal(1), want / held),
            held,
            side=side,
            position_side=sps,
            reduce_only=one_way,
            exempt=venue.exempt,
            side_effect=venue.effect("reduce", direction),
            sell_limit=venue.free if side == "SELL" else None,
        )
        return _done([part], sps, ia, position, venue.gross)
    # one-way flip through zero: close the old side exactly, then open k x the new side
    closing = close_old(sb)
    if isinstance(closing, Skip) and closing.reason not in UNCLOSABLE:
        return _done([closing], sps, ia, position, venue.gross)
    parts: list[list[OrderIntent] | Skip] = []
    direction = sa * flip
    if isinstance(closing, Skip) and closing.reason != "no_position":
        parts.append(closing)  # spot/margin: the old side is dust under the minimum; open all the same
    free: Decimal | None
    if not isinstance(closing, Skip):
        parts.append(closing)
        held, free = ZERO, ZERO  # after the close the slave is flat
    else:
        held, free = max(direction * slave, ZERO), venue.free  # already on the new side (a fault): only the difference
    part, ia = open_to(direction, held, free)
    parts.append(part)
    return _done(parts, sps, ia, position, venue.gross, sequential=True)


def follow(fill: MasterFill, config: SlaveConfig, k: Decimal | CannotSize, position: Decimal, intended: Decimal | None) -> Decimal:
    """The intended position (account convention) after a fill the slave does not trade on (paused,
    filtered, refused...): moved by the copy rule all the same, so a later correction (once it may
    trade) brings the slave to where copying would have."""
    mps = fill.position_side
    sps = _SWAP[mps] if config.reverse else mps
    ib = signed(sps, position if intended is None else intended)
    ia = move(
        ib,
        signed(mps, fill.position_before),
        signed(mps, fill.position_after),
        None if isinstance(k, CannotSize) else k,
        -1 if config.reverse else 1,
    )
    return unsigned(sps, ia)


def _skip1(reason: SkipReason, text: str) -> list[list[OrderIntent] | Skip]:
    return [Skip(reason, text)]


def _undust(value: Decimal, dust: Decimal) -> Decimal:
    return ZERO if abs(value) < dust else value


def _done(
    parts: list[list[OrderIntent] | Skip], sps: str, ia: Decimal, position: Decimal, gross: Decimal = Decimal(1), sequential: bool = False
) -> Decision:
    """The decision of `parts` (like orders._collect), with the intended position after the fill and
    the position the slave lands on once every intent executed (one struct built per fill)."""
    intents: list[OrderIntent] = []
    skip: Skip | None = None
    lands = position
    for part in parts:
        if isinstance(part, Skip):
            skip = skip or part
            continue
        intents.extend(part)
        for i in part:
            gained = i.qty / gross if i.side == "BUY" else i.qty  # a buy lands net of the commission
            lands += gained if (i.side == "BUY") != (sps == "SHORT") else -gained
    if not intents:
        return Decision(skip=skip or Skip("not_copied", "nothing to do"), intended=unsigned(sps, ia), lands=lands)
    return Decision(intents=tuple(intents), skip=skip, sequential=sequential and len(intents) > 1, intended=unsigned(sps, ia), lands=lands)
