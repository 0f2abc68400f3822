"""The chaos run's "lost" check (checks.py describes it), and when it may count a master trade as
covered by a slave's later synchronisation although the journal has no row of the trade itself.

The journal is written by the control actor. While it is down (the `kill_control` fault), what the
master listener publishes and what the slaves report does not reach it: a slave's reports wait in
its queue, and are lost with the slave if it is killed before control is back. A trade of that
window then has no `master.fill` row and no decision, although the master may have published it
and the slave decided it. The evidence that remains is in the rows around it: the master's
publications are numbered (epoch, seq) in the order of the stream, so the first journalled fill
whose trade came after it, (E, S), was published after it; a slave's synchronisation to a master
snapshot of epoch E and seq >= S - 1 brought it to the master's positions as of a moment after the
trade (seq S - 1 is the trade itself, or the snapshot of the REST rebuild a master that missed the
trade made before it published again). As coverage.py does for the fills it knows, such a synchronisation covers the
trade only if the slave did not decide, in between, a later fill of the same symbol: a live slave
decides a symbol's fills in order, so one that decided a later fill and not this one dropped it.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any, NamedTuple

import msgspec

from actors.domain.orders import client_order_id
from tests.chaos.deploy import Service

from .alerts import journal_rows

SIM_MARKET = {"usdm": "futures", "spot": "spot", "margin": "margin"}


class Published(NamedTuple):
    """A journalled master fill: its publication number and its trade."""

    epoch: int
    seq: int
    trade_time_ms: int
    symbol: str
    order_id: int
    trade_id: int


def covered_by_later_sync(
    trade_ms: int, symbol: str, published: list[Published], syncs: list[tuple[int, int]], decided: set[tuple[str, int, int]]
) -> bool:
    """Whether a slave's synchronisation (`syncs`: the (epoch, seq) of each master snapshot it
    reconciled to) covers a trade at `trade_ms` on `symbol` that has no journal row, given the
    market's journalled fills and the slave's own decisions ((symbol, order id, trade id): mirrored,
    skipped or failed; a "covered" row is a reconciliation's, not the slave's). Epochs are
    random ids, not ordered: only a synchronisation in the epoch of the first journalled fill
    after the trade counts."""
    later = [p for p in published if p.trade_time_ms > trade_ms]
    if not later:
        return False
    first = min(later, key=lambda p: (p.trade_time_ms, p.seq))
    for epoch, seq in syncs:
        if epoch != first.epoch or seq < first.seq - 1:
            continue
        dropped = any(
            p.symbol == symbol and p.epoch == epoch and p.seq <= seq and (p.symbol, p.order_id, p.trade_id) in decided for p in later
        )
        if not dropped:
            return True
    return False


# How long after trading stops a slave may still decide a master fill: an order whose status
# came back unknown (timeout, 5xx) is sent again only once the original can no longer execute,
# recvWindow (5 s) + 1 s after the answer, plus the lookups and a restarted slave's start.
LATE_DECISION_S = 30.0


def wait_lost(svc: Service, revoked_at: dict[str, float], timeout: float = LATE_DECISION_S) -> dict[str, Any]:
    """`check_lost`, read again while it finds a fill undecided, until `timeout`: a copy that a
    fault delayed is decided after trading stopped (the positions check may already pass, within
    its tolerance), and is not lost. A fill still undecided at the timeout is."""
    deadline = time.monotonic() + timeout
    while True:
        result = check_lost(svc, revoked_at)
        if not result["lost"] or time.monotonic() > deadline:
            return result
        time.sleep(2)  # poll interval (bounded by the timeout)


def check_lost(svc: Service, revoked_at: dict[str, float]) -> dict[str, Any]:
    fill_rows = journal_rows(svc, "SELECT market, symbol, master_order_id, master_trade_id, body FROM journal WHERE kind = 'master.fill'")
    published = {(r[0], r[1], r[2], r[3]) for r in fill_rows}
    numbered = defaultdict(list)  # market -> its journalled fills with their (epoch, seq)
    for market, symbol, oid, tid, body in fill_rows:
        b = msgspec.msgpack.decode(body) if body else {}
        numbered[market].append(Published(b.get("epoch", 0), b.get("seq", 0), b.get("trade_time_ms", 0), symbol, oid, tid))
    decided: dict[tuple[str, str], set[tuple[str, int, int]]] = defaultdict(set)
    live: dict[tuple[str, str], set[tuple[str, int, int]]] = defaultdict(set)
    by_kind: Counter[str] = Counter()
    for kind, sid, market, symbol, oid, tid in journal_rows(
        svc,
        "SELECT kind, slave_id, market, symbol, master_order_id, master_trade_id FROM journal "
        "WHERE kind IN ('mirrored', 'skipped', 'failed', 'covered') AND master_order_id > 0",
    ):
        decided[(sid, market)].add((symbol, oid, tid))
        if kind != "covered":
            live[(sid, market)].add((symbol, oid, tid))  # decided by the slave itself, not by a reconciliation
        by_kind[kind] += 1
    snaps = defaultdict(list)
    for market, ts, summary in journal_rows(svc, "SELECT market, ts_ms, summary FROM journal WHERE kind = 'master.snap'"):
        if "(start)" in summary or "(reconnect)" in summary:
            snaps[market].append(ts)
    recon = defaultdict(list)
    syncs = defaultdict(list)  # (slave, market) -> the (epoch, seq) of each master snapshot it reconciled to
    for sid, market, ts, body in journal_rows(svc, "SELECT slave_id, market, ts_ms, body FROM journal WHERE kind = 'reconciled'"):
        recon[(sid, market)].append(ts)
        b = msgspec.msgpack.decode(body) if body else {}
        if b.get("master_epoch"):
            syncs[(sid, market)].append((b["master_epoch"], b.get("master_seq", 0)))
    lost: list[dict[str, Any]] = []
    fills = 0
    unpublished = 0
    covered_by_master = 0
    covered_by_sync = 0
    for market, sim_market in SIM_MARKET.items():
        trades = svc.admin("GET", f"/_sim/trades?account=master&market={sim_market}")
        fills += len(trades)
        slaves = [c.id for c in svc.slaves if market in c.markets]
        placed = {sid: {o["clientOrderId"] for o in svc.admin("GET", f"/_sim/orders?account={sid}&market={sim_market}")} for sid in slaves}
        for t in trades:
            key = (t["symbol"], int(t["orderId"]), int(t["id"]))
            was_published = (market, *key) in published
            unpublished += not was_published
            for sid in slaves:
                if key in decided[(sid, market)] or client_order_id(sid, key[1], key[2], 0, market=market, symbol=key[0]) in placed[sid]:
                    continue
                if sid in revoked_at and t["time"] >= revoked_at[sid] * 1000 - 5000:
                    continue  # the revoked slave stopped (it must have notified instead)
                if not was_published:
                    snap = next((s for s in sorted(snaps[market]) if s >= t["time"] - 1000), None)
                    if snap is not None and any(r >= snap for r in recon[(sid, market)]):
                        covered_by_master += 1
                        continue
                    if covered_by_later_sync(t["time"], key[0], numbered[market], syncs[(sid, market)], live[(sid, market)]):
                        covered_by_sync += 1  # no journal row of it (control was down): lost.py
                        continue
                lost.append(
                    {
                        "slave": sid,
                        "market": market,
                        "symbol": key[0],
                        "order_id": key[1],
                        "trade_id": key[2],
                        "published": was_published,
                        "time": t["time"],
                    }
                )
    return {
        "lost": lost,
        "master_fills": fills,
        "unpublished_fills": unpublished,
        "covered_by_master_snapshot": covered_by_master,
        "covered_by_later_sync": covered_by_sync,
        "decisions": dict(by_kind),
    }
