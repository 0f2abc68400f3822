"""`slave-<id>`: one follower account, one uvloop process (`python -m actors.slave --config F --id ID`).

It decrypts only its own key, subscribes to the master listener(s) of the markets it copies, sizes
and sends each copy with its own key, follows its own user data, and PUSHes one report per decision
to the control actor. It never talks to another slave.

Ordering and recovery, per market:
- master events carry (epoch, seq). Fills are applied in seq order; different symbols run side by
  side (one worker per symbol), one symbol strictly in order.
- at start, after a sequence gap, a master restart or a missed event announced by a heartbeat, the
  slave stops taking new fills (they wait), lets in-flight orders finish, takes a fresh snapshot
  from the master and its own positions from REST, orders the difference (`reconcile_target`),
  and then resumes with the fills newer than the snapshot. Fills the snapshot already covers are
  reported as skipped ("covered by reconciliation"), never silently dropped.

Layout (the hot path first):
    mirror.py       MarketMirror: master events in, sequence check, per-symbol workers, the order out
    sync.py         (re)synchronisation, corrections, the periodic check (a mixin of MarketMirror)
    follow.py       forced closes, filter changes, leverage / margin type, flatten (a mixin)
    reports.py      one report per decision, and the market's status (a mixin)
    target_view.py  the one target as the mirror sees it (a mixin)
    rules.py        constants and small helpers
    markets.py      building and syncing the mirrors of the markets a slave copies
    process.py      Slave: sockets, mirrors, control events; main
    life.py         the process's life: config, key, start (retried), stop
"""

from __future__ import annotations

from .mirror import MarketMirror
from .process import Slave, main
from .rules import CAPITAL_RETRY_S, CAPITAL_RICHER, CAPITAL_SMALLER, now_ns

__all__ = ["CAPITAL_RETRY_S", "CAPITAL_RICHER", "CAPITAL_SMALLER", "MarketMirror", "Slave", "main", "now_ns"]
