"""Admin API under `/_sim/` (JSON in, JSON out): accounts, keys, prices, order logs, faults.

Not part of Binance: tests and the demo drive the simulator with it. Errors answer HTTP 400 with
`{"error": "..."}` naming what is wrong. See README "Admin API" for the full reference.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import web

from simulator.accounts import DEFAULT_PERMISSIONS
from simulator.admin_faults import FaultAdmin
from simulator.admin_params import AdminError, _dec, _int, _json, _opt_str, _str
from simulator.util import fmt, now_ms

if TYPE_CHECKING:
    from simulator.core import Sim

AdminHandler = Callable[[dict[str, Any], dict[str, str]], Any]


class Admin(FaultAdmin):
    def __init__(self, sim: "Sim") -> None:
        self.sim = sim
        self.routes: list[tuple[str, str, AdminHandler]] = []
        r = self.routes.append
        r(("GET", "/_sim/health", self.health))
        r(("GET", "/_sim/accounts", self.list_accounts))
        r(("POST", "/_sim/accounts", self.create_account))
        r(("POST", "/_sim/keys", self.create_key))
        r(("POST", "/_sim/keys/revoke", self.revoke_key))
        r(("POST", "/_sim/keys/permissions", self.set_permissions))
        r(("POST", "/_sim/balances", self.set_balance))
        r(("GET", "/_sim/prices", self.get_prices))
        r(("POST", "/_sim/price", self.set_price))
        r(("POST", "/_sim/pause", self.pause))
        r(("POST", "/_sim/step", self.step))
        r(("GET", "/_sim/orders", self.orders))
        r(("GET", "/_sim/trades", self.trades))
        r(("GET", "/_sim/requests", self.requests))
        r(("GET", "/_sim/faults", self.get_faults))
        r(("POST", "/_sim/faults/latency", self.latency))
        r(("POST", "/_sim/faults/orders", self.order_faults))
        r(("POST", "/_sim/faults/rate", self.rate_faults))
        r(("POST", "/_sim/faults/stall", self.stall))
        r(("POST", "/_sim/faults/drop-user-data", self.drop_user_data))
        r(("POST", "/_sim/faults/expire-listen-key", self.expire_listen_key))
        r(("POST", "/_sim/faults/clear", self.clear_faults))

    def add(self, method: str, path: str, handler: AdminHandler) -> None:
        """Extra admin route (e.g. futures): `handler(body, query) -> JSON-able`, AdminError/ValueError -> 400."""
        if not path.startswith("/_sim/"):
            raise ValueError("admin paths start with /_sim/")
        self.routes.append((method, path, handler))

    def install(self, app: web.Application) -> None:
        for method, path, handler in self.routes:
            app.router.add_route(method, path, self._wrap(handler))

    @staticmethod
    def _wrap(handler: AdminHandler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            body: dict[str, Any] = {}
            if request.can_read_body:
                raw = await request.read()
                if raw.strip():
                    try:
                        body = orjson.loads(raw)
                    except orjson.JSONDecodeError as exc:
                        return _json({"error": f"invalid JSON body: {exc}"}, 400)
                    if not isinstance(body, dict):
                        return _json({"error": "JSON body must be an object"}, 400)
            try:
                result = handler(body, dict(request.query))
                if hasattr(result, "__await__"):
                    result = await result
            except (AdminError, ValueError) as exc:
                return _json({"error": str(exc)}, 400)
            except KeyError as exc:
                return _json({"error": str(exc.args[0]) if exc.args else "unknown key"}, 400)
            return _json(result)

        return handle

    # -- accounts and keys ---------------------------------------------------------------------------
    def health(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        return {
            "ok": True,
            "accounts": len(self.sim.store.accounts),
            "startedMs": self.sim.started_ms,
            "plugins": getattr(self.sim, "plugins", []),
            "history": self.sim.history.report(),
        }

    def _account_view(self, account_id: str) -> dict[str, Any]:
        acc = self.sim.store.account(account_id)
        return {
            "id": acc.id,
            "uid": acc.uid,
            "spot": {a: {"free": fmt(b.free), "locked": fmt(b.locked)} for a, b in sorted(acc.spot.items())},
            "margin": {
                a: {
                    "free": fmt(b.free),
                    "locked": fmt(b.locked),
                    "borrowed": fmt(b.borrowed),
                    "interest": fmt(b.interest),
                    "netAsset": fmt(b.net),
                }
                for a, b in sorted(acc.margin.items())
            },
            "futures": {a: fmt(v) for a, v in sorted(acc.futures_balances.items())},
            "keys": [
                {"apiKey": k.api_key, "type": k.key_type, "permissions": k.permissions, "revoked": k.revoked}
                for k in self.sim.store.keys.values()
                if k.account_id == acc.id
            ],
        }

    def list_accounts(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        if "account" in q:
            return self._account_view(q["account"])
        return [self._account_view(a) for a in self.sim.store.accounts]

    def _balances(self, body: dict[str, Any], name: str) -> dict[str, Decimal]:
        table = body.get(name) or {}
        if not isinstance(table, dict):
            raise AdminError(f"{name!r} must be an object of asset: amount")
        return {str(a).upper(): _dec(table, a) for a in table}

    def create_account(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        acc_id = _str(body, "id")
        self.sim.create_account(
            acc_id,
            self._balances(body, "spot"),
            self._balances(body, "margin"),
            self._balances(body, "futures"),
            body.get("futures_settings") or {},
        )
        for key in body.get("keys") or []:
            self.create_key({**key, "account": acc_id}, q)
        return self._account_view(acc_id)

    def create_key(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        perms = body.get("permissions") or {}
        if not isinstance(perms, dict):
            raise AdminError("'permissions' must be an object")
        key = self.sim.store.add_key(
            _str(body, "account"),
            _str(body, "api_key"),
            _str(body, "type", "HMAC"),
            _opt_str(body, "secret"),
            _opt_str(body, "public_key"),
            perms,
            created_ms=self.sim.started_ms,
        )
        return {"apiKey": key.api_key, "type": key.key_type, "account": key.account_id, "permissions": key.permissions}

    def _key(self, body: dict[str, Any]) -> Any:
        api_key = _str(body, "api_key")
        key = self.sim.store.keys.get(api_key)
        if key is None:
            raise AdminError("unknown api_key")
        return key

    def revoke_key(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        key = self._key(body)
        key.revoked = bool(body.get("revoked", True))
        return {"apiKey": key.api_key, "revoked": key.revoked}

    def set_permissions(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        key = self._key(body)
        perms = body.get("permissions")
        if not isinstance(perms, dict):
            raise AdminError("'permissions' must be an object")
        for name, value in perms.items():
            if name not in DEFAULT_PERMISSIONS:
                raise AdminError(f"unknown permission {name!r}")
            if not isinstance(value, bool):
                raise AdminError(f"permission {name!r} must be true or false")
        key.permissions.update(perms)
        return {"apiKey": key.api_key, "permissions": key.permissions}

    def set_balance(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        acc = self.sim.store.account(_str(body, "account"))
        market = _str(body, "market", "spot")
        asset = _str(body, "asset").upper()
        free = _dec(body, "free")
        if market in ("spot", "margin"):
            bal = acc.spot_balance(asset) if market == "spot" else acc.margin_balance(asset)
            delta = free - bal.free
            bal.free = free
            if market == "margin" and "borrowed" in body:
                bal.borrowed = _dec(body, "borrowed")
            if delta:  # like a deposit / withdrawal: balanceUpdate then outboundAccountPosition
                now = now_ms()
                if market == "spot":
                    acc.spot_updated_ms = now
                self.sim.hub.publish(acc.id, market, {"e": "balanceUpdate", "E": now, "a": asset, "d": fmt(delta), "T": now})
                self.sim.hub.publish(
                    acc.id,
                    market,
                    {"e": "outboundAccountPosition", "E": now, "u": now, "B": [{"a": asset, "f": fmt(bal.free), "l": fmt(bal.locked)}]},
                )
        elif market == "futures":
            acc.futures_balances[asset] = free
        else:
            raise AdminError("market must be spot, margin or futures")
        return self._account_view(acc.id)

    # -- prices -----------------------------------------------------------------------------------------
    def get_prices(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        prices = self.sim.prices
        return {
            "prices": {s: fmt(p) for s, p in prices.prices.items()},
            "paused": sorted(prices.paused),
            "allPaused": prices.all_paused,
            "steps": prices.steps,
        }

    def set_price(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        symbol = _str(body, "symbol").upper()
        price = _dec(body, "price")
        pause = body.get("pause")
        if pause is not None and not isinstance(pause, bool):
            raise AdminError("'pause' must be true or false")
        self.sim.prices.set_price(symbol, price, pause)
        return {"symbol": symbol, "price": fmt(self.sim.prices.price(symbol)), "paused": symbol in self.sim.prices.paused}

    def pause(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        symbol = _opt_str(body, "symbol")
        paused = body.get("paused", True)
        if not isinstance(paused, bool):
            raise AdminError("'paused' must be true or false")
        if symbol is not None and symbol.upper() not in self.sim.prices.prices:
            raise AdminError(f"unknown symbol {symbol!r}")
        self.sim.prices.pause(symbol.upper() if symbol else None, paused)
        return self.get_prices({}, {})

    def step(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        count = _int(body, "count", 1)
        if not 1 <= count <= 100000:
            raise AdminError("'count' must be 1..100000")
        for _ in range(count):
            self.sim.prices.step()
        return self.get_prices({}, {})

    # -- logs -------------------------------------------------------------------------------------------
    def _markets(self, q: dict[str, str]) -> list[Any]:
        market = q.get("market")
        if market is None:
            return list(self.sim.markets.values())
        if market not in self.sim.markets:
            raise AdminError(f"unknown market {market!r}; have {sorted(self.sim.markets)}")
        return [self.sim.markets[market]]

    def orders(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        account = q.get("account")
        rows = [row for engine in self._markets(q) for row in engine.admin_orders(account)]
        rows.sort(key=lambda r: r.get("arrivalNs", 0))
        return rows

    def trades(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        account = q.get("account")
        rows = [row for engine in self._markets(q) for row in engine.admin_trades(account)]
        rows.sort(key=lambda r: (r.get("time", 0), r.get("id", 0)))
        return rows

    def requests(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        account = q.get("account")
        return [
            {
                "arrivalNs": r.arrival_ns,
                "account": r.account_id,
                "apiKey": r.api_key,
                "endpoint": r.endpoint,
                "transport": r.transport,
                "params": r.params,
                "status": r.status,
                "errorCode": r.error_code,
                "orderId": r.order_id,
                "clientOrderId": r.client_order_id,
                "fault": r.fault,
            }
            for r in self.sim.order_log
            if account in (None, r.account_id)
        ]
