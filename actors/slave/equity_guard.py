"""The equity stop in the slave process (the rule: actors/domain/equity_stop.py).

`check_equity_stop` runs once a second after the equities are refreshed (process.py `maintain`):
it sums the markets' equity (only when every market has one), updates the high-water mark, and when
the stop acts tells a person (SlaveError `guard_equity_stop`, notified under "guard") and, with
`on_stop = "flatten"`, closes every position of the slave once (as `copytrader slave flatten`
does) and forgets its intended positions, so no check opens them again. The entries it then
refuses are journalled as skips with reason "equity_stop" (guards.py).

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

from ..domain.equity_stop import EquityStopState, observe
from ..files import write_atomic
from .rules import now_ns

log = logging.getLogger("copytrader.slave")

SAVE_RISE = Decimal("0.001")  # the high-water mark is written again once it rose this much
ERROR_PREFIX = "equity stop acted: "


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


def check_equity_stop(slave: Any, now_ms: int | None = None) -> str | None:
    """Update the slave's equity stop from its equity now; the reason when it acted now."""
    before: EquityStopState = slave.equity_stop
    state, acted = observe(before, slave.config, total_equity(slave), int(time.time() * 1000) if now_ms is None else now_ms)
    if state == before:
        return None
    slave.equity_stop = state
    if state.armed_for != before.armed_for:
        slave.guards_noted.discard("equity_stop")
        kept = [e for e in slave.errors if not e.startswith(ERROR_PREFIX)]  # lifted: no longer shown
        slave.errors.clear()
        slave.errors.extend(kept)
        log.info("equity stop %s", f"set ({state.armed_for})" if state.armed_for else "off")
    saved = slave.equity_stop_saved
    rose = state.high_water is not None and (saved.high_water is None or state.high_water > saved.high_water * (1 + SAVE_RISE))
    if acted or rose or state.armed_for != saved.armed_for or state.acted != saved.acted:
        save_equity_stop(slave.equity_stop_path, state)
        slave.equity_stop_saved = state
    if acted:
        log.warning("equity stop acted: %s", acted)
        flatten = slave.config.on_stop == "flatten"
        message = f"equity stop: {acted}; new entries are not copied" + ("; the positions are closed" if flatten else "")
        slave.guards_noted.add("equity_stop")
        slave.errors.append(f"{ERROR_PREFIX}{acted}"[:200])  # shown with the slave's status (TUI, copytrader status)
        slave.report(SlaveError(slave_id=slave.slave_id, code="guard_equity_stop", message=message[:500], t_ns=now_ns()))
        if flatten:
            cmd = FlattenCommand(request_id=now_ms or int(time.time() * 1000), slave_id=slave.slave_id)
            for mirror in slave.mirrors.values():
                slave.spawn(mirror.flatten(cmd, forget=True))
    return acted


__all__ = ["check_equity_stop", "equity_path", "load_equity_stop", "save_equity_stop", "total_equity"]
