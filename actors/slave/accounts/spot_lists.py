"""A spot slave's OCO copies (`orders = "mirror"`, actors/slave/order_lists.py): placed exactly once
by their `listClientOrderId` (`orderList.place.oco`, looked up with `orderList.status`, -2013 when
the list does not exist) and canceled as a list (`orderList.cancel`; one that is done already,
-2011, has each of its orders read back). Every order of the list that executed more than its
trades seen so far has the balances read from REST, as a single copy's cancel does (spot.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ...binance.errors import Rejected
from ...binance.orders import oco_params
from ...domain.orders import OrderIntent
from .execution import Executed, place_exactly_once

if TYPE_CHECKING:
    from .spot import SpotAccount


class OrderLists:
    """Mixin of SpotAccount."""

    order_lists = True  # cross margin (MarginAccount) has none: its OCO endpoint is not modelled

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
