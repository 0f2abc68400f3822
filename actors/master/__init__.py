"""master-<market>: follows the master account's user data for one market and publishes it.

    python -m actors.master --config FILE --market usdm|spot|margin     (supervisord: master-<market>)

What it does (docs/ARCHITECTURE.md):
- unlocks the master's key (keystore record `[masters.<market>].account`), binds a PUB socket
  (`Endpoints.master_pub(market)`) and a ROUTER socket (`Endpoints.master_snapshot(market)`);
- starts the user data stream while buffering its events, and once it is connected rebuilds the
  state from REST, publishes `PositionSnapshot(reason="start")`, then drains the buffer (only
  events newer than the REST state are applied: see usdm_state.py, spot_state.py);
- publishes every master fill as a `MasterFill` with the position before and after it, config
  changes as `AccountConfigChanged`, a `Heartbeat` every second;
- after any reconnect of the stream: buffer, rebuild from REST, `PositionSnapshot(reason="reconnect")`,
  drain; every `poll_s` a cheap REST check (position mode, leverage, margin type, drift of
  positions confirmed on two polls in a row), and every `snapshot_interval_s` an equity refresh and
  a `PositionSnapshot(reason="periodic")` so late or lagging slaves converge.

Topics (protocol/topics.py): `master.<market>.fill|snapshot|config|hb`; subscribe to
`master.<market>.` for everything of one market. Snapshot requests: REQ or DEALER to the ROUTER,
`SnapshotRequest(id, market)` -> `SnapshotReply(id, snapshot)` or `Error` (NOT_READY before the first
rebuild, WRONG_MARKET, BAD_MESSAGE ...). A reply's snapshot has `seq` = the last number published
before it was taken, so a slave applies it and continues from `seq + 1`.

Logs: one INFO line per fill, nothing else on the hot path; never a secret.
"""

from __future__ import annotations

from typing import Any

__all__ = ["Adapter", "MasterActor", "Publisher", "SnapshotServer", "build_adapter", "main"]


def __getattr__(name: str) -> Any:  # imports nothing until asked: `python -m actors.master` stays lean
    if name in ("Adapter", "MasterActor"):
        from . import shell

        return getattr(shell, name)
    if name in ("Publisher", "SnapshotServer"):
        from . import publisher

        return getattr(publisher, name)
    if name in ("build_adapter", "main"):
        from . import process

        return getattr(process, name)
    raise AttributeError(name)
