"""The chaos run's checks of what the operator sees: notifications (every fault that should alert did,
once per category), flapping slaves, and convergence after each fault.
"""

from __future__ import annotations

import re
import sqlite3
import statistics
from collections import Counter, defaultdict
from typing import Any

from protocol.codec import decode_slave_report
from protocol.messages import Reconciled
from tests.chaos.deploy import Service
from tests.chaos.faults import Fault

_CATEGORIES = (
    ("key_invalid", re.compile(r"key invalid|key refused")),
    # a spot/margin slave selling more base asset than it holds: a sizing bug, not capital
    ("sell_over_holding", re.compile(r"SELL [^:]*: -2010")),
    # the slave's account cannot carry the copy (capital, not a fault): a person must act
    ("insufficient_margin", re.compile(r"-2019|-2010|[Ii]nsufficient")),
    ("rate_limited", re.compile(r"-1003|request weight|-1015")),
    ("slave_died", re.compile(r"slave-\S+ died")),
    ("actor_died", re.compile(r"(master-\S+|control) died")),
    ("process_down", re.compile(r" is (FATAL|BACKOFF|EXITED)")),
    ("flapping", re.compile(r"is flapping")),
    ("order_rejected", re.compile(r"order rejected")),
    ("stream_lost", re.compile(r"stream lost")),
    ("desync", re.compile(r"desync found")),
)


FLAP_STARTS, FLAP_WINDOW_S = 3, 120.0  # actors/control/rules.py: this many starts within this window = flapping


def journal_rows(svc: Service, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(f"file:{svc.journal_path()}?mode=ro", uri=True, timeout=30)
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def alert_lines(summary: str) -> list[str]:
    """The alerts of one journalled notification: a grouped one lists them as "- ..." lines; a
    single one is its title and first body line (the body says why, e.g. the rejection code)."""
    lines = summary.splitlines()
    grouped = [ln[2:] for ln in lines[1:] if ln.startswith("- ")]
    return grouped or [" | ".join(lines[:2])]


def _category(line: str) -> str:
    return next((c for c, rx in _CATEGORIES if rx.search(line)), "other")


def flapped(done: list[Any]) -> set[str]:
    """Slaves the run itself killed FLAP_STARTS times within FLAP_WINDOW_S: control rightly calls
    them flapping (a person should look at a process that keeps dying)."""
    kills: dict[str, list[float]] = defaultdict(list)
    for f in done:
        if f.kind == "kill_slave":
            kills[f.target.removeprefix("slave-")].append(f.t_mono)
    return {s for s, ts in kills.items() if any(sum(1 for u in ts if t <= u <= t + FLAP_WINDOW_S) >= FLAP_STARTS for t in ts)}


def check_notifications(svc: Service, killed_slaves: set[str], revoked: set[str], flapping: set[str] = frozenset()) -> dict[str, Any]:
    """Alerts by category (one grouped message can hold many), and whether each fault that needs
    a person was told and no healed one was."""
    alerts: list[tuple[str, str]] = []
    messages = 0
    for (summary,) in journal_rows(svc, "SELECT summary FROM journal WHERE kind = 'notify'"):
        messages += 1
        for line in alert_lines(summary):
            alerts.append((_category(line), line[:200]))
    by_cat = Counter(c for c, _ in alerts)
    missing = [f"{s}: key_invalid" for s in sorted(revoked) if not any(c == "key_invalid" and s in line for c, line in alerts)]
    missing += [
        f"{s}: died" for s in sorted(killed_slaves - revoked) if not any(c == "slave_died" and f"slave-{s} " in line for c, line in alerts)
    ]
    # healed faults must not page anyone: anything not about a death, the revoked key, or the
    # revoked slave's own consequences is unexpected
    unexpected = [
        line
        for c, line in alerts
        if c not in ("key_invalid", "slave_died", "actor_died", "insufficient_margin")
        and not any(s in line for s in revoked)
        and not (c == "flapping" and any(f"slave-{s} " in line for s in flapping))
    ]
    return {"messages": messages, "alerts": len(alerts), "by_category": dict(by_cat), "missing": missing, "unexpected": unexpected}


CONVERGE_KINDS = {"kill_slave", "kill_master", "drop_user_data", "expire_listen_key", "ban_418"}


def convergence(svc: Service, faults: list[Fault], revoked: set[str]) -> dict[str, Any]:
    """Seconds from each fault to the first reconciliation (Reconciled journalled) of each slave it
    hit: the slave then holds k x the master's snapshot again."""
    recon: dict[tuple[str, str], list[int]] = defaultdict(list)
    for sid, market, ts, body in journal_rows(
        svc, "SELECT slave_id, market, ts_ms, body FROM journal WHERE kind = 'reconciled' ORDER BY id"
    ):
        try:
            r = decode_slave_report(body)
        except Exception:  # noqa: BLE001
            continue
        if isinstance(r, Reconciled) and r.master_epoch:  # a sync, not a periodic correction
            recon[(sid, market)].append(ts)
    samples: list[float] = []
    per_kind: dict[str, list[float]] = defaultdict(list)
    unconverged: list[str] = []
    for f in faults:
        if f.kind not in CONVERGE_KINDS or not f.t_wall:
            continue
        t = f.t_wall * 1000
        hit: list[tuple[str, str]] = []
        for cfg in svc.slaves:
            if cfg.id in revoked:
                continue
            for market in cfg.markets:
                if (
                    f.kind == "kill_slave"
                    and f.target == f"slave-{cfg.id}"
                    or f.kind == "kill_master"
                    and f.target == f"master-{market}"
                    or f.kind == "drop_user_data"
                    or f.kind in ("expire_listen_key", "ban_418")
                    and f.target == cfg.id
                ):
                    hit.append((cfg.id, market))
        for key in hit:
            after = [ts for ts in recon[key] if ts >= t]
            if not after:
                if f.kind not in ("ban_418", "expire_listen_key"):  # these may heal without a resync
                    unconverged.append(f"{key[0]}/{key[1]} after {f.kind} at {f.at_s:.0f}s")
                continue
            s = (min(after) - t) / 1000
            samples.append(s)
            per_kind[f.kind].append(s)

    def p50(xs: list[float]) -> float | None:
        return round(statistics.median(xs), 2) if xs else None

    return {
        "convergence_p50_s": p50(samples),
        "convergence_max_s": round(max(samples), 2) if samples else None,
        "convergence_samples": len(samples),
        "convergence_by_fault": {k: {"p50_s": p50(v), "max_s": round(max(v), 2), "n": len(v)} for k, v in per_kind.items()},
        "unconverged": unconverged,
    }
