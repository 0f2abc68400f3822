"""A spot or cross margin slave's OCO copies (`orders = "mirror"`, actors/slave/order_lists.py): placed exactly once
by their `listClientOrderId` (`orderList.place.oco`, looked up with `orderList.status`, -2013 when
the list does not exist) and canceled as a list (`orderList.cancel`; one that is done already,
-2011, has each of its orders read back). Every order of the list that executed more than its
trades seen so far has the balances read from REST, as a single copy's cancel does (spot.py).

Cross margin (`MarginOrderLists`) has no WebSocket API: its OCO goes over REST in the older form
(`POST /sapi/v1/margin/order/oco`, a LIMIT_MAKER and a STOP_LOSS(_LIMIT) only, looked up with
`GET /sapi/v1/margin/orderList`, canceled with `DELETE /sapi/v1/margin/orderList`), with the
`sideEffectType` of its orders; what it borrowed is taken from the reply, and the loans are read
again after it, as for a single margin order."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...binance import spot_api
from ...binance.errors import Rejected
from ...binance.orders import margin_oco_params, margin_oco_shaped, oco_params
from ...domain.orders import OrderIntent
from .execution import Executed, place_exactly_once

if TYPE_CHECKING:
    from .margin import MarginAccount
    from .spot import SpotAccount


class OrderLists:
    """Mixin of SpotAccount."""

    order_lists = True

    def oco_refusal(self, above: OrderIntent, below: OrderIntent) -> str:
        """Why this pair cannot be our OCO ("": it can)."""
        return ""

    async def place_oco(self: "SpotAccount", above: OrderIntent, below: OrderIntent, list_client_order_id: str) -> Executed:
        params = oco_params(above, below, list_client_order_id, self.filters.get(above.symbol))

        async def place() -> dict[str, Any]:
            return dict(await self.ws.request("orderList.place.oco", params))

        async def query() -> dict[str, Any]:
            return dict(await self.ws.request("orderList.status", {"origClientOrderId": list_client_order_id}))

        with self.placing(above), self.placing(below):  # neither order can trade when placed
            return await place_exactly_once(place, query, self.policy)

    async def cancel_list(self: "SpotAccount", symbol: str, list_client_order_id: str, client_order_ids: list[str]) -> None:
        try:
            reply = dict(await self.ws.request("orderList.cancel", {"symbol": symbol, "listClientOrderId": list_client_order_id}))
            reports = [dict(r) for r in reply.get("orderReports") or []]
        except Rejected as exc:
            if exc.code != -2011:
                raise
            reports = [await self._order_request(symbol, cid) for cid in client_order_ids]  # done already: how each ended
        await self.read_back(symbol, reports)


class MarginOrderLists:
    """Mixin of MarginAccount."""

    order_lists = True

    def oco_refusal(self, above: OrderIntent, below: OrderIntent) -> str:
        if margin_oco_shaped(above, below):
            return ""
        return f"cross margin has OCOs of a LIMIT_MAKER and a STOP_LOSS(_LIMIT) only, not {above.order_type} + {below.order_type}"

    async def place_oco(self: "MarginAccount", above: OrderIntent, below: OrderIntent, list_client_order_id: str) -> Executed:
        params = margin_oco_params(above, below, list_client_order_id, self.filters.get(above.symbol))

        async def place() -> dict[str, Any]:
            return dict(await spot_api.place_margin_oco(self.rest, params))

        async def query() -> dict[str, Any]:
            return dict(await spot_api.margin_order_list(self.rest, list_client_order_id))

        with self.placing(above), self.placing(below):
            done = await place_exactly_once(place, query, self.policy)
            self._apply_borrow(done.result)
        if params["sideEffectType"] != "NO_SIDE_EFFECT":
            self.schedule_loan_refresh()
        return done

    async def cancel_list(self: "MarginAccount", symbol: str, list_client_order_id: str, client_order_ids: list[str]) -> None:
        try:
            reply = dict(await spot_api.cancel_margin_order_list(self.rest, symbol, list_client_order_id))
            reports = [dict(r) for r in reply.get("orderReports") or []]
            self.schedule_loan_refresh()  # what a MARGIN_BUY list borrowed and did not use is repaid
        except Rejected as exc:
            if exc.code != -2011:
                raise
            reports = [await self._order_request(symbol, cid) for cid in client_order_ids]
        await self.read_back(symbol, reports)
