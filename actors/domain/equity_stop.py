"""The equity stop, a follower's portfolio stop loss (issue 22; pure, no I/O).

Set by `equity_floor` (USDT) and / or `max_drawdown_pct` (per cent) in a slave's config. The
slave's equity is the sum of its markets' equity in USDT (USD-M margin balance, spot and margin
holdings at the last price), as the balance multiplier counts it. The stop acts:
- when the equity falls below the floor (equal to the floor is not below it);
- or when the equity is `max_drawdown_pct` % or more under its high-water mark: the highest equity
  seen since the guard was set, or last lifted.

Once acted it stays acted until a person lifts it: no entry and no increase is copied (reductions
and closes are, as under close-only), and with `on_stop = "flatten"` the slave closes its
positions, once. An equity that comes back does not lift it (a stop-loss that re-arms by itself
would buy back in at the bottom). It is lifted by editing its thresholds (other values, or off and
on again). The high-water mark then starts again from the equity of that moment. A restart does
not lift it: the slave keeps the state in a file (actors/slave/equity_guard.py).
"""

from __future__ import annotations

from decimal import Decimal

import msgspec

from protocol.messages import SlaveConfig

HUNDRED = Decimal(100)


class EquityStopState(msgspec.Struct, frozen=True, kw_only=True):
    armed_for: str = ""  # the thresholds this state belongs to (`thresholds`); "" = no guard
    high_water: Decimal | None = None  # USDT; None before the first equity
    acted: str = ""  # why it acted ("" = not acted)
    acted_ms: int = 0


def thresholds(config: SlaveConfig) -> str:
    """The guard's settings as one key: a change lifts the stop and restarts the high-water mark."""
    if config.equity_floor is None and config.max_drawdown_pct is None:
        return ""
    return f"floor={config.equity_floor};drawdown={config.max_drawdown_pct}"


def observe(state: EquityStopState, config: SlaveConfig, equity: Decimal | None, now_ms: int) -> tuple[EquityStopState, str | None]:
    """The state after the slave's equity was `equity` (None: not known now, nothing changes), and
    the reason when the stop acts now (None otherwise, and when it had acted already)."""
    key = thresholds(config)
    if not key:
        return (EquityStopState() if state.armed_for else state), None
    if state.armed_for != key:
        state = EquityStopState(armed_for=key)  # set, or changed: lifted, the mark starts again
    if equity is None or not equity.is_finite() or state.acted:
        return state, None
    high = equity if state.high_water is None or equity > state.high_water else state.high_water
    reason = None
    floor, most = config.equity_floor, config.max_drawdown_pct
    if floor is not None and equity < floor:
        reason = f"equity {equity:.2f} USDT is below the floor of {floor} USDT"
    elif most is not None and high > 0 and (high - equity) * HUNDRED >= most * high:
        drawdown = (high - equity) * HUNDRED / high
        reason = f"equity {equity:.2f} USDT is {drawdown:.2f} % under its high-water mark of {high:.2f} USDT (the limit is {most} %)"
    if reason is None:
        return (state if high == state.high_water else msgspec.structs.replace(state, high_water=high)), None
    return msgspec.structs.replace(state, high_water=high, acted=reason, acted_ms=now_ms), reason


__all__ = ["EquityStopState", "observe", "thresholds"]
