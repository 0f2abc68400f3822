"""The chaos run: the demo under supervisord, a master trading randomly, seeded faults; then it
checks that nothing was lost, doubled or left out of sync (see checks.py for the rules), and that
every corrective order followed a fault that explains it (corrections.py).

    scripts/chaos --seed S --duration SECONDS --slaves N --out FILE.json [--actions N] [--keep]

Exit code 0 only when lost, doubled, out_of_sync and unexplained corrections are all 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import math
import pathlib
import random
import shutil
import sys
import time
from collections import Counter
from typing import Any

import orjson

from simulator.trader import load_key
from tests.chaos import checks
from tests.chaos.corrections import check_corrections
from tests.chaos.deploy import Service
from tests.chaos.faults import Injector, schedule
from tests.chaos.orphans import check_orphans
from tests.chaos.trading import ChaosTrader
from tests.helpers.deploy import signed_get

log = logging.getLogger("chaos")


def pick_revoked(svc: Service, rng: random.Random) -> str:
    plain = [s.id for s in svc.slaves if s.markets == ("usdm",)]
    return rng.choice(plain or [s.id for s in svc.slaves])


async def trade_and_inject(svc: Service, args: argparse.Namespace, rng: random.Random) -> dict[str, Any]:
    slave_ids = [s.id for s in svc.slaves]
    revoked = pick_revoked(svc, rng)
    plan = schedule(rng, args.duration, slave_ids, revoked)
    copying = {sim_market: [s.id for s in svc.slaves if market in s.markets] for market, sim_market in checks.SIM_MARKET.items()}
    injector = Injector(svc, rng, plan, copying)
    api_key, secret = load_key(str(svc.sim_config), "master")
    trader = ChaosTrader(svc.url, api_key, secret, random.Random(args.seed * 7919 + 1))
    actions = args.actions or max(50, math.ceil(args.duration / 0.6))
    interval = args.duration / actions
    stop = asyncio.Event()
    t0 = time.monotonic()
    faults = asyncio.create_task(injector.run(t0, stop))
    steady = asyncio.create_task(injector.continuous(stop))
    try:
        await trader.run_for(actions, interval, stop)
    finally:
        stop.set()
        await asyncio.gather(faults, steady, return_exceptions=True)
    return {"injector": injector, "trader": trader, "revoked": revoked, "trading_s": time.monotonic() - t0, "actions": actions}


def settle(svc: Service, revoked: set[str], timeout: float) -> tuple[float, dict[str, Any], dict[str, Any]]:
    """Wait until every live slave runs and the positions check passes (or the timeout)."""
    t0 = time.monotonic()
    result: dict[str, Any] = {}
    summaries: dict[str, Any] = {}
    while True:
        try:
            summaries = {s.config.id: s for s in svc.list_slaves()}
            running = all(s.status is not None and s.status.state == "running" for sid, s in summaries.items() if sid not in revoked)
            result = checks.check_positions(svc, summaries, revoked)
            if not running:
                result["out_of_sync"] = result["out_of_sync"] or [{"what": "not every live slave is running"}]
            if running and not result["out_of_sync"]:
                break
        except Exception as exc:  # noqa: BLE001 - control restarting, a read timed out: try again
            log.info("settle: %s", exc)
            # the verdict is the LAST attempt's: a check that could not run is not a pass
            result = {"out_of_sync": [{"what": f"positions check failed: {exc}"}], "checked": 0, "self_reported_out_of_sync": []}
        if time.monotonic() - t0 > timeout:
            break
        time.sleep(3)  # poll interval of the settle loop (bounded by its timeout)
    return time.monotonic() - t0, summaries, result


def settle_orders(svc: Service, revoked: set[str], timeout: float) -> dict[str, Any]:
    """Wait until no live slave has an order open (the master's were all canceled), or the timeout."""
    t0 = time.monotonic()
    while True:
        try:
            found = check_orphans(svc, revoked)
        except Exception as exc:  # noqa: BLE001 - a read timed out: try again
            log.info("orphans: %s", exc)
            found = {"orphans": [{"what": f"orders check failed: {exc}"}], "master_open": -1}
        if (not found["orphans"] and found["master_open"] == 0) or time.monotonic() - t0 > timeout:
            return found
        time.sleep(2)  # poll interval (bounded by the timeout)


def run(args: argparse.Namespace) -> dict[str, Any]:
    rng = random.Random(args.seed)
    svc = Service(args.slaves, pathlib.Path(args.root) if args.root else None)
    print(f"chaos: seed {args.seed}, {len(svc.slaves)} slaves, {args.duration:.0f}s of trading; deployment in {svc.root}", flush=True)
    try:
        svc.start()
        trading_started = time.time()
        out = asyncio.run(trade_and_inject(svc, args, rng))
        injector: Injector = out["injector"]
        trader: ChaosTrader = out["trader"]
        revoked = injector.revoked
        svc.admin("POST", "/_sim/faults/clear", {})
        settle_s, summaries, pos = settle(svc, revoked, args.settle)
        if args.keep:
            dump_exchange_state(svc)
        orphans = settle_orders(svc, revoked, timeout=60.0)
        # first: it waits for copies a fault delayed past the end of trading, which the doubled check then counts too
        lost = checks.wait_lost(svc, {s: injector.revoked_at or 0.0 for s in revoked})
        doubled = checks.check_doubled(svc)
        rejected = checks.rejections(checks.journal_order_rows(svc))
        killed = {f.target.removeprefix("slave-") for f in injector.done if f.kind == "kill_slave"}
        notes = checks.check_notifications(svc, killed, revoked, checks.flapped(injector.done))
        conv = checks.convergence(svc, injector.done, revoked)
        corr = check_corrections(svc, injector.done, trading_started)
        triggered = Counter(r["fault"] for r in svc.admin("GET", "/_sim/requests") if r.get("fault"))
        faults = Counter(f.kind for f in injector.done)
        faults.update(injector.injected)
        revoked_state = summaries.get(out["revoked"])
        result: dict[str, Any] = {
            "seed": args.seed,
            "slaves": len(svc.slaves),
            "duration_s": round(out["trading_s"], 1),
            "master_actions": sum(trader.kinds.values()),
            "master_action_kinds": dict(trader.kinds),
            "master_actions_failed": trader.failed,
            "master_fills": lost["master_fills"],
            "master_fills_unpublished": lost["unpublished_fills"],
            "faults_injected": dict(sorted(faults.items())),
            "order_faults_triggered": dict(triggered),
            "fault_log": [{"at_s": f.at_s, "kind": f.kind, "target": f.target, "detail": f.detail} for f in injector.done],
            "lost": len(lost["lost"]),
            "doubled": len(doubled["doubled"]),
            "out_of_sync": len(pos.get("out_of_sync", [])) if pos else -1,
            # after the master's wind-down: copies and stops still open on a live slave, and the
            # master's own orders left (the wind-down failed)
            "orphan_orders": len(orphans["orphans"]),
            "master_orders_open_at_end": orphans["master_open"],
            "master_wind_down": trader.wound_down,
            "positions_checked": pos.get("checked", 0),
            "self_reported_out_of_sync": len(pos.get("self_reported_out_of_sync", [])),
            # under k x master because the account could not carry it (refused -2019 / BUY -2010 for
            # the gap, paged): not the copier's fault, not counted as out of sync
            "short_of_margin": len(pos.get("short_of_margin", [])),
            "rejections": rejected["by_code"],
            "executed_copies": doubled["executed_copies"],
            "decisions": lost["decisions"],
            "covered_by_master_snapshot": lost["covered_by_master_snapshot"],
            "settle_s": round(settle_s, 1),
            "convergence_p50_s": conv["convergence_p50_s"],
            "convergence_max_s": conv["convergence_max_s"],
            "convergence_samples": conv["convergence_samples"],
            "convergence_by_fault": conv["convergence_by_fault"],
            "unconverged": conv["unconverged"],
            # corrective orders by cause; each must follow a fault that explains it (target 0 unexplained)
            "corrections": corr["corrections"],
            "corrections_by_cause": corr["by_cause"],
            "corrections_explained_by": corr["explained_by"],
            "corrections_by_slave": corr["by_slave"],
            "unexplained_corrections": corr["unexplained"],
            "revoked_slave": out["revoked"],
            "revoked_slave_state": revoked_state.state if revoked_state else None,
            "notifications": notes,
            "details": {
                "lost": lost["lost"][:50],
                "doubled": doubled["doubled"][:50],
                "out_of_sync": pos.get("out_of_sync", [])[:50],
                "orphan_orders": orphans["orphans"][:50],
                "self_reported_out_of_sync": pos.get("self_reported_out_of_sync", [])[:50],
                "short_of_margin": pos.get("short_of_margin", [])[:50],
                "new_only_flat": pos.get("new_only_flat", [])[:50],
                "rejections": rejected["first"],
                "unexplained_corrections": corr["details"],
            },
        }
        result["passed"] = (
            result["lost"] == 0
            and result["doubled"] == 0
            and result["out_of_sync"] == 0
            and result["unexplained_corrections"] == 0
            and result["orphan_orders"] == 0
            and result["master_orders_open_at_end"] == 0
        )
        return result
    finally:
        svc.stop()
        if not args.keep:
            shutil.rmtree(svc.root, ignore_errors=True)


def dump_exchange_state(svc: Service) -> None:
    """--keep: the simulator's view of every account (positions, balances) and every order, in
    sim-state.json beside the logs, for a post-mortem once the simulator is gone."""
    state: dict[str, Any] = {"prices": svc.admin("GET", "/_sim/prices"), "accounts": {}}
    for account in ["master", *(s.id for s in svc.slaves)]:
        entry: dict[str, Any] = {}
        for name, path in (
            ("futures_account", "/fapi/v2/account"),
            ("spot_account", "/api/v3/account"),
            ("margin_account", "/sapi/v1/margin/account"),
        ):
            try:
                entry[name] = signed_get(svc, account, path)
            except Exception as exc:  # noqa: BLE001 - a revoked key, a market the account lacks
                entry[name] = {"error": str(exc)[:300]}
        for market in checks.SIM_MARKET.values():
            try:
                entry[f"orders_{market}"] = svc.admin("GET", f"/_sim/orders?account={account}&market={market}")
            except Exception as exc:  # noqa: BLE001
                entry[f"orders_{market}"] = {"error": str(exc)[:300]}
        state["accounts"][account] = entry
    path = svc.root / "sim-state.json"
    path.write_bytes(orjson.dumps(state, option=orjson.OPT_INDENT_2))
    log.info("exchange state kept in %s", path)


def summary_lines(r: dict[str, Any]) -> list[str]:
    n = r["notifications"]
    return [
        f"seed {r['seed']}: {r['slaves']} slaves, {r['duration_s']}s, {r['master_actions']} master actions, "
        f"{r['master_fills']} master fills ({r['master_fills_unpublished']} never published: master down)",
        f"faults injected: {', '.join(f'{k} {v}' for k, v in r['faults_injected'].items())}",
        f"order faults hit: {', '.join(f'{k} {v}' for k, v in r['order_faults_triggered'].items()) or 'none'}",
        f"lost {r['lost']}, doubled {r['doubled']}, out of sync {r['out_of_sync']} "
        f"(of {r['positions_checked']} positions; self-reported {r['self_reported_out_of_sync']}); settled in {r['settle_s']}s",
        f"orders: {r['master_action_kinds']}; wound down {r['master_wind_down']}; orphan orders {r['orphan_orders']}, "
        f"master's open at the end {r['master_orders_open_at_end']}",
        f"short of margin (refused for capital, paged; not out of sync): {r['short_of_margin']}; "
        f"rejections by code: {r['rejections'] or 'none'}",
        f"convergence after faults: p50 {r['convergence_p50_s']}s, max {r['convergence_max_s']}s "
        f"({r['convergence_samples']} samples; unconverged: {len(r['unconverged'])})",
        f"notifications: {n['messages']} messages, {n['by_category']}; missing {n['missing'] or 'none'}; unexpected {len(n['unexpected'])}",
        f"corrective orders: {r['corrections']} by cause {r['corrections_by_cause'] or 'none'}; explained by "
        f"{r['corrections_explained_by'] or 'none'}; unexplained {r['unexplained_corrections']}",
        f"revoked: {r['revoked_slave']} ({r['revoked_slave_state']})",
        "PASSED" if r["passed"] else "FAILED",
    ]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="scripts/chaos", description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of master trading")
    ap.add_argument("--slaves", type=int, default=20)
    ap.add_argument("--actions", type=int, default=None, help="master actions (default: one per 0.6 s)")
    ap.add_argument("--settle", type=float, default=150.0, help="seconds allowed to settle after trading")
    ap.add_argument("--out", default=None, help="write the result as JSON here")
    ap.add_argument("--root", default=None, help="deployment directory (default: a new one in /tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the deployment directory (logs, journal)")
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s", stream=sys.stderr)
    logging.getLogger("trader").setLevel(logging.WARNING)
    result = run(args)
    if args.out:
        pathlib.Path(args.out).write_bytes(orjson.dumps(result, option=orjson.OPT_INDENT_2))
    print("\n".join(summary_lines(result)), flush=True)
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
