"""The admin API's fault routes (split from admin.py): latency, order and rate faults, stalls,
dropped user-data streams, expired listen keys."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.admin_params import AdminError, _int, _num, _opt_str, _str
from simulator.faults import TRANSPORTS, OrderFault, RateFault

if TYPE_CHECKING:
    from simulator.core import Sim


class FaultAdmin:
    sim: "Sim"

    # -- faults -----------------------------------------------------------------------------------------
    def get_faults(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        f = self.sim.faults
        return {
            "latency": f.latency,
            "orderFaults": [vars(x) for x in f.order_faults],
            "rateFaults": [vars(x) for x in f.rate_faults],
            "stalls": {str(k): v for k, v in f.stalls.items()},
        }

    def latency(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        transport = _str(body, "transport")
        if transport not in TRANSPORTS:
            raise AdminError(f"'transport' must be one of {TRANSPORTS}")
        self.sim.faults.latency[transport] = _num(body, "seconds")
        return self.get_faults({}, q)

    def _account_filter(self, body: dict[str, Any]) -> tuple[str | None, str | None]:
        api_key = _opt_str(body, "api_key")
        account = _opt_str(body, "account")
        if api_key is not None and api_key not in self.sim.store.keys:
            raise AdminError("unknown api_key")
        if account is not None and account not in self.sim.store.accounts:
            raise AdminError(f"unknown account {account!r}")
        return api_key, account

    def order_faults(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        api_key, account = self._account_filter(body)
        kind = _str(body, "kind", "5xx")
        status = _int(body, "http_status", 408 if kind == "timeout" else 503)
        if kind == "5xx" and not 500 <= status <= 599:
            raise AdminError("'http_status' must be 5xx for kind 5xx")
        executed = body.get("executed", False)
        if not isinstance(executed, bool):
            raise AdminError("'executed' must be true or false")
        market = _opt_str(body, "market")
        delay = body.get("delay_s", 0)
        if isinstance(delay, bool) or not isinstance(delay, (int, float)) or delay < 0:
            raise AdminError("'delay_s' must be a number of seconds >= 0")
        if delay and not executed:
            raise AdminError("'delay_s' needs 'executed': true")
        self.sim.faults.add_order_fault(OrderFault(_int(body, "count", 1), kind, status, executed, api_key, account, market, float(delay)))
        return self.get_faults({}, q)

    def rate_faults(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        api_key, account = self._account_filter(body)
        status = _int(body, "status", 429)
        if status not in (429, 418):
            raise AdminError("'status' must be 429 or 418")
        count = _int(body, "count", 1)
        if count < 1:
            raise AdminError("'count' must be >= 1")
        self.sim.faults.rate_faults.append(RateFault(count, status, _int(body, "retry_after", 5), api_key, account))
        return self.get_faults({}, q)

    def stall(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        _, account = self._account_filter(body)
        self.sim.faults.stall(_num(body, "seconds"), account)
        return self.get_faults({}, q)

    def drop_user_data(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        _, account = self._account_filter(body)
        return {"closed": self.sim.faults.drop_user_data(account)}

    def expire_listen_key(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        _, account = self._account_filter(body)
        return {"expired": self.sim.faults.expire_listen_keys(_opt_str(body, "listen_key"), account)}

    def clear_faults(self, body: dict[str, Any], q: dict[str, str]) -> Any:
        self.sim.faults.clear()
        for limiter in self.sim.limiters.values():
            limiter._banned_until.clear()
        return self.get_faults({}, q)
