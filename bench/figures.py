"""The benchmark's figures: each master fill matched to the copies the simulator received (ours and
the naive copier's), the hops of the hot path, and the figures and table a run prints and keeps.
"""

from __future__ import annotations

import os
import sys
from collections import defaultdict
from typing import Any

import msgspec

from actors.domain.decisions import client_order_id

from . import stats
from .options import BURST, Event, Options

# ------------------------------------------------------------------------------------------ matching


def _first_arrivals(requests: list[dict[str, Any]]) -> dict[tuple[str, str], int]:
    """(account, newClientOrderId) -> arrivalNs of the first order request carrying it."""
    out: dict[tuple[str, str], int] = {}
    for r in requests:
        cid = (r.get("params") or {}).get("newClientOrderId")
        if cid is None or r.get("account") is None:
            continue
        key = (r["account"], cid)
        if key not in out or r["arrivalNs"] < out[key]:
            out[key] = r["arrivalNs"]
    return out


def ours_copies(
    events: list[Event], slaves: list[str], requests: list[dict[str, Any]], trades: list[dict[str, Any]], orders: list[dict[str, Any]]
) -> tuple[list[stats.Copy], stats.Accounting]:
    arrivals = _first_arrivals(requests)
    fill_ns = {(t["account"], t["clientOrderId"]): t["arrivalNs"] for t in trades}
    master_fill = {int(t["orderId"]): t["arrivalNs"] for t in trades if t["account"] == "master"}
    executed: dict[str, list[str]] = defaultdict(list)
    for o in orders:
        if o["account"] in slaves and float(o.get("executedQty") or 0) > 0:
            executed[o["account"]].append(o["clientOrderId"])
    master_trade = {int(t["orderId"]): int(t["id"]) for t in trades if t["account"] == "master"}
    expected: dict[tuple[str, int], str] = {}
    copies = []
    for e in events:
        if e.trade_id == 0:  # no copy reported it: the exchange still knows the master's trade
            e = msgspec.structs.replace(e, trade_id=master_trade.get(e.order_id, 0))
        for s in slaves:
            cid = client_order_id(s, e.order_id, e.trade_id, 0, market="usdm", symbol=e.symbol)
            expected[(s, e.index)] = cid
            arr = arrivals.get((s, cid))
            if arr is None or not e.t_master_recv_ns:
                continue
            copies.append(
                stats.Copy(
                    slave=s,
                    event=e.index,
                    t_master_recv_ns=e.t_master_recv_ns,
                    t_arrival_ns=arr,
                    t_slave_fill_ns=fill_ns.get((s, cid)),
                    t_master_fill_ns=master_fill.get(e.order_id),
                )
            )
    accounting = stats.account(expected, executed)
    for slave, event in accounting.lost_pairs:  # why: did the order reach the exchange at all?
        cid = expected[(slave, event)]
        ev = next((e for e in events if e.index == event), None)
        print(
            f"lost: {slave} event {event} cid {cid} order request arrived: {(slave, cid) in arrivals}; "
            f"master order {ev.order_id if ev else '?'} trade {ev.trade_id if ev else '?'} {ev.symbol if ev else ''}",
            file=sys.stderr,
        )
    return copies, accounting


def naive_copies(events: list[Event], accounts: list[str], requests: list[dict[str, Any]]) -> list[stats.Copy]:
    arrivals = _first_arrivals(requests)
    out = []
    for e in events:
        cid = f"nv{e.order_id}-{e.trade_id}"
        for a in accounts:
            arr = arrivals.get((a, cid))
            if arr is not None:
                out.append(stats.Copy(slave=a, event=e.index, t_master_recv_ns=e.t_master_recv_ns, t_arrival_ns=arr))
    return out


def hop_breakdown(mirrored: list[Any], keys: set[tuple[int, int]]) -> dict[str, Any]:
    """Median per hop from the reports' stamps (us): master recv -> pub -> slave recv -> order sent -> acked;
    and, per master event, master recv -> the last slave's order sent by the slaves' own stamps (the
    fan-out as the followers saw it, beside the simulator's arrival stamps)."""
    hops: dict[str, list[float]] = defaultdict(list)
    last_sent: dict[tuple[int, int], float] = {}
    for m in mirrored:
        if (m.master_order_id, m.master_trade_id) not in keys or m.t_master_recv_ns is None:
            continue
        hops["master_recv_to_pub"].append((m.t_master_pub_ns - m.t_master_recv_ns) / 1000)
        hops["pub_to_slave_recv"].append((m.t_slave_recv_ns - m.t_master_pub_ns) / 1000)
        hops["slave_recv_to_order_sent"].append((m.t_order_sent_ns - m.t_slave_recv_ns) / 1000)
        hops["order_sent_to_acked"].append((m.t_order_acked_ns - m.t_order_sent_ns) / 1000)
        key = (m.master_order_id, m.master_trade_id)
        last_sent[key] = max(last_sent.get(key, 0.0), (m.t_order_sent_ns - m.t_master_recv_ns) / 1000)
    if last_sent:
        hops["fanout_last_by_slave_sent_stamp"] = list(last_sent.values())
    return {k: stats.as_dict(stats.summarize(v)) for k, v in hops.items()}


# ------------------------------------------------------------------------------------------ figures


def figures(opts: Options, ours: dict[str, Any], naive: dict[str, Any] | None) -> dict[str, Any]:
    n = opts.slaves
    by_phase: dict[str, list[stats.Copy]] = defaultdict(list)
    phase_of = {e.index: e.phase for e in ours["events"]}
    for c in ours["copies"]:
        by_phase[phase_of[c.event]].append(c)
    iso = by_phase["isolated"]
    out: dict[str, Any] = {"slaves": n, "events": len(ours["events"])}
    internal_iso = stats.summarize(stats.internal_us(iso))
    first_hop = internal_iso.p50 if n == 1 else stats.median(stats.per_slave_median_us(iso))
    fan_iso = stats.summarize(stats.fanout_last_us(iso, n))
    e2e_iso = stats.summarize(stats.end_to_end_us(iso))
    mem = ours["memory"]
    out.update(
        first_hop_p50_us=round(first_hop, 1) if first_hop is not None else None,
        fanout_last_p50_us=fan_iso.p50,
        fanout_last_p99_us=fan_iso.p99,
        end_to_end_p50_us=e2e_iso.p50,
        cpu_per_order_us=round(stats.median(ours["cpu_per_order_us"]) or 0, 1),
        uss_mb_per_slave=round((stats.median(m.uss_kib for m in mem.values()) or 0) / 1024, 1),
        uss_mb_max=round(max(m.uss_kib for m in mem.values()) / 1024, 1),
        rss_mb_per_slave=round((stats.median(m.rss_kib for m in mem.values()) or 0) / 1024, 1),
        pss_mb_total=round(sum(m.pss_kib for m in mem.values()) / 1024, 1),
        lost=ours["accounting"].lost,
        doubled=ours["accounting"].doubled,
        failed_reports=ours["failed"],
    )
    naive_fan = None
    if naive is not None:
        naive_fan = stats.summarize(stats.fanout_last_us(naive["copies"], n))
        out["naive_fanout_last_p50_us"] = naive_fan.p50
        out["naive_fanout_last_p99_us"] = naive_fan.p99
        out["naive_first_hop_p50_us"] = stats.median(stats.per_slave_median_us(naive["copies"]))
        out["speedup_vs_naive"] = stats.ratio(naive_fan.p50, fan_iso.p50)
        out["speedup_vs_naive_p99"] = stats.ratio(naive_fan.p99, fan_iso.p99)
    else:
        out.update(naive_fanout_last_p50_us=None, speedup_vs_naive=None)
    burst = by_phase["burst"]
    out["detail"] = {
        "failures": ours["failures"],
        "skips": ours["skips"],
        "isolated": {
            "internal_us": stats.as_dict(internal_iso),
            "fanout_last_us": stats.as_dict(fan_iso),
            "end_to_end_us": stats.as_dict(e2e_iso),
        },
        "burst": {
            "internal_us": stats.as_dict(stats.summarize(stats.internal_us(burst))),
            "fanout_last_us": stats.as_dict(stats.summarize(stats.fanout_last_us(burst, n))),
            "end_to_end_us": stats.as_dict(stats.summarize(stats.end_to_end_us(burst))),
        },
        "naive": None
        if naive is None
        else {
            "events": len(naive["events"]),
            "internal_us": stats.as_dict(stats.summarize(stats.internal_us(naive["copies"]))),
            "fanout_last_us": stats.as_dict(naive_fan) if naive_fan else None,
        },
        "hops_us": ours["breakdown"],
        "accounting": msgspec.structs.asdict(ours["accounting"]),
        "wall_s": ours["wall_s"],
        "cpu_per_order_us_max": round(max(ours["cpu_per_order_us"]), 1),
        "cpu_per_event_us": {k: round(v, 1) for k, v in ours["other_cpu_per_event_us"].items()},
        "threads": ours["threads"],
        "cpu_per_order_us_by_phase": {k: None if v is None else round(v, 1) for k, v in ours["cpu_by_phase"].items()},
        "slave_idle_cpu_us_per_s": round(stats.median(ours["idle_cpu_us_per_s"]) or 0, 1),
        # CPU other people's processes used while we measured (cores, averaged over the window)
        "foreign_cores_during_measurement": round(ours["foreign_cores"], 2),
        "load_avg": list(os.getloadavg()),
        "settings": {
            "isolated_events": sum(1 for e in ours["events"] if e.phase == "isolated"),
            "burst_events": sum(1 for e in ours["events"] if e.phase == "burst"),
            "burst_size": BURST,
            "warmup": opts.warmup,
            "key_type": opts.key_type,
            "simulator": "no rate limits, tick_interval 0, slippage 0",
            "keystore_kdf": "KdfParams.cheap()",
            "code": opts.code or "this tree",
        },
    }
    return out


def table(fig: dict[str, Any]) -> str:
    d = fig["detail"]
    rows = [("figure", "p50", "p90", "p99", "max")]
    for label, s in (
        ("internal, isolated (us)", d["isolated"]["internal_us"]),
        ("fan-out last, isolated (us)", d["isolated"]["fanout_last_us"]),
        ("end to end, isolated (us)", d["isolated"]["end_to_end_us"]),
        ("internal, bursts of 10 (us)", d["burst"]["internal_us"]),
        ("fan-out last, bursts (us)", d["burst"]["fanout_last_us"]),
        ("end to end, bursts (us)", d["burst"]["end_to_end_us"]),
    ):
        rows.append((label, *(str(s.get(k)) for k in ("p50", "p90", "p99", "max"))))
    if d["naive"] is not None:
        rows.append(("naive internal (us)", *(str(d["naive"]["internal_us"].get(k)) for k in ("p50", "p90", "p99", "max"))))
        if d["naive"]["fanout_last_us"]:
            rows.append(("naive fan-out last (us)", *(str(d["naive"]["fanout_last_us"].get(k)) for k in ("p50", "p90", "p99", "max"))))
    w = [max(len(r[i]) for r in rows) for i in range(5)]
    lines = ["  ".join(c.ljust(w[i]) if i == 0 else c.rjust(w[i]) for i, c in enumerate(r)) for r in rows]
    lines.append("")
    lines.append(
        f"slaves {fig['slaves']}  events {fig['events']}  first hop p50 {fig['first_hop_p50_us']} us  "
        f"lost {fig['lost']}  doubled {fig['doubled']}"
    )
    phase = d.get("cpu_per_order_us_by_phase") or {}
    lines.append(
        f"CPU per mirrored order per slave {fig['cpu_per_order_us']} us (max {d['cpu_per_order_us_max']}; "
        f"isolated {phase.get('isolated')}, bursts {phase.get('burst')})  "
        f"USS per slave {fig['uss_mb_per_slave']} MB (max {fig['uss_mb_max']})  "
        f"PSS all slaves {fig['pss_mb_total']} MB"
    )
    if fig.get("speedup_vs_naive") is not None:
        lines.append(f"naive fan-out last p50 {fig['naive_fanout_last_p50_us']} us: ours is {fig['speedup_vs_naive']}x faster")
    lines.append(
        f"load: 1-min average {d.get('load_avg_1m_at_start')} at start; other processes used "
        f"{d['foreign_cores_during_measurement']} of the 2 cores while we measured"
    )
    for who, per in d.get("threads", {}).items():
        lines.append(f"threads, {who}: " + ", ".join(f"{n} {v['cpu_us']} us / {v['scheduled_in']} runs" for n, v in per.items()))
    lines.append("hops (p50 us): " + ", ".join(f"{k} {v.get('p50')}" for k, v in d["hops_us"].items()))
    return "\n".join(lines)


def _failure_kinds(failed: list[Any]) -> dict[str, int]:
    """Refused / unknown copies by code and message, so a run that lost copies says why."""
    kinds: dict[str, int] = {}
    for f in failed:
        key = f"{f.error_code} {'unknown ' if f.status_unknown else ''}{f.error_msg[:80]}"
        kinds[key] = kinds.get(key, 0) + 1
    return dict(sorted(kinds.items(), key=lambda kv: -kv[1]))
