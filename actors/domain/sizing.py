"""How much a slave copies (pure): the ratio k, per-symbol caps, leverage cap.

k (ARCHITECTURE.md "Copy semantics"):
- fixed_ratio:         k = ratio
- balance_multiplier:  k = multiplier x slave_equity / master_equity
- fixed_amount:        k = amount / N            per entry or increase of the master's
- fixed_fraction:      k = fraction x slave_equity / N
  where N is the notional of what the master's order adds: its price x the part of its quantity
  that adds to the master's position (`order_increase`). So each master order that opens or adds
  is copied with a notional of `amount` (or of the fraction of equity) at its price, whatever its
  size and in however many fills it trades; the notional is the position's value, not its margin
  (a leverage cap changes the margin it takes, not its size). Reductions keep the same-fraction
  rule and closes close, as with every sizing. A resync that finds a master position grown while
  the slave was away (a gap, a restart, a slave added) takes the growth as one entry at the
  master's entry price (`PerIncrease`).
A missing or non-positive equity makes k unknowable: `CannotSize` (the copy logic then skips
increases with reason "cannot_size" but still mirrors reductions and closes, which need no k).

The close-only guard (`close_only = true`) is the same rule on purpose (`entry_k`): every entry
and increase is skipped with reason "close_only", the intended position does not grow (a later
reduction takes the same fraction of what the slave holds), and reductions and closes are copied
as ever; a resting or conditional order is copied for the part that reduces only. So is the equity
stop and the daily loss limit once they acted (skip reasons "equity_stop", "daily_loss").
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import msgspec

from protocol.messages import MasterFill, SkipReason, SlaveConfig

from .equity_stop import EquityStopState


class CannotSize(msgspec.Struct, frozen=True):
    """k cannot be computed, or may not be used for entries; `reason` says why (journalled with
    the skip, whose reason is `skip`)."""

    reason: str
    skip: SkipReason = "cannot_size"


CLOSE_ONLY = "close-only: entries and increases are not copied (reductions and closes are)"


class PerIncrease:
    """fixed_amount / fixed_fraction in a resync: the k of each master position's growth since the
    slave last saw it, taken as one entry of `notional` at `prices[symbol]` (the master's entry
    price; None where no price is known: that growth is not copied)."""

    __slots__ = ("notional", "prices")

    def __init__(self, notional: Decimal, prices: Mapping[str, Decimal]) -> None:
        self.notional = notional
        self.prices = prices

    def __call__(self, symbol: str, increase: Decimal) -> Decimal | None:
        price = self.prices.get(symbol)
        if price is None or price <= 0 or increase <= 0:
            return None
        return self.notional / (price * increase)


Sizing = Decimal | CannotSize | PerIncrease


def entry_k(config: SlaveConfig, k: Sizing, stop: EquityStopState | None = None) -> Sizing:
    """The k a master fill's increase is copied with: `k`, or none under the close-only guard, or
    once the equity stop or the daily loss limit acted (`stop`: actors/domain/equity_stop.py)."""
    if isinstance(k, CannotSize):
        return k
    if config.close_only:
        return CannotSize(CLOSE_ONLY, skip="close_only")
    if stop is not None and stop.acted:
        return CannotSize(f"equity stop: {stop.acted}; entries and increases are not copied until it is lifted", skip="equity_stop")
    if stop is not None and stop.day_acted:
        return CannotSize(
            f"daily loss limit: {stop.day_acted}; entries and increases are not copied until its window resets", skip="daily_loss"
        )
    return k


FIXED = ("fixed_amount", "fixed_fraction")


def entry_notional(config: SlaveConfig, slave_equity: Decimal | None) -> Decimal | CannotSize:
    """fixed_amount / fixed_fraction: the notional each copied entry or increase has."""
    if config.sizing == "fixed_amount" and config.amount is not None:
        return config.amount
    if config.sizing == "fixed_fraction" and config.fraction is not None:
        if slave_equity is None or not slave_equity.is_finite() or slave_equity <= 0:
            return CannotSize(f"slave equity is {slave_equity}: cannot size a fraction of it")
        return config.fraction * slave_equity
    return CannotSize(f"sizing {config.sizing} has no fixed notional")


def ratio_k(
    config: SlaveConfig, slave_equity: Decimal | None, master_equity: Decimal | None, increase: Decimal | None = None
) -> Decimal | CannotSize:
    """The slave's copy ratio for `config`, given both equities in the same quote asset.
    fixed_amount / fixed_fraction: `increase` is the notional the master's order adds (its price x
    `order_increase`); without it (None: not an entry, or not known) k cannot be given."""
    if config.sizing == "fixed_ratio":
        return config.ratio
    if config.sizing in FIXED:
        notional = entry_notional(config, slave_equity)
        if isinstance(notional, CannotSize):
            return notional
        if increase is None or not increase.is_finite() or increase <= 0:
            return CannotSize(f"{config.sizing}: the size of the master's entry is not known")
        return notional / increase
    if master_equity is None or not master_equity.is_finite() or master_equity <= 0:
        return CannotSize(f"master equity is {master_equity}: cannot scale by balance")
    if slave_equity is None or not slave_equity.is_finite() or slave_equity <= 0:
        return CannotSize(f"slave equity is {slave_equity}: cannot scale by balance")
    return config.multiplier * slave_equity / master_equity


def sizing_k(config: SlaveConfig, slave_equity: Decimal | None, master_equity: Decimal | None, prices: Mapping[str, Decimal]) -> Sizing:
    """What a resync or a check moves the intended positions with (actors/domain/target.py
    `advance`): k, or per growth for fixed_amount / fixed_fraction (`prices`: the master's entry
    prices), or CannotSize."""
    if config.sizing not in FIXED:
        return ratio_k(config, slave_equity, master_equity)
    notional = entry_notional(config, slave_equity)
    return notional if isinstance(notional, CannotSize) else PerIncrease(notional, prices)


def order_increase(side: str, position_side: str, *, order_qty: Decimal, reduce_only: bool, position_at_start: Decimal) -> Decimal:
    """How much of a master order's `order_qty` adds to its position (the rest reduces it): hedge
    BUY LONG / SELL SHORT all of it, SELL LONG / BUY SHORT none; one-way, spot and margin what
    goes past the position it had when the order started; a reduce-only order none."""
    if reduce_only:
        return Decimal(0)
    if position_side != "BOTH":
        return order_qty if (position_side == "LONG") == (side == "BUY") else Decimal(0)
    p = position_at_start
    against = (p > 0 and side == "SELL") or (p < 0 and side == "BUY")
    return max(order_qty - abs(p), Decimal(0)) if against else order_qty


def growth(before: Decimal, after: Decimal) -> Decimal:
    """How much a master position (signed, or a hedge side's size) grew from `before` to `after`:
    all of the new side after an opening or a flip, the difference after an increase, else 0."""
    if after == 0:
        return Decimal(0)
    if (before > 0) != (after > 0) or before == 0:
        return abs(after)
    return max(abs(after) - abs(before), Decimal(0))


def fill_k(
    config: SlaveConfig, slave_equity: Decimal | None, master_equity: Decimal | None, fill: MasterFill, *, first_of_order: bool = True
) -> Decimal | CannotSize:
    """The k of one master fill. fixed_amount / fixed_fraction: the notional over what the fill's
    whole order adds (its price x `order_increase` of the order's quantity), so the order's fills
    together copy the notional once. An order whose quantity the master did not report
    (`order_qty` 0) is taken to be its first fill (`first_of_order`); its later fills add nothing."""
    if config.sizing not in FIXED:
        return ratio_k(config, slave_equity, master_equity)
    if fill.order_qty > 0:
        direction = 1 if fill.side == "BUY" else -1
        start = fill.position_before - direction * (fill.cum_qty - fill.qty) if fill.position_side == "BOTH" else fill.position_before
        adds = order_increase(
            fill.side, fill.position_side, order_qty=fill.order_qty, reduce_only=fill.reduce_only, position_at_start=start
        )
        adds = adds or growth(fill.position_before, fill.position_after)  # positions that disagree with the order: the fill's own
    elif first_of_order:
        adds = growth(fill.position_before, fill.position_after)
    else:
        return Decimal(0)  # the entry was copied with the order's first fill
    return order_k(config, slave_equity, fill.price, adds)


def order_k(config: SlaveConfig, slave_equity: Decimal | None, price: Decimal, adds: Decimal) -> Decimal | CannotSize:
    """fixed_amount / fixed_fraction: the k of a master order at `price` whose quantity adds `adds`
    to its position (0 when it only reduces: no k is needed, 0 is given)."""
    if adds <= 0:
        return Decimal(0)
    return ratio_k(config, slave_equity, None, price * adds if price > 0 else None)


def notional_cap(config: SlaveConfig, symbol: str) -> Decimal | None:
    """Largest position value (quote asset) the slave may hold in `symbol`; None = no cap."""
    return config.symbol_max_notional.get(symbol, config.max_position_notional)


def capped_leverage(master_leverage: int, config: SlaveConfig) -> int:
    """The leverage the slave sets for a symbol: the master's, capped by `max_leverage`."""
    if config.max_leverage is not None:
        return max(1, min(master_leverage, config.max_leverage))
    return max(1, master_leverage)


def symbol_allowed(config: SlaveConfig, symbol: str) -> bool:
    """symbols_deny wins; a non-empty symbols_allow is a whitelist."""
    if symbol in config.symbols_deny:
        return False
    return not config.symbols_allow or symbol in config.symbols_allow
