"""The futures service's admin listings and filter changes (the simulator's /sim routes, via sim.markets)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import msgspec

from .futures_json import order_query


class _FuturesAdmin:
    """The part of `FuturesService` (futures_api.py) named in this module's docstring; `FuturesService` inherits it."""

    # -- admin listings (sim.markets) -----------------------------------------------------------------
    def admin_orders(self, account_id: str | None) -> list[dict[str, Any]]:
        out = []
        for acct in self.engine.accounts.values():
            if account_id in (None, acct.account_id):
                for o in acct.orders.values():
                    arrival_ns, transport = self.arrivals.get(o.order_id, (0, ""))
                    out.append(
                        {
                            "accountId": acct.account_id,
                            "account": acct.account_id,
                            "market": "futures",
                            "arrivalNs": arrival_ns,
                            "transport": transport,
                            **order_query(self.engine, o),
                        }
                    )
        return out

    def admin_set_filters(self, body: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
        """POST /_sim/futures/symbol {symbol, step_size?, min_qty?, tick_size?, min_notional?}:
        change a symbol's filters now (exchangeInfo and order checks follow at once), as Binance
        does now and then."""
        symbol = str(body.get("symbol", "")).upper()
        spec = self.engine.spec(symbol)
        fields = ("step_size", "min_qty", "tick_size", "min_notional", "market_min_qty")
        changes = {k: Decimal(str(body[k])) for k in fields if k in body}
        if "step_size" in changes:
            step = changes["step_size"]
            changes.setdefault("min_qty", max(spec.min_qty, step))
            changes.setdefault("market_min_qty", max(spec.market_min_qty, step))
            changes["quantity_precision"] = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[assignment]
        if "tick_size" in changes:
            changes["price_precision"] = max(0, -changes["tick_size"].normalize().as_tuple().exponent)  # type: ignore[assignment]
        self.engine.symbols[symbol] = msgspec.structs.replace(spec, **changes)
        return {"symbol": symbol, **{k: str(v) for k, v in changes.items()}}

    def admin_trades(self, account_id: str | None) -> list[dict[str, Any]]:
        return [t for t in self.trades if account_id in (None, t["account"])]
