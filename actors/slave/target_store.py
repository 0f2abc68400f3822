"""A slave's one target, kept and persisted (the I/O around the pure actors/domain/target.py).

`TargetBook` holds, for one market of one slave:
- `intended`: the exact intended position per slave (symbol, positionSide), account convention;
- `master`: the master's positions the intended ones were last moved to (every fill applied, or a
  snapshot), so after a gap or a restart the target moves by what the master did meanwhile;
- `slack`: where the last fill deliberately left the slave, as its difference from the intended
  position (a deferred or skipped copy, a rounded-up one, the rounding): the checks aim at
  intended + slack, so they correct only what changed since (a fault), never a policy outcome, at
  whatever price the check runs (a minimum order depends on the price);
- `ignored`: on_start = new_only, the master positions that predate the slave (never copied).
They are written together to `<state_dir>/slaves/<id>/target-<market>.json` atomically
(temp file, fsync, rename), at most every SAVE_DELAY_S and off the event loop: a save never delays
a copy, and a crash loses at most the last moves of the two together, which the next resync
re-applies from the master's snapshot (the file is always self-consistent).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any

import msgspec

from protocol.messages import PositionKey

from ..domain.sizing import Sizing
from ..domain.target import advance
from ..files import write_atomic

log = logging.getLogger("copytrader.target")
ZERO = Decimal(0)
SAVE_DELAY_S = 0.2
DELIBERATE = frozenset({"below_min_notional", "below_min_qty", "cap_reached"})  # policy outcomes
FAULTS = frozenset(
    {
        "exchange_rejected",
        "insufficient_balance",
        "cannot_size",
        "paused",
        "disabled",
        "market_refused",
        "symbol_filtered",
        "unknown_symbol",
    }
)
VERSION = 1
Key = PositionKey


class SavedTarget(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    version: int
    intended: list[tuple[str, str, Decimal]]
    master: list[tuple[str, str, Decimal]]
    ignored: list[tuple[str, str]]
    slack: list[tuple[str, str, Decimal]] = []


class TargetError(ValueError):
    """The saved target cannot be read; the message names the file and what is wrong."""


def target_path(state_dir: Path, slave_id: str, market: str) -> Path:
    return Path(state_dir) / "slaves" / slave_id / f"target-{market}.json"


def encode_target(
    intended: Mapping[Key, Decimal], master: Mapping[Key, Decimal], ignored: set[Key], slack: Mapping[Key, Decimal] | None = None
) -> bytes:
    return msgspec.json.encode(
        SavedTarget(
            version=VERSION,
            intended=[(s, ps, q) for (s, ps), q in sorted(intended.items()) if q],
            master=[(s, ps, q) for (s, ps), q in sorted(master.items()) if q],
            ignored=sorted(ignored),
            slack=[(s, ps, q) for (s, ps), q in sorted((slack or {}).items()) if q],
        )
    )


def decode_target(data: bytes, source: str = "target") -> SavedTarget:
    try:
        saved = msgspec.json.decode(data, type=SavedTarget)
    except msgspec.ValidationError as exc:
        raise TargetError(f"{source}: {exc}") from None
    except msgspec.DecodeError as exc:
        raise TargetError(f"{source}: not valid JSON ({exc})") from None
    if saved.version != VERSION:
        raise TargetError(f"{source}: version {saved.version}, this build reads version {VERSION}")
    for s, ps, q in saved.intended + saved.master + saved.slack:
        if not q.is_finite():
            raise TargetError(f"{source}: {s} {ps} quantity {q} is not a finite number")
    return saved


class TargetBook:
    """The intended positions of one market mirror, with their persistence (None: not saved)."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.intended: dict[Key, Decimal] = {}
        self.master: dict[Key, Decimal] = {}
        self.ignored: set[Key] = set()
        self.slack: dict[Key, Decimal] = {}
        self.loaded = False  # read from a saved file: the next start moves it by the master's delta
        self._timer: asyncio.TimerHandle | None = None
        self._writing: asyncio.Future[Any] | None = None
        if path is not None:
            self.load()

    def load(self) -> None:
        assert self.path is not None
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return
        except OSError as exc:
            log.error("cannot read the saved target %s (%s): starting from the master's snapshot", self.path, exc.strerror)
            return
        try:
            saved = decode_target(data, str(self.path))
        except TargetError as exc:
            log.error("%s: starting from the master's snapshot", exc)
            return
        self.intended = {(s, ps): q for s, ps, q in saved.intended if q}
        self.master = {(s, ps): q for s, ps, q in saved.master if q}
        self.ignored = {(s, ps) for s, ps in saved.ignored}
        self.slack = {(s, ps): q for s, ps, q in saved.slack if q}
        self.loaded = True

    # -- moves ---------------------------------------------------------------------------------
    def record(self, skey: Key, intended: Decimal, mkey: Key, master_after: Decimal) -> None:
        """One master fill applied: the slave key's new intended position, the master's new one."""
        if intended:
            self.intended[skey] = intended
        else:
            self.intended.pop(skey, None)
        if master_after:
            self.master[mkey] = master_after
        else:
            self.master.pop(mkey, None)
        if self.path is not None and self._timer is None:
            self._schedule()

    def scale(self, skey: Key, factor: Decimal) -> None:
        """The exchange itself cut the slave's position (liquidation, ADL) to `factor` of what it
        was: the intended position and its slack follow, so later master fills are copied from
        what is left (a decrease by f sells f of it) and no check buys the cut back."""
        for book in (self.intended, self.slack):
            if skey in book:
                book[skey] = book[skey] * factor
        if self.path is not None and self._timer is None:
            self._schedule()

    def settle_fill(self, skey: Key, decision: Any, all_sent: bool) -> None:
        """After a fill's orders: where they deliberately left the slave. Orders all sent, or a copy
        left out by policy (under the minimum: deferred or skipped; no room under the cap): that is
        the slave's place now. An order that failed, or a fill the slave did not trade on (paused,
        filtered...): a fault, the checks aim at the intended position. A fill that needed no order
        (a reduction of a position already under its intended one, a remainder under one step)
        keeps a deliberate gap deliberate, and a fault a fault."""
        reason = decision.skip.reason if decision.skip is not None else None
        if not all_sent or decision.lands is None or reason in FAULTS:
            self.settle(skey, None)
        elif decision.intents or reason in DELIBERATE or skey in self.slack:
            self.settle(skey, decision.lands)
        else:
            self.settle(skey, None)

    def settle(self, skey: Key, lands: Decimal | None) -> None:
        """The fill's orders all went through and leave the slave at `lands` (None: some failed, or
        none was due: the checks aim at the intended position itself)."""
        slack = ZERO if lands is None else lands - self.intended.get(skey, ZERO)
        if slack:
            self.slack[skey] = slack
        elif self.slack.pop(skey, None) is None:
            return
        if self.path is not None and self._timer is None:
            self._schedule()

    def aim(self, intended: Mapping[Key, Decimal]) -> dict[Key, Decimal]:
        """What a check aims at: `intended` (the moved intended positions) plus the slack of every
        position the move left unchanged."""
        out = dict(intended)
        for key, slack in self.slack.items():
            if intended.get(key, ZERO) == self.intended.get(key, ZERO):
                out[key] = out.get(key, ZERO) + slack
        return {key: v for key, v in out.items() if v}

    def at(self, master_now: Mapping[Key, Decimal], k: Sizing, reverse: bool) -> dict[Key, Decimal]:
        """The intended positions once moved to the master's positions `master_now` (no change kept)."""
        return advance(self.intended, self.master, master_now, k, reverse=reverse)

    def commit(self, intended: dict[Key, Decimal], master_now: Mapping[Key, Decimal]) -> None:
        self.slack = {key: v for key, v in self.slack.items() if intended.get(key, ZERO) == self.intended.get(key, ZERO)}
        self.intended = {key: v for key, v in intended.items() if v}
        self.master = {key: v for key, v in master_now.items() if v}
        if self.path is not None and self._timer is None:
            self._schedule()

    # -- persistence ---------------------------------------------------------------------------
    def _schedule(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a tool, a test): write now
            self.save_now()
            return
        self._timer = loop.call_later(SAVE_DELAY_S, self._save_soon)

    def _save_soon(self) -> None:
        self._timer = None
        if self._writing is not None and not self._writing.done():
            self._schedule()  # one write at a time, so an older one never lands after a newer one
            return
        assert self.path is not None
        data = encode_target(self.intended, self.master, self.ignored, self.slack)
        self._writing = asyncio.get_running_loop().run_in_executor(None, self._write, self.path, data)

    @staticmethod
    def _write(path: Path, data: bytes) -> None:
        try:
            write_atomic(path, data)
        except OSError as exc:
            log.error("cannot save the target to %s: %s", path, exc.strerror)

    def save_now(self) -> None:
        """Write the target at once (synchronously)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.path is not None:
            self._write(self.path, encode_target(self.intended, self.master, self.ignored, self.slack))


def book_for(slave: Any, market: str) -> TargetBook:
    """The target book of one market mirror: saved under the deployment's state dir."""
    app = getattr(slave, "app", None)
    if app is None:
        return TargetBook(None)
    return TargetBook(target_path(app.state_dir, slave.slave_id, market))
