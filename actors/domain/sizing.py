"""How much a slave copies (pure): the ratio k, per-symbol caps, leverage cap.

k (ARCHITECTURE.md "Copy semantics"):
- fixed_ratio:         k = ratio
- balance_multiplier:  k = multiplier x slave_equity / master_equity
A missing or non-positive equity makes k unknowable: `CannotSize` (the copy logic then skips
increases with reason "cannot_size" but still mirrors reductions and closes, which need no k).

The close-only guard (`close_only = true`) is the same rule on purpose (`entry_k`): every entry
and increase is skipped with reason "close_only", the intended position does not grow (a later
reduction takes the same fraction of what the slave holds), and reductions and closes are copied
as ever; a resting or conditional order is copied for the part that reduces only. So is the equity
stop and the daily loss limit once they acted (skip reasons "equity_stop", "daily_loss").
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from protocol.messages import SkipReason, SlaveConfig

from .equity_stop import EquityStopState


class CannotSize(msgspec.Struct, frozen=True):
    """k cannot be computed, or may not be used for entries; `reason` says why (journalled with
    the skip, whose reason is `skip`)."""

    reason: str
    skip: SkipReason = "cannot_size"


CLOSE_ONLY = "close-only: entries and increases are not copied (reductions and closes are)"


def entry_k(config: SlaveConfig, k: Decimal | CannotSize, stop: EquityStopState | None = None) -> Decimal | CannotSize:
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


def ratio_k(config: SlaveConfig, slave_equity: Decimal | None, master_equity: Decimal | None) -> Decimal | CannotSize:
    """The slave's copy ratio for `config`, given both equities in the same quote asset."""
    if config.sizing == "fixed_ratio":
        return config.ratio
    if master_equity is None or not master_equity.is_finite() or master_equity <= 0:
        return CannotSize(f"master equity is {master_equity}: cannot scale by balance")
    if slave_equity is None or not slave_equity.is_finite() or slave_equity <= 0:
        return CannotSize(f"slave equity is {slave_equity}: cannot scale by balance")
    return config.multiplier * slave_equity / master_equity


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
