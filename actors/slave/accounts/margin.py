"""The slave's Cross Margin side: net positions, loans, margin level, and exactly-once orders.

State (ledger shared with spot, actors/slave/accounts/spot.py): per asset free, locked, borrowed, interest from
GET /sapi/v1/margin/account, moved once per trade by the FULL order reply or the slave's own
executionReport. The position of a symbol is the net base asset free + locked - borrowed -
interest (as the master's listener counts it). A MARGIN_BUY reply says what it borrowed
(`marginBuyBorrowAmount`/`Asset`): taken at once. What AUTO_REPAY repaid is not in the reply and
the user data stream carries no loans, so after an order with a side effect (or a balanceUpdate)
the account is re-read over REST in the background, at a moment when none of our orders is in
flight (so the read cannot miss or repeat one of them). Repaying moves free and borrowed together:
the net position, which is what the copy rules use, never depends on that read.

Orders: Binance has no WebSocket-API order method for margin, so they go over REST
(`POST /sapi/v1/margin/order`, newOrderRespType FULL, `sideEffectType` from the decision), exactly
once: on an unknown status the order is looked up with `GET /sapi/v1/margin/order` by
origClientOrderId (actors/slave/accounts/execution.py). User data: `MarginUserStream` (POST
/sapi/v1/userListenToken + `userDataStream.subscribe.listenToken` over the WebSocket API).
"""

from __future__ import annotations

import asyncio
import logging
from decimal import Decimal
from typing import Any

from ...binance import spot_api, wire
from ...binance.errors import BinanceAPIError
from ...binance.orders import order_params
from ...binance.userdata import MarginUserStream, SpotUserStream
from ...domain.decisions import OrderIntent, SlaveHolding
from .execution import Executed, place_exactly_once
from .spot import ZERO, Balance, BalanceAccount, taker_commission, with_avg_price
from .spot_lists import MarginOrderLists

log = logging.getLogger("copytrader.margin")

LOAN_REFRESH_DELAY_S = 0.2  # after an order with a side effect: let its stream events arrive first


class MarginAccount(MarginOrderLists, BalanceAccount):
    """One slave's cross margin account."""

    market = "margin"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.margin_level: Decimal | None = None
        self.loan_refreshes = 0
        self._loan_task: asyncio.Task[None] | None = None

    def _make_stream(self) -> SpotUserStream:
        return MarginUserStream(self.rest, self.ws, self._on_user_event, self.on_state)

    async def start(self) -> None:
        await super().start()
        try:  # the commission rate is on the spot account (the same fee tier applies to margin)
            self.buy_commission = taker_commission(await spot_api.account(self.rest, omit_zero=True))
        except BinanceAPIError as exc:
            log.warning("commission rate unknown (%s): corrective buys are not grossed up", exc)

    async def close(self) -> None:
        if self._loan_task is not None:
            self._loan_task.cancel()
        await super().close()

    # -- state from REST ------------------------------------------------------------------------
    async def _read_account(self) -> tuple[wire.BinanceMarginAccount, tuple[int, int]]:
        """The account and the read's window: (sent, arrived) in server time. The reply has no
        time of its own, so a trade of another order (a resting copy) inside the window may or
        may not be in it (the ledger asks for another read then)."""
        window = [0, 0]

        async def read() -> wire.BinanceMarginAccount:
            window[0] = self.rest.now_ms()
            acct = await spot_api.margin_account(self.rest)
            window[1] = self.rest.now_ms()
            return acct

        return await self.read_quietly(read), (window[0], window[1])

    def _take(self, acct: wire.BinanceMarginAccount, window: tuple[int, int]) -> None:
        rows = ((a.asset, a.free, a.locked, a.borrowed, a.interest) for a in acct.userAssets)
        self.ledger.set_from_rest(rows, window[0], window[1])
        self.margin_level = acct.marginLevel

    async def refresh(self) -> None:
        acct, window = await self._read_account()
        self._take(acct, window)
        await self.refresh_equity()

    def reread(self) -> None:
        self.schedule_loan_refresh()

    def schedule_loan_refresh(self) -> None:
        """Re-read loans (and everything else) over REST soon, between two of our orders."""
        if self._loan_task is None or self._loan_task.done():
            self._loan_task = asyncio.get_running_loop().create_task(self._refresh_loans())

    async def _refresh_loans(self) -> None:
        for _ in range(50):
            await asyncio.sleep(LOAN_REFRESH_DELAY_S)
            if self.in_flight:
                continue
            done = self.orders_done
            try:
                acct, window = await self._read_account()
            except Exception as exc:  # noqa: BLE001 - the next reconciliation reads it again
                log.warning("margin account refresh failed: %s", exc)
                return
            if self.in_flight or done != self.orders_done:
                continue  # one of our orders ran meanwhile: read again
            self._take(acct, window)
            self.loan_refreshes += 1
            return

    # -- views ------------------------------------------------------------------------------------
    def amount_of(self, bal: Balance) -> Decimal:
        return bal.net

    def values(self) -> tuple[Decimal, Decimal]:
        """(total assets, total liabilities) in the quote asset; assets without a price count 0."""
        assets = liabilities = ZERO
        for asset, bal in self.ledger.balances.items():
            price = self.price_of(asset)
            if price is None:
                continue
            assets += bal.total * price
            liabilities += (bal.borrowed + bal.interest) * price
        return assets, liabilities

    def holding(self, symbol: str, position_side: str) -> SlaveHolding:
        if symbol in self.filters:
            self.tracked.add(symbol)
        base = self.base_of(symbol)
        bal = self.ledger.holding(base) if base else Balance()
        assets, liabilities = self.values()
        return SlaveHolding(
            position=bal.net,
            free=bal.free,
            margin_level=self.margin_level,
            quote_free=self.ledger.holding(self.quote_asset).free,
            assets_value=assets,
            liabilities_value=liabilities,
        )

    # -- orders -----------------------------------------------------------------------------------
    def order_params(self, intent: OrderIntent) -> dict[str, Any]:
        return order_params(intent, self.filters.get(intent.symbol))

    async def execute(self, intent: OrderIntent) -> Executed:
        """Place one intent exactly once; apply its trades and loans."""
        params = self.order_params(intent)

        async def place() -> dict[str, Any]:
            return await spot_api.place_margin_order(self.rest, params)

        async def query() -> dict[str, Any]:
            return await spot_api.margin_order(self.rest, intent.symbol, intent.client_order_id)

        with self.placing(intent):
            done = await place_exactly_once(place, query, self.policy)
            complete = self.apply_reply(done.result)
            self._apply_borrow(done.result)
        if not complete:
            await self.refresh()  # found by lookup: no fills in it, REST has the balances
        elif params["sideEffectType"] != "NO_SIDE_EFFECT":
            self.schedule_loan_refresh()
        return with_avg_price(done)

    async def _cancel_request(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        """DELETE /sapi/v1/margin/order (no WebSocket API method for margin). Binance repays
        what a canceled MARGIN_BUY order borrowed and did not use (`autoRepayAtCancel`, default
        true): the loan read that follows takes it."""
        order = dict(await spot_api.cancel_margin_order(self.rest, symbol, client_order_id))
        self.schedule_loan_refresh()
        return order

    async def _order_request(self, symbol: str, client_order_id: str) -> dict[str, Any]:
        return dict(await spot_api.margin_order(self.rest, symbol, client_order_id))

    def _apply_borrow(self, order: dict[str, Any]) -> None:
        amount, asset = order.get("marginBuyBorrowAmount"), order.get("marginBuyBorrowAsset")
        if amount is None or not asset:
            return
        try:
            value = Decimal(str(amount))
        except ArithmeticError:
            return
        if value > 0:
            self.ledger.borrow(str(asset), value)

    def on_other_event(self, event: Any) -> None:
        if isinstance(event, wire.BinanceBalanceUpdate):
            # A repayment, a borrow or a transfer: the stream does not say which. REST does.
            self.schedule_loan_refresh()


__all__ = ["MarginAccount"]
