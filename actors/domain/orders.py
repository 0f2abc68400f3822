"""Copy orders (pure): the order intents a decision yields, their client order ids, and the leg
builder that rounds, caps, checks the exchange minimums and splits them (see actors/domain/decisions.py for
the rules, actors/domain/target.py for the one target they aim at)."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Literal

import msgspec

from protocol.messages import Market, PositionSide, Side, SideEffect, SkipReason, SlaveConfig, TimeInForce

from ..binance.filters import (
    QtyRules,
    SymbolFilters,
    format_decimal,
    market_min_notional,
    market_rules,
    round_qty_down,
    round_qty_nearest,
    round_qty_up,
)
from .sizing import notional_cap

ZERO = Decimal(0)
MAX_LEGS = 20  # an order needing more MARKET_LOT_SIZE chunks than this is refused, not sent
IntentKind = Literal["open", "reduce", "close"]


class OrderIntent(msgspec.Struct, frozen=True, kw_only=True):
    """One order the slave should place: MARKET (a copied fill, a correction), or LIMIT /
    LIMIT_MAKER (the copy of a resting master order, actors/domain/resting.py)."""

    market: Market
    symbol: str
    side: Side
    position_side: PositionSide  # "BOTH" for one-way futures, spot and margin
    qty: Decimal  # a multiple of the step, within LOT_SIZE/MARKET_LOT_SIZE
    kind: IntentKind  # open: adds exposure; reduce: part of a position; close: all of it
    reduce_only: bool = False  # send reduceOnly=true (one-way USD-M only; never in hedge mode)
    side_effect: SideEffect | None = None  # margin: sideEffectType to send
    client_order_id: str
    leg: int = 0
    ref_price: Decimal  # price used for notional checks (master's fill price or mark)
    # all but MARKET and LIMIT: spot / margin (the copy of a master's resting order of that type)
    order_type: Literal["MARKET", "LIMIT", "LIMIT_MAKER", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"] = "MARKET"
    price: Decimal | None = None  # LIMIT, LIMIT_MAKER, STOP_LOSS_LIMIT, TAKE_PROFIT_LIMIT: on the tick grid
    time_in_force: TimeInForce | None = None  # LIMIT and the _LIMIT stops (a LIMIT_MAKER sends none)
    stop_price: Decimal | None = None  # the stop types: on the tick grid


class Skip(msgspec.Struct, frozen=True):
    reason: SkipReason
    text: str
    notify: str | None = None  # also raise a SlaveError with this code (e.g. "margin_level_low")


class Decision(msgspec.Struct, frozen=True, kw_only=True):
    """What to do for one master fill. No intents -> `skip` says why. Intents and a `skip` ->
    part of the fill was not copied (e.g. a flip's open leg below min notional)."""

    intents: tuple[OrderIntent, ...] = ()
    skip: Skip | None = None
    sequential: bool = False  # send the legs one after another, each after the previous is done
    # the slave's exact intended position after this fill (account convention; actors/domain/target.py)
    intended: Decimal | None = None
    lands: Decimal | None = None  # the slave's position once every intent executed


class SlaveHolding(msgspec.Struct, frozen=True, kw_only=True):
    """The slave's own position that a master fill applies to.

    position: USD-M BOTH: signed positionAmt; LONG/SHORT: the position of the slave's position
        side (sign ignored: Binance reports SHORT amounts negative); spot: base-asset holding
        (free + locked); margin: net base position (free + locked - borrowed), signed.
    free: spot/margin: free base asset, the most a sell may take (None: `position`).
    margin_level: margin: the slave's current margin level (None: unknown, not checked).
    """

    position: Decimal = ZERO
    free: Decimal | None = None
    margin_level: Decimal | None = None
    # margin, for the margin level after a borrowing order (None: not estimated): the slave's
    # free quote asset, and its total assets / liabilities valued in the quote asset.
    quote_free: Decimal | None = None
    assets_value: Decimal | None = None
    liabilities_value: Decimal | None = None


# --------------------------------------------------------------------------- client order ids

_CID_DIGEST = 18  # bytes -> 24 base64url chars, no padding


def _cid(prefix: str, *parts: object) -> str:
    text = "\x1f".join(str(p) for p in parts).encode()
    digest = hashlib.blake2b(text, digest_size=_CID_DIGEST, person=b"copytrader-cid").digest()
    return prefix + base64.urlsafe_b64encode(digest).decode("ascii")


def client_order_id(slave_id: str, master_order_id: int, master_trade_id: int, leg: int, *, market: str, symbol: str) -> str:
    """newClientOrderId of a copied order: "ct" + 24 base64url chars (26 chars).

    Deterministic in (slave, market, symbol, master order id, master trade id, leg): the same on
    every retry and after a restart; different per leg. Binance's order and trade ids are per
    symbol, hence market and symbol in the hash. Charset [A-Za-z0-9_-] fits both USD-M's
    `^[\\.A-Z\\:/a-z0-9_-]{1,36}$` and spot's rules; 144-bit blake2b, so collisions are negligible.
    """
    return _cid("ct", slave_id, market, symbol, master_order_id, master_trade_id, leg)


def reconcile_client_order_id(slave_id: str, market: str, symbol: str, position_side: str, nonce: str, leg: int) -> str:
    """newClientOrderId of a corrective order: "cr" + 24 chars. `nonce` names the
    reconciliation round (e.g. its journal id), so a retried round reuses its ids."""
    return _cid("cr", slave_id, market, symbol, position_side, nonce, leg)


# --------------------------------------------------------------------------- leg building


def _sign(x: Decimal) -> int:
    return (x > 0) - (x < 0)


def _fmt(x: Decimal) -> str:
    return format_decimal(x) if x.is_finite() else str(x)


class _Legs:
    """Builds the order legs of one decision for one symbol (numbering legs 0, 1, ...)."""

    def __init__(self, *, market: Market, filters: SymbolFilters, config: SlaveConfig, price: Decimal, cid: Callable[[int], str]) -> None:
        self.market = market
        self.f = filters
        self.rules: QtyRules = market_rules(filters)
        self.config = config
        self.price = price
        self.cid = cid
        self.min_notional = market_min_notional(filters)
        self.next_leg = 0

    # -- helpers

    def _min_valid_qty(self, exempt: bool) -> Decimal:
        """Smallest quantity passing minQty, the step and (unless exempt) min notional."""
        step, need = self.rules.step, self.rules.min_qty
        if step:
            need = max(need, step)
        if not exempt and self.min_notional and self.price > 0:
            need = max(need, round_qty_up(self.min_notional / self.price, step))
        return round_qty_up(need, step)

    def _up_when_copyable(
        self, raw_qty: Decimal, qty: Decimal, failure: SkipReason, *, exempt: bool, most: Decimal | None
    ) -> tuple[Decimal, SkipReason | None]:
        """`qty` (`raw_qty` rounded) fails the exchange's minimum: when the exact quantity itself
        passes it (at least minQty, worth at least min notional), round it up to the step instead
        (off by less than one step, which the next fill takes back) rather than hold back a
        copyable amount; never above `most` (the room under the cap, the position to reduce)."""
        up = round_qty_up(raw_qty, self.rules.step)
        if (
            raw_qty < self.rules.min_qty
            or (most is not None and up > most)
            or (not exempt and self.min_notional and self.price > 0 and raw_qty * self.price < self.min_notional)
        ):
            return qty, failure
        return (up, None) if self._fails_minimum(up, exempt) is None else (qty, failure)

    def _fails_minimum(self, qty: Decimal, exempt: bool) -> SkipReason | None:
        if qty <= 0 or qty < self.rules.min_qty:
            return "below_min_qty"
        if not exempt and self.min_notional and self.price > 0 and qty * self.price < self.min_notional:
            return "below_min_notional"
        return None

    def _chunk_max(self) -> Decimal:
        limit = self.rules.max_qty
        if self.f.apply_max_to_market and self.f.max_notional and self.price > 0:
            by_notional = round_qty_down(self.f.max_notional / self.price, self.rules.step)
            limit = min(limit, by_notional) if limit else by_notional
        return limit

    def _split(self, qty: Decimal) -> list[Decimal]:
        """Split into chunks of at most MARKET_LOT_SIZE maxQty (none below minQty)."""
        limit = self._chunk_max()
        if not limit or qty <= limit:
            return [qty]
        if qty / limit > MAX_LEGS:
            return [qty] * (MAX_LEGS + 1)  # refused by the caller; do not build a huge list
        chunks: list[Decimal] = []
        rest = qty
        while rest > limit:
            chunks.append(limit)
            rest -= limit
        if rest > 0:
            if rest < self.rules.min_qty:  # borrow from the previous chunk
                move = round_qty_up(self.rules.min_qty - rest, self.rules.step)
                chunks[-1] -= move
                rest += move
            chunks.append(rest)
        return chunks

    def _intents(
        self, qty: Decimal, *, side: Side, position_side: PositionSide, kind: IntentKind, reduce_only: bool, side_effect: SideEffect | None
    ) -> list[OrderIntent] | Skip:
        chunks = self._split(qty)
        if len(chunks) > MAX_LEGS:
            return Skip(
                "exchange_rejected", f"{_fmt(qty)} {self.f.symbol} would take {len(chunks)} orders of at most {_fmt(self._chunk_max())}"
            )
        out = []
        for chunk in chunks:
            leg = self.next_leg
            self.next_leg += 1
            out.append(
                OrderIntent(
                    market=self.market,
                    symbol=self.f.symbol,
                    side=side,
                    position_side=position_side,
                    qty=chunk,
                    kind=kind,
                    reduce_only=reduce_only,
                    side_effect=side_effect,
                    client_order_id=self.cid(leg),
                    leg=leg,
                    ref_price=self.price,
                )
            )
        return out

    # -- the three kinds of legs

    def open(
        self, raw_qty: Decimal, *, side: Side, position_side: PositionSide, held: Decimal, side_effect: SideEffect | None
    ) -> list[OrderIntent] | Skip:
        """Add `raw_qty` (k*q) to a position now `held` (size in the same direction)."""
        step = self.rules.step
        qty = round_qty_down(raw_qty, step)
        cap = notional_cap(self.config, self.f.symbol)
        room: Decimal | None = None
        capped = False
        if cap is not None:
            room = round_qty_down(max(ZERO, cap - held * self.price) / self.price, step)
            if room <= 0:
                return Skip("cap_reached", f"{self.f.symbol} position {_fmt(held)} is at the cap of {_fmt(cap)} {self.f.quote_asset}")
            if qty > room:
                qty, capped = room, True
        failure = self._fails_minimum(qty, exempt=False)
        if failure is not None and not capped:
            qty, failure = self._up_when_copyable(raw_qty, qty, failure, exempt=False, most=room)
        if failure is not None:
            if self.config.min_notional_policy == "round_up":
                up = self._min_valid_qty(exempt=False)
                if room is not None and up > room:
                    return Skip(
                        "cap_reached", f"smallest valid {self.f.symbol} order {_fmt(up)} exceeds the room {_fmt(room)} left under the cap"
                    )
                qty = up
            elif capped:
                return Skip("cap_reached", f"{_fmt(qty)} {self.f.symbol} left under the cap is below the exchange minimum")
            else:
                return Skip(failure, self._minimum_text(raw_qty, qty))
        return self._intents(qty, side=side, position_side=position_side, kind="open", reduce_only=False, side_effect=side_effect)

    def reduce(
        self,
        fraction: Decimal,
        held: Decimal,
        *,
        side: Side,
        position_side: PositionSide,
        reduce_only: bool,
        exempt: bool,
        side_effect: SideEffect | None,
        sell_limit: Decimal | None = None,
    ) -> list[OrderIntent] | Skip:
        """Reduce a position of size `held` by `fraction` of it (0 < fraction < 1)."""
        step = self.rules.step
        most = held if sell_limit is None else min(held, round_qty_down(sell_limit, step))
        qty = min(round_qty_nearest(fraction * held, step), most)
        failure = self._fails_minimum(qty, exempt)
        if failure is not None:
            qty, failure = self._up_when_copyable(fraction * held, qty, failure, exempt=exempt, most=most)
        if failure is not None:
            if self.config.min_notional_policy == "round_up":
                qty = min(self._min_valid_qty(exempt), most)
                failure = self._fails_minimum(qty, exempt)
            if failure is not None:
                return Skip(failure, self._minimum_text(fraction * held, qty))
        kind: IntentKind = "close" if qty == held else "reduce"
        return self._intents(qty, side=side, position_side=position_side, kind=kind, reduce_only=reduce_only, side_effect=side_effect)

    def close(
        self,
        held: Decimal,
        *,
        side: Side,
        position_side: PositionSide,
        reduce_only: bool,
        exempt: bool,
        side_effect: SideEffect | None,
        sell_limit: Decimal | None = None,
    ) -> list[OrderIntent] | Skip:
        """Close a position of size `held` completely (exact quantity; spot: free, rounded down)."""
        qty = held if sell_limit is None else min(held, round_qty_down(sell_limit, self.rules.step))
        failure = self._fails_minimum(qty, exempt)
        if failure is not None:
            return Skip(failure, f"closing {_fmt(qty)} {self.f.symbol}: " + self._minimum_text(qty, qty))
        return self._intents(qty, side=side, position_side=position_side, kind="close", reduce_only=reduce_only, side_effect=side_effect)

    def _minimum_text(self, wanted: Decimal, qty: Decimal) -> str:
        return (
            f"{self.f.symbol}: {_fmt(wanted)} -> {_fmt(qty)} at {_fmt(self.price)} is under "
            f"minQty {_fmt(self.rules.min_qty)} / step {_fmt(self.rules.step)} / min notional "
            f"{_fmt(self.min_notional)} {self.f.quote_asset}"
        )


def _collect(parts: Iterable[list[OrderIntent] | Skip], *, sequential: bool = False) -> Decision:
    intents: list[OrderIntent] = []
    skip: Skip | None = None
    for part in parts:
        if isinstance(part, Skip):
            skip = skip or part
        else:
            intents.extend(part)
    if not intents:
        return Decision(skip=skip or Skip("not_copied", "nothing to do"))
    return Decision(intents=tuple(intents), skip=skip, sequential=sequential and len(intents) > 1)


def _skip(reason: SkipReason, text: str) -> Decision:
    return Decision(skip=Skip(reason, text))


def _open_side(direction: int) -> Side:
    return "BUY" if direction > 0 else "SELL"
