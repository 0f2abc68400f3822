"""The positions the exchange liquidated (or ADL-closed) on a slave while its master's stayed open,
kept across restarts in `<state_dir>/slave-<id>-forced.json`, so a restarted slave does not buy
back what was liquidated either (its first sync would otherwise correct to k x the master).

{"usdm": [["BTCUSDT", "BOTH"], ...]}: written atomically (mode 0600) on every change, which is rare
(a liquidation, or the master closing that position). A file that cannot be read or parsed is
reported by name and treated as empty; a write that fails is logged, never fatal."""

from __future__ import annotations

import logging
from pathlib import Path

import msgspec

from ..files import write_atomic

log = logging.getLogger("copytrader.slave")

Forced = dict[str, set[tuple[str, str]]]  # market -> {(symbol, positionSide)}
_decoder = msgspec.json.Decoder(dict[str, list[tuple[str, str]]])


def forced_path(state_dir: Path, slave_id: str) -> Path:
    return Path(state_dir) / f"slave-{slave_id}-forced.json"


def load_forced(path: Path) -> tuple[Forced, str | None]:
    """The saved sets, and a problem to report (None when the file is fine or absent)."""
    try:
        raw = Path(path).read_bytes()
    except FileNotFoundError:
        return {}, None
    except OSError as exc:
        return {}, f"cannot read {path}: {exc.strerror}"
    try:
        return {m: {tuple(k) for k in keys} for m, keys in _decoder.decode(raw).items()}, None  # type: ignore[misc]
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        return {}, f"{path} is not a valid liquidation record ({exc}): ignored"


def save_forced(path: Path, forced: Forced) -> None:
    data = {m: sorted([list(k) for k in keys]) for m, keys in sorted(forced.items()) if keys}
    try:
        write_atomic(Path(path), msgspec.json.encode(data))
    except OSError as exc:
        log.warning("could not save %s: %s (a restart may buy a liquidated position back)", path, exc.strerror)


__all__ = ["Forced", "forced_path", "load_forced", "save_forced"]
