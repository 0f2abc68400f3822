"""The equity stop and the daily loss limit in the slave process (the rules: actors/domain/equity_stop.py).

`check_equity_stop` runs once a second after the equities are refreshed (process.py `maintain`):
it sums the markets' equity (only when every market has one), updates the high-water mark, and when
the stop acts tells a person (SlaveError `guard_equity_stop`, notified under "guard") and, with
`on_stop = "flatten"`, closes every position of the slave once (as `copytrader slave flatten`
does) and forgets its intended positions, so no check opens them again. The entries it then
refuses are journalled as skips with reason "equity_stop" (guards.py). The daily loss limit is
told the same way (`guard_daily_loss`, skips "daily_loss"), and lifts itself when its window
resets (logged; told again the next time it acts).

The state is kept in `<state_dir>/slave-<id>-equity.json`, written atomically when the stop acts,
is lifted or set, and when the high-water mark has risen by 0.1 % or more since it was last
written (a restart then loses at most that much of the mark). A file that cannot be read is
reported by name and the guard starts again from the current equity."""

from __future__ import annotations

import logging
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from protocol.messages import FlattenCommand, SlaveError

from ..domain.equity_stop import EquityStopState, observe, observe_daily
from ..files import write_atomic
from .rules import now_ns

log = logging.getLogger("copytrader.slave")

SAVE_RISE = Decimal("0.001")  # the high-water mark is written again once it rose this much
ERROR_PREFIX = "equity stop acted: "
DAY_PREFIX = "daily loss limit acted: "


def equity_path(state_dir: Path, slave_id: str) -> Path:
    return Path(state_dir) / f"slave-{slave_id}-equity.json"


def load_equity_stop(path: Path) -> tuple[EquityStopState, str | None]:
    """The saved state, and a problem to report (None when the file is fine or absent)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return EquityStopState(), None
    except OSError as exc:
        return EquityStopState(), f"cannot read {path}: {exc.strerror}"
    try:
        return msgspec.json.decode(raw, type=EquityStopState), None
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return EquityStopState(), f"{path} is not a valid equity stop record ({exc}): the guard starts again"


def save_equity_stop(path: Path, state: EquityStopState) -> None:
    try:
        write_atomic(Path(path), msgspec.json.encode(state))
    except OSError as exc:
        log.warning("could not save %s: %s (a restart may lose the equity stop's state)", path, exc.strerror)


def total_equity(slave: Any) -> Decimal | None:
    """The slave's equity over its markets (USDT), None while any market has none."""
    total = Decimal(0)
    for mirror in slave.mirrors.values():
        equity = mirror.account.equity
        if equity is None:
            return None
        total += equity
    return total if slave.mirrors else None


def _unshow(slave: Any, prefix: str) -> None:
    kept = [e for e in slave.errors if not e.startswith(prefix)]  # lifted: no longer shown
    slave.errors.clear()
    slave.errors.extend(kept)


def _tell(slave: Any, guard: str, shown: str, message: str) -> None:
    log.warning("%s", shown)
    slave.guards_noted.add(guard)
    slave.errors.append(shown[:200])  # shown with the slave's status (TUI, copytrader status)
    slave.report(SlaveError(slave_id=slave.slave_id, code=f"guard_{guard}", message=message[:500], t_ns=now_ns()))


def check_equity_stop(slave: Any, now_ms: int | None = None) -> str | None:
    """Update the slave's equity stop and daily loss limit from its equity now; the reason when
    one of them acted now."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    before: EquityStopState = slave.equity_stop
    equity = total_equity(slave)
    state, acted = observe(before, slave.config, equity, now)
    state, day_acted, day_lifted = observe_daily(state, slave.config, equity, now)
    if state == before:
        return None
    slave.equity_stop = state
    if state.armed_for != before.armed_for:
        slave.guards_noted.discard("equity_stop")
        _unshow(slave, ERROR_PREFIX)
        log.info("equity stop %s", f"set ({state.armed_for})" if state.armed_for else "off")
    if state.day_armed_for != before.day_armed_for or day_lifted:
        slave.guards_noted.discard("daily_loss")
        _unshow(slave, DAY_PREFIX)
        log.info(
            "daily loss limit %s",
            "lifted: its window reset" if day_lifted else f"set ({state.day_armed_for})" if state.day_armed_for else "off",
        )
    saved = slave.equity_stop_saved
    rose = state.high_water is not None and (saved.high_water is None or state.high_water > saved.high_water * (1 + SAVE_RISE))
    changed = (state.armed_for, state.acted, state.day_armed_for, state.day_start_ms, state.day_acted, state.minutes[-1:]) != (
        saved.armed_for, saved.acted, saved.day_armed_for, saved.day_start_ms, saved.day_acted, saved.minutes[-1:]
    )  # fmt: skip
    if rose or changed:  # rolling: at most once a minute (a new sample)
        save_equity_stop(slave.equity_stop_path, state)
        slave.equity_stop_saved = state
    if acted:
        flatten = slave.config.on_stop == "flatten"
        message = f"equity stop: {acted}; new entries are not copied" + ("; the positions are closed" if flatten else "")
        _tell(slave, "equity_stop", f"{ERROR_PREFIX}{acted}", message)
        if flatten:
            cmd = FlattenCommand(request_id=now, slave_id=slave.slave_id)
            for mirror in slave.mirrors.values():
                slave.spawn(mirror.flatten(cmd, forget=True))
    if day_acted:
        _tell(
            slave,
            "daily_loss",
            f"{DAY_PREFIX}{day_acted}",
            f"daily loss limit: {day_acted}; new entries are not copied until its window resets",
        )
    return acted or day_acted


__all__ = ["check_equity_stop", "equity_path", "load_equity_stop", "save_equity_stop", "total_equity"]
