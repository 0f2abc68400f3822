"""The chaos run's end state for orders: after the master's wind-down (trading.py cancels every
order it has open), no copy or stop of a live slave may be left open on the exchange."""

from __future__ import annotations

from typing import Any

from tests.chaos.deploy import Service
from tests.helpers.deploy import signed_get

OPEN_ORDER_PATHS = {
    "usdm": ("/fapi/v1/openOrders", "/fapi/v1/openAlgoOrders"),
    "spot": ("/api/v3/openOrders",),
    "margin": ("/sapi/v1/margin/openOrders",),
}


def check_orphans(svc: Service, revoked: set[str]) -> dict[str, Any]:
    """After the master's wind-down (every order of its canceled): the orders still open on each
    live slave (a copy or a stop of ours left behind is an orphan) and on the master (should be
    none). A revoked slave is left out: its key can neither read nor cancel."""
    orphans: list[dict[str, Any]] = []
    master_open = 0
    for market, paths in OPEN_ORDER_PATHS.items():
        for path in paths:
            master_open += len(signed_get(svc, "master", path))
            for cfg in svc.slaves:
                if cfg.id in revoked or market not in cfg.markets:
                    continue
                for o in signed_get(svc, cfg.id, path):
                    cid = o.get("clientOrderId") or o.get("clientAlgoId") or ""
                    orphans.append({"slave": cfg.id, "market": market, "symbol": o.get("symbol"), "client_id": cid, "type": o.get("type")})
    return {"orphans": orphans, "master_open": master_open}
