"""The chaos run's corrective ("cr") orders, by cause, and which fault explains each one.

Every correction of a slave (tests/helpers/corrections.py: from the journal's reports in order,
plus the exchange's "cr" orders no report names) must follow a fault that explains it:

- before trading starts: the deployment's start (slaves align with what the master holds);
- cause "start" (a slave's first sync after it started): a SIGKILL of that slave;
- cause "restart" (the master's epoch changed): a SIGKILL of that market's master listener;
- cause "unreported" (at the exchange, never reported): a SIGKILL of that slave (it died before
  reporting) or of the control actor (the report was lost with it);
- any other cause (gap, reconnect, periodic, unclosed): a fault that hit that slave and market:
  a SIGKILL of it or of the market's master listener, dropped user-data streams (all), the
  master's stalled stream (all), that slave's expired listenKey, 418 ban or revoked key, an
  order fault the simulator injected into one of that slave's requests for that symbol (5xx,
  -1007, 429: /_sim/requests), or a copy of that symbol the exchange refused (journal `failed`).

A fault explains what follows it within EXPLAIN_WINDOW_S of its end (a periodic check runs on
the master's periodic snapshot, every 30 s by default; a resync after a ban waits for the ban).
Anything else is "unexplained": the copy of a fill was wrong by itself, or a check undid a
deliberate policy outcome. Target 0; the run fails on any.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import msgspec

from protocol.codec import decode_slave_report
from tests.chaos.checks import SIM_MARKET, journal_rows
from tests.chaos.deploy import Service
from tests.chaos.faults import BAN_S, STALL_S, Fault
from tests.helpers.corrections import (
    CORRECTION_PREFIX,
    PERIODIC,
    START,
    UNREPORTED,
    Correction,
    by_cause,
    classify,
    exchange_orders,
    unreported,
)

EXPLAIN_WINDOW_S = 75.0
ALL = None  # a fault that hits every slave / market / symbol


class Cause(msgspec.Struct, frozen=True, kw_only=True):
    """One fault, as far as it can explain corrections."""

    kind: str
    t0: float  # wall clock, seconds
    t1: float  # when its effect ended
    slave: str | None = ALL
    market: str | None = ALL
    symbol: str | None = ALL

    def hits(self, c: Correction, t: float) -> bool:
        return (
            self.t0 <= t <= self.t1 + EXPLAIN_WINDOW_S
            and self.slave in (ALL, c.slave_id)
            and self.market in (ALL, c.market)
            and self.symbol in (ALL, c.symbol)
        )


def compatible(cause: str, kind: str) -> bool:
    if cause == START:
        return kind == "kill_slave"
    if cause == "restart":
        return kind == "kill_master"
    if cause == UNREPORTED:
        return kind in ("kill_slave", "kill_control")
    return kind != "kill_control"


def fault_causes(done: list[Fault]) -> list[Cause]:
    out = []
    for f in done:
        t = f.t_wall
        match f.kind:
            case "kill_slave":
                out.append(Cause(kind=f.kind, t0=t, t1=t, slave=f.target.removeprefix("slave-")))
            case "kill_master":
                out.append(Cause(kind=f.kind, t0=t, t1=t, market=f.target.removeprefix("master-")))
            case "kill_control" | "drop_user_data":
                out.append(Cause(kind=f.kind, t0=t, t1=t))
            case "stall_stream":
                out.append(Cause(kind=f.kind, t0=t, t1=t + STALL_S))
            case "expire_listen_key":
                out.append(Cause(kind=f.kind, t0=t, t1=t, slave=f.target))
            case "ban_418":
                out.append(Cause(kind=f.kind, t0=t, t1=t + BAN_S, slave=f.target))
            case "revoke_key":
                out.append(Cause(kind=f.kind, t0=t, t1=float("inf"), slave=f.target))
    return out


def order_fault_causes(requests: list[dict[str, Any]], wall_minus_mono: float) -> list[Cause]:
    """Order faults the simulator injected (/_sim/requests rows with `fault`), per slave and symbol."""
    out = []
    for r in requests:
        if not r.get("fault") or not r.get("account"):
            continue
        t = r.get("arrivalNs", 0) / 1e9 + wall_minus_mono
        symbol = (r.get("params") or {}).get("symbol")
        out.append(Cause(kind=f"order_{r['fault']}", t0=t, t1=t, slave=r["account"], symbol=symbol or ALL))
    return out


def refused_copy_causes(svc: Service) -> list[Cause]:
    """Copies the exchange refused (journal `failed` with a master order): the slave is short of
    the copy rule until something corrects it."""
    return [
        Cause(kind="copy_refused", t0=ts / 1000, t1=ts / 1000, slave=sid, market=market, symbol=symbol)
        for ts, sid, market, symbol in journal_rows(
            svc, "SELECT ts_ms, slave_id, market, symbol FROM journal WHERE kind = 'failed' AND master_order_id > 0"
        )
    ]


def journal_corrections(svc: Service) -> list[Correction]:
    """Reported corrections with their cause, stamped with the journal's wall-clock time."""
    rows = journal_rows(svc, "SELECT ts_ms, body FROM journal WHERE kind IN ('desync', 'reconciled', 'mirrored', 'failed') ORDER BY id")
    reports, stamps = [], []
    for ts, body in rows:
        try:
            reports.append(decode_slave_report(body))
        except Exception:  # noqa: BLE001 - a row the checker cannot read is not a correction
            continue
        stamps.append(ts)
    return [msgspec.structs.replace(c, t_ms=stamps[c.report_index]) for c in classify(reports)]


def check_corrections(svc: Service, done: list[Fault], trading_started: float) -> dict[str, Any]:
    """{"corrections": n, "by_cause": {...}, "explained_by": {...}, "unexplained": n, "details": [...]}."""
    reported = journal_corrections(svc)
    found = list(reported)
    for cfg in svc.slaves:
        for market in cfg.markets:
            if market not in SIM_MARKET:
                continue
            mine = [c for c in reported if c.slave_id == cfg.id and c.market == market]
            found += unreported(exchange_orders(svc, cfg.id, market, CORRECTION_PREFIX), mine, slave_id=cfg.id, market=market)
    causes = fault_causes(done)
    causes += order_fault_causes(svc.admin("GET", "/_sim/requests"), time.time() - time.monotonic())
    causes += refused_copy_causes(svc)
    explained_by: Counter[str] = Counter()
    unexplained: list[Correction] = []
    for c in found:
        t = c.t_ms / 1000
        if t and t < trading_started:
            explained_by["deployment_start"] += 1
            continue
        why = next((x for x in causes if compatible(c.cause, x.kind) and x.hits(c, t)), None)
        if why is None:
            unexplained.append(c)
        else:
            explained_by[why.kind] += 1
    totals = Counter(c.cause for c in found)
    return {
        "corrections": len(found),
        "by_cause": dict(sorted(totals.items())),
        "by_slave": by_cause(found),
        "explained_by": dict(sorted(explained_by.items())),
        "unexplained": len(unexplained),
        "periodic": totals.get(PERIODIC, 0),
        "details": [
            {
                "slave": c.slave_id,
                "market": c.market,
                "symbol": c.symbol,
                "side": c.position_side,
                "order": f"{c.side} {c.qty}",
                "cause": c.cause,
                "accepted": c.accepted,
                "client_order_id": c.client_order_id,
                "ts_ms": c.t_ms,
            }
            for c in unexplained[:100]
        ],
    }
