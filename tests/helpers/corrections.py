"""Corrective ("cr") orders seen from outside the slave, counted per slave and by cause.

How a slave names its orders (actors/domain/decisions.py): a copy of a master fill has the client id "ct" +
24 chars (`client_order_id`), a correction "cr" + 24 chars (`reconcile_client_order_id`). The hash
covers the reconciliation round's nonce, so the cause cannot be read back from the id; it is read
from what the slave reports (protocol/messages.py), which one slave process pushes through one
socket, so per (slave, market) they arrive in the order it sent them:

- a resync (gap, master restart, reconnect of the master's or the slave's own stream, changed
  filters): `DesyncDetected(cause)`, its corrections (`OrderMirrored` / `OrderFailed` with a "cr"
  id and no master order), then `Reconciled(master_epoch != 0)`;
- the first sync of a (re)started slave: the same without `DesyncDetected` (cause "start");
- the periodic check: its corrections, then `Reconciled(master_epoch == 0)` (sent only when at
  least one correction was accepted);
- anything else (a flatten, a slave killed mid-round, a periodic check whose every correction
  was refused): corrections no round closes, cause "unclosed".

The exchange's order log is the truth the reports are checked against: a "cr" order at the
exchange that no report names (the slave died before reporting it) has cause "unreported".
`corrections` reads both; `explain` (tests/chaos) decides which ones a fault explains.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import msgspec

from protocol.messages import DesyncDetected, OrderFailed, OrderMirrored, Reconciled

CORRECTION_PREFIX = "cr"
COPY_PREFIX = "ct"
SIM_MARKET = {"usdm": "futures", "spot": "spot", "margin": "margin"}
# Causes: DesyncDetected's ("gap", "restart", "drift", "reconnect", "stale"), and ours.
START, PERIODIC, UNCLOSED, UNREPORTED = "start", "periodic", "unclosed", "unreported"


class Correction(msgspec.Struct, frozen=True, kw_only=True):
    slave_id: str
    market: str
    symbol: str
    position_side: str
    side: str
    qty: Decimal
    client_order_id: str
    cause: str
    accepted: bool  # the exchange took it (OrderMirrored); False: refused or status unknown
    t_ns: int = 0  # when the slave sent it (monotonic ns; 0 when unreported)
    report_index: int = -1  # position in the reports given to `classify` (-1: unreported)
    t_ms: int = 0  # wall clock: the exchange's order time (unreported), or set by the caller

    def describe(self) -> str:
        return (
            f"{self.slave_id}/{self.market} {self.cause}: {self.side} {self.qty} {self.symbol} "
            f"{self.position_side} ({self.client_order_id}{'' if self.accepted else ', refused'})"
        )


def is_correction(report: Any) -> bool:
    return (
        isinstance(report, (OrderMirrored, OrderFailed))
        and not report.master_order_id
        and str(report.client_order_id or "").startswith(CORRECTION_PREFIX)
    )


def classify(reports: Iterable[Any]) -> list[Correction]:
    """Every corrective order in `reports` (one deployment's, in arrival order) with its cause."""
    pending: dict[tuple[str, str], list[tuple[int, Any]]] = {}
    context: dict[tuple[str, str], str] = {}  # the resync cause of the round now open
    out: list[tuple[int, Correction]] = []

    def close(key: tuple[str, str], cause: str) -> None:
        for index, r in pending.pop(key, []):
            out.append((index, _correction(r, cause, index)))

    for index, r in enumerate(reports):
        market = getattr(r, "market", None)
        if market is None:
            continue
        key = (r.slave_id, market)
        if isinstance(r, DesyncDetected):
            close(key, UNCLOSED)  # a round that never said it ended (refused periodic corrections)
            context[key] = r.cause
        elif is_correction(r):
            pending.setdefault(key, []).append((index, r))
        elif isinstance(r, Reconciled):
            if r.master_epoch:
                close(key, context.pop(key, START))
            else:
                close(key, PERIODIC)
    for key in list(pending):
        close(key, UNCLOSED)
    return [c for _, c in sorted(out, key=lambda ic: ic[0])]


def _correction(r: Any, cause: str, index: int) -> Correction:
    return Correction(
        slave_id=r.slave_id,
        market=r.market,
        symbol=r.symbol or "",
        position_side=r.position_side or "BOTH",
        side=r.side or "",
        qty=r.qty,
        client_order_id=r.client_order_id or "",
        cause=cause,
        accepted=isinstance(r, OrderMirrored),
        t_ns=r.t_order_sent_ns,
        report_index=index,
    )


def exchange_orders(sim: Any, account: str, market: str, prefix: str) -> list[dict[str, Any]]:
    """The account's orders at the simulator (/_sim/orders) whose client id starts with `prefix`
    (`sim`: anything with the simulator's `admin(method, path)`: SimProcess, the chaos Service)."""
    return [
        o
        for o in sim.admin("GET", f"/_sim/orders?account={account}&market={SIM_MARKET[market]}")
        if str(o.get("clientOrderId", "")).startswith(prefix)
    ]


def unreported(exchange: Iterable[dict[str, Any]], reported: Iterable[Correction], *, slave_id: str, market: str) -> list[Correction]:
    """Corrective orders at the exchange that no report named (one per order the exchange holds
    beyond the reports of its client id)."""
    named = Counter(c.client_order_id for c in reported)
    out = []
    for o in exchange:
        cid = str(o.get("clientOrderId", ""))
        if named[cid] > 0:
            named[cid] -= 1
            continue
        out.append(
            Correction(
                slave_id=slave_id,
                market=market,
                symbol=str(o.get("symbol", "")),
                position_side=str(o.get("positionSide") or "BOTH"),
                side=str(o.get("side", "")),
                qty=Decimal(str(o.get("origQty", "0"))),
                client_order_id=cid,
                cause=UNREPORTED,
                accepted=str(o.get("status", "")) not in ("REJECTED", "EXPIRED"),
                t_ms=int(o.get("time") or 0),
            )
        )
    return out


def corrections(sim: Any, reports: Iterable[Any], slaves: Iterable[tuple[str, Iterable[str]]]) -> list[Correction]:
    """Reported corrections (with their cause) plus the exchange's "cr" orders nobody reported,
    for `slaves` = (slave id, markets) pairs."""
    found = classify(reports)
    out = list(found)
    for sid, markets in slaves:
        for market in markets:
            mine = [c for c in found if c.slave_id == sid and c.market == market]
            out += unreported(exchange_orders(sim, sid, market, CORRECTION_PREFIX), mine, slave_id=sid, market=market)
    return out


def by_cause(found: Iterable[Correction]) -> dict[str, dict[str, int]]:
    """{slave id: {cause: count}}."""
    out: dict[str, Counter[str]] = {}
    for c in found:
        out.setdefault(c.slave_id, Counter())[c.cause] += 1
    return {sid: dict(sorted(n.items())) for sid, n in sorted(out.items())}


def deployment_corrections(dep: Any) -> list[Correction]:
    """Every corrective order of a tests/helpers/deploy.Deployment (collector + exchange)."""
    assert dep.collector is not None, "with_control: read the journal instead"
    with dep.collector._lock:
        reports = list(dep.collector.reports)
    return corrections(dep.sim, reports, [(s.id, s.markets) for s in dep.slaves])


def assert_no_corrections(dep: Any, what: str = "") -> None:
    """No slave of `dep` sent a corrective order (reported or at the exchange): where no fault was
    injected, every fill's copy must be right by itself."""
    found = deployment_corrections(dep)
    assert not found, (
        f"{len(found)} corrective order(s){' ' + what if what else ''} where no fault explains "
        f"one, by cause {by_cause(found)}:\n" + "\n".join(c.describe() for c in found[:20])
    )


def assert_explained(dep: Any, causes: dict[str, set[str]], at_most: dict[str, int] | None = None, what: str = "") -> list[Correction]:
    """Every corrective order of `dep` is explained by the fault the test injected: its slave is
    in `causes` with the cause among those allowed for it, and (if `at_most` names the slave) the
    slave sent no more of them than the fault can explain. Returns the corrections."""
    found = deployment_corrections(dep)
    bad = [c for c in found if c.cause not in causes.get(c.slave_id, set())]
    assert not bad, f"{len(bad)} corrective order(s) {what} no injected fault explains (allowed {causes}):\n" + "\n".join(
        c.describe() for c in bad[:20]
    )
    counts = Counter(c.slave_id for c in found)
    over = {sid: n for sid, n in counts.items() if at_most is not None and sid in at_most and n > at_most[sid]}
    assert not over, f"more corrective orders {what} than the fault explains: {over} (at most {at_most}):\n" + "\n".join(
        c.describe() for c in found[:20]
    )
    return found
