"""USD-M Algo Service endpoints (conditional orders), REST and WebSocket API, over `AlgoBook`.

Routes (USD-M change log 2025-11-06; parameters as the Postman collection's "New / Cancel / Query
Algo Order", "Cancel All Algo Open Orders", "Current All Algo Open Orders", "Query All Algo Orders";
weights as the official SDK's docstrings say):

- ``POST /fapi/v1/algoOrder`` / ``algoOrder.place``: 0 IP weight, 1 on the order counts;
- ``DELETE /fapi/v1/algoOrder`` / ``algoOrder.cancel`` (algoId or clientAlgoId): 1;
- ``DELETE /fapi/v1/algoOpenOrders`` (symbol): 1;
- ``GET /fapi/v1/algoOrder`` (algoId or clientAlgoId): 1;
- ``GET /fapi/v1/openAlgoOrders`` (symbol?, algoType?, algoId?): 1 with a symbol, 40 without;
- ``GET /fapi/v1/allAlgoOrders`` (symbol, algoId?, startTime?, endTime?, limit?): 5.

Untriggered algo orders cannot be modified (there is no endpoint for it). Trigger semantics and the
ALGO_UPDATE sequence: simulator/futures_algo.py.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.api import TRADE, USER_DATA, Ctx
from simulator.futures_algo import AlgoBook
from simulator.futures_algo_json import CANCEL_ALL_REPLY, cancel_algo_json, new_algo_json, query_algo_json
from simulator.futures_algo_model import ALGO_TYPE, parse_algo_params
from simulator.futures_json import _fail
from simulator.futures_model import FuturesReject
from simulator.params import Params

if TYPE_CHECKING:
    from simulator.core import Sim
    from simulator.futures_api import FuturesService

WS_PATH = "/ws-fapi/v1"
PERMISSION = "enableFutures"


class AlgoApi:
    """The handlers (one per endpoint, REST and WS API alike)."""

    def __init__(self, svc: "FuturesService") -> None:
        self.svc = svc
        self.book = AlgoBook(svc)

    def admin_algo_orders(self, body: dict[str, Any], query: dict[str, str]) -> list[dict[str, Any]]:
        """GET /_sim/algoOrders[?account=ID]: every algo order (open and the closed ones kept), as
        `GET /fapi/v1/algoOrder` shows it, with its account; no weight (admin)."""
        wanted = query.get("account")
        return [
            {"account": account_id, **query_algo_json(self._spec(a.symbol), a)}
            for account_id in sorted(self.book.orders)
            if wanted in (None, account_id)
            for a in self.book.of_account(account_id)
        ]

    def _account_id(self, ctx: Ctx) -> str:
        return self.svc.account(ctx.require_account()).account_id

    def _spec(self, symbol: str) -> Any:
        return self.svc.engine.spec(symbol)

    def new_algo_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        account_id = self._account_id(ctx)
        try:
            req = parse_algo_params(p.raw)
            algo = self.book.place(self.svc.engine.account(account_id), req)
        except FuturesReject as exc:
            raise _fail(exc) from None
        return new_algo_json(self._spec(algo.symbol), algo)

    @staticmethod
    def _ref(p: Params) -> tuple[int | None, str | None]:
        return p.opt_int("algoId"), p.get("clientAlgoId") or None

    def cancel_algo_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        account_id = self._account_id(ctx)
        try:
            algo = self.book.cancel(account_id, *self._ref(p))
        except FuturesReject as exc:
            raise _fail(exc) from None
        return cancel_algo_json(algo)

    def cancel_all_algo_orders(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        account_id = self._account_id(ctx)
        try:
            self.book.cancel_all(account_id, p.str("symbol").upper())
        except FuturesReject as exc:
            raise _fail(exc) from None
        return dict(CANCEL_ALL_REPLY)

    def query_algo_order(self, ctx: Ctx, p: Params) -> dict[str, Any]:
        account_id = self._account_id(ctx)
        try:
            algo = self.book.find(account_id, *self._ref(p))
        except FuturesReject as exc:
            raise _fail(exc) from None
        return query_algo_json(self._spec(algo.symbol), algo)

    def _symbol(self, p: Params, required: bool) -> str | None:
        raw = p.str("symbol") if required else p.get("symbol")
        if raw is None:
            return None
        try:
            self._spec(raw.upper())
        except FuturesReject as exc:
            raise _fail(exc) from None
        return raw.upper()

    def open_algo_orders(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account_id = self._account_id(ctx)
        symbol = self._symbol(p, required=False)
        algo_type = p.get("algoType")
        if algo_type not in (None, ALGO_TYPE):
            raise _fail(FuturesReject(-1130, "Data sent for parameter 'algoType' is not valid."))
        algo_id = p.opt_int("algoId")
        return [
            query_algo_json(self._spec(a.symbol), a)
            for a in self.book.of_account(account_id)
            if a.is_open and symbol in (None, a.symbol) and algo_id in (None, a.algo_id)
        ]

    def all_algo_orders(self, ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account_id = self._account_id(ctx)
        symbol = self._symbol(p, required=True)
        limit = min(p.opt_int("limit", 500) or 500, 1000)
        algo_id, start, end = p.opt_int("algoId"), p.opt_int("startTime"), p.opt_int("endTime")
        found = [
            a
            for a in self.book.of_account(account_id)
            if a.symbol == symbol
            and (algo_id is None or a.algo_id >= algo_id)
            and (start is None or a.create_time >= start)
            and (end is None or a.create_time <= end)
        ]
        chosen = found[:limit] if algo_id is not None else found[-limit:]
        return [query_algo_json(self._spec(a.symbol), a) for a in chosen]


def register(sim: "Sim") -> AlgoApi | None:
    """Declare the algo routes and WS-API methods; hook the book into prices and publishes."""
    svc: FuturesService | None = getattr(sim, "futures", None)
    if svc is None:  # no USD-M market: no Algo Service
        return None
    algo = AlgoApi(svc)
    sim.futures_algo = algo  # type: ignore[attr-defined]
    sim.on_tick(algo.book.on_prices)  # after the futures service's own hook: marks are current
    svc.publish_hooks.append(algo.book.watch)

    def route(method: str, path: str, handler: Any, security: str, weight: Any, ws: str | None = None, **kw: Any) -> None:
        sim.api.route(
            method,
            path,
            handler,
            ws=[(WS_PATH, ws)] if ws else [],
            security=security,
            weight=weight,
            permission=PERMISSION,
            market="futures",
            limiter="futures",
            **kw,
        )

    route("POST", "/fapi/v1/algoOrder", algo.new_algo_order, TRADE, 0, ws="algoOrder.place", order=True)
    route("DELETE", "/fapi/v1/algoOrder", algo.cancel_algo_order, TRADE, 1, ws="algoOrder.cancel")
    route("DELETE", "/fapi/v1/algoOpenOrders", algo.cancel_all_algo_orders, TRADE, 1)
    route("GET", "/fapi/v1/algoOrder", algo.query_algo_order, USER_DATA, 1)
    route("GET", "/fapi/v1/openAlgoOrders", algo.open_algo_orders, USER_DATA, lambda p: 1 if p.get("symbol") else 40)
    route("GET", "/fapi/v1/allAlgoOrders", algo.all_algo_orders, USER_DATA, 5)
    sim.admin.add("GET", "/_sim/algoOrders", algo.admin_algo_orders)
    return algo
