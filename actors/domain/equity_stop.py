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

The daily loss limit (`daily_loss_limit` USDT, `daily_loss_window` "utc_day" | "rolling_24h",
`observe_daily`) refuses entries the same way once the equity lost that much in its window, and
lifts itself when the window resets. Deposits, withdrawals and transfers move the equity too: they
count as gains and losses (the slave sees only its equity).
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
    # the daily loss limit: its settings, its window's start and the equity then, why it acted;
    # rolling_24h: the equity at each minute of the last 24 h (the oldest is the baseline)
    day_armed_for: str = ""
    day_start_ms: int = 0
    day_equity: Decimal | None = None
    day_acted: str = ""
    minutes: tuple[tuple[int, Decimal], ...] = ()


def thresholds(config: SlaveConfig) -> str:
    """The guard's settings as one key: a change lifts the stop and restarts the high-water mark."""
    if config.equity_floor is None and config.max_drawdown_pct is None:
        return ""
    return f"floor={config.equity_floor};drawdown={config.max_drawdown_pct}"


def observe(state: EquityStopState, config: SlaveConfig, equity: Decimal | None, now_ms: int) -> tuple[EquityStopState, str | None]:
    """The state after the slave's equity was `equity` (None: not known now, nothing changes), and
    the reason when the stop acts now (None otherwise, and when it had acted already)."""
    key = thresholds(config)
    if state.armed_for != key:  # set, changed or off: lifted, the mark starts again (the daily limit's part is its own)
        state = msgspec.structs.replace(state, armed_for=key, high_water=None, acted="", acted_ms=0)
    if not key:
        return state, None
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


DAY_MS = 86_400_000
MINUTE_MS = 60_000


def observe_daily(
    state: EquityStopState, config: SlaveConfig, equity: Decimal | None, now_ms: int
) -> tuple[EquityStopState, str | None, bool]:
    """The daily loss limit: the state after the equity was `equity`, the reason when it acts now,
    and whether it was lifted now (its window reset: the next UTC day, or, rolling, the loss over
    the last 24 h back under the limit). The loss is the equity at the window's start (rolling: 24 h
    ago, or when the guard was set if later) minus the equity now; it acts at the limit."""
    limit = config.daily_loss_limit
    if limit is None:
        return (
            (
                msgspec.structs.replace(state, day_armed_for="", day_start_ms=0, day_equity=None, day_acted="", minutes=())
                if state.day_armed_for
                else state
            ),
            None,
            False,
        )
    key = f"{limit};{config.daily_loss_window}"
    if state.day_armed_for != key:
        state = msgspec.structs.replace(state, day_armed_for=key, day_start_ms=0, day_equity=None, day_acted="", minutes=())
    if equity is None or not equity.is_finite():
        return state, None, False
    lifted = False
    if config.daily_loss_window == "utc_day":
        if state.day_equity is None or state.day_start_ms // DAY_MS != now_ms // DAY_MS:
            lifted = bool(state.day_acted)
            state = msgspec.structs.replace(state, day_start_ms=now_ms, day_equity=equity, day_acted="")
        baseline = state.day_equity
    else:
        minutes = [m for m in state.minutes if m[0] > now_ms - DAY_MS]
        if not minutes or now_ms - minutes[-1][0] >= MINUTE_MS:
            minutes.append((now_ms, equity))
        state = msgspec.structs.replace(state, minutes=tuple(minutes), day_start_ms=minutes[0][0], day_equity=minutes[0][1])
        baseline = minutes[0][1]
    assert baseline is not None
    loss = baseline - equity
    if state.day_acted:
        if config.daily_loss_window == "rolling_24h" and loss < limit:
            return msgspec.structs.replace(state, day_acted=""), None, True
        return state, None, False
    if loss >= limit:
        window = "today (UTC)" if config.daily_loss_window == "utc_day" else "in the last 24 h"
        reason = f"lost {loss:.2f} USDT {window} (equity {baseline:.2f} -> {equity:.2f}), the limit is {limit} USDT"
        return msgspec.structs.replace(state, day_acted=reason), reason, lifted
    return state, None, lifted


__all__ = ["EquityStopState", "observe", "observe_daily", "thresholds"]
