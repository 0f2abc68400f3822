"""A slave's USD-M conditional orders on Binance's Algo Service (the copies of the master's
stops, `protective = "mirror"`, actors/slave/protective.py): place exactly once by clientAlgoId,
cancel, read the status, and cancel what a triggered one left working. A mixin of UsdmAccount."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ...binance import usdm_api, wire
from ...binance.errors import BinanceAPIError, OrderNotFound, Rejected
from ...binance.orders import algo_order_params
from ...domain.protective import GuardIntent
from .execution import Executed, place_exactly_once

if TYPE_CHECKING:
    from .usdm import UsdmAccount

log = logging.getLogger("copytrader.usdm")


class AlgoOrders:
    algo_status: dict[str, str]  # clientAlgoId -> last known status of our conditional orders

    async def place_algo(self: "UsdmAccount", intent: GuardIntent) -> Executed:
        """Place one conditional order exactly once (a status-unknown answer is followed by a
        lookup by its clientAlgoId before anything is sent again)."""
        params = algo_order_params(intent, self.filters.get(intent.symbol), position_mode=self.position_mode)

        async def place() -> dict[str, Any]:
            return wire.convert(await self.rest.signed("POST", usdm_api.ALGO_ORDER_PATH, params), dict)

        async def query() -> dict[str, Any]:
            return wire.convert(await self.rest.signed("GET", usdm_api.ALGO_ORDER_PATH, {"clientAlgoId": intent.client_algo_id}), dict)

        return await place_exactly_once(place, query, self.policy)

    async def cancel_algo(self: "UsdmAccount", client_algo_id: str) -> str:
        """Cancel one of our conditional orders; its status when this returns: CANCELED, or what
        it had become when the cancel came too late (TRIGGERING, TRIGGERED, FINISHED...), or
        "UNKNOWN" when the exchange knows no such order; "" when its end is not established (a
        cancel refused twice while the order is still open: the caller keeps it as a leftover)."""
        status = ""
        for _attempt in (1, 2):
            try:
                await usdm_api.cancel_algo_order(self.rest, client_algo_id)
                status = "CANCELED"
            except Rejected:  # not open (triggered, done, never placed), or refused: read what it is
                status = await self.algo_state(client_algo_id)
            if status != "NEW":
                break
            status = ""  # still open: the cancel was refused (a 5xx, 503...), not done: tried again, else not established
        if status:
            self.algo_status[client_algo_id] = status
        return status

    async def cancel_triggered(self: "UsdmAccount", symbol: str, client_algo_id: str) -> str:
        """Our conditional order triggered and its order still works (a STOP / TAKE_PROFIT limit
        resting): cancel that order, apply what it executed; the algo order's status after."""
        try:
            algo = await usdm_api.algo_order(self.rest, client_algo_id)
            actual = int(algo.actualOrderId or 0)
        except (BinanceAPIError, ValueError) as exc:
            log.warning("our triggered conditional order %s not read: %s", client_algo_id, exc)
            return ""
        if actual:
            try:
                try:
                    order = await self.ws.cancel_order(symbol, order_id=actual)
                except Rejected as exc:
                    if exc.code != -2011:  # -2011: done meanwhile, read it
                        raise
                    order = await self.ws.order_status(symbol, order_id=actual)
            except BinanceAPIError as exc:
                log.warning("cancel of order %d (our triggered %s) failed: %s", actual, client_algo_id, exc)
                return ""
            self.apply_order(order)
        return await self.algo_state(client_algo_id) or "FINISHED"

    async def algo_state(self: "UsdmAccount", client_algo_id: str) -> str:
        """The Algo Service's status of one of our conditional orders ("UNKNOWN": none such; ""
        when it could not be read now: a timeout, a reply without the fields)."""
        try:
            return (await usdm_api.algo_order(self.rest, client_algo_id)).algoStatus or "UNKNOWN"
        except OrderNotFound:
            return "UNKNOWN"
        except (BinanceAPIError, ValueError) as exc:  # status unknown, or msgspec's ValidationError
            log.warning("status of our conditional order %s not read: %s", client_algo_id, exc)
            return ""
