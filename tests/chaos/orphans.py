"""The chaos run's end state for orders: after the master's wind-down (trading.py cancels every
order it has open), no copy or stop of a live slave may be left open on the exchange."""

from __future__ import annotations

from typing import Any

from tests.chaos.deploy import Service

OPEN = ("NEW", "PARTIALLY_FILLED")
SIM_MARKET = {"usdm": "futures", "spot": "spot", "margin": "margin"}


def open_orders(svc: Service, account: str, market: str) -> list[dict[str, Any]]:
    """An account's open orders of a market (USD-M: its open algo orders too), from the simulator's
    admin listings: they cost no request weight (a signed read of every account's open orders
    would use up the IP's weight, which the slaves share)."""
    rows = [o for o in svc.admin("GET", f"/_sim/orders?account={account}&market={SIM_MARKET[market]}") if o.get("status") in OPEN]
    if market == "usdm":
        rows += [a for a in svc.admin("GET", f"/_sim/algoOrders?account={account}") if a.get("algoStatus") == "NEW"]
    return rows


def check_orphans(svc: Service, revoked: set[str]) -> dict[str, Any]:
    """After the master's wind-down (every order of its canceled): the orders still open on each
    live slave (a copy or a stop of ours left behind is an orphan) and on the master (should be
    none). A revoked slave is left out: its key can no longer cancel anything."""
    orphans: list[dict[str, Any]] = []
    master_open = 0
    for market in SIM_MARKET:
        master_open += len(open_orders(svc, "master", market))
        for cfg in svc.slaves:
            if cfg.id in revoked or market not in cfg.markets:
                continue
            for o in open_orders(svc, cfg.id, market):
                cid = o.get("clientOrderId") or o.get("clientAlgoId") or ""
                orphans.append(
                    {
                        "slave": cfg.id,
                        "market": market,
                        "symbol": o.get("symbol"),
                        "client_id": cid,
                        "type": o.get("type") or o.get("orderType"),
                    }
                )
    return {"orphans": orphans, "master_open": master_open}
