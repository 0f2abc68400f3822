"""A slave's account on one market, behind one typed protocol: what the mirror may ask of it.

    usdm.py    UsdmAccount    USD-M futures (WS API orders, listenKey user data, positions per side)
    spot.py    SpotAccount    spot (WS API orders and user data; balances in a ledger)
    margin.py  MarginAccount  cross margin (REST orders with side effects; spot's ledger plus loans)
    execution.py              an order executes at most once whatever the exchange answers

The mirror (actors/slave/mirror.py) and its parts see only `Account`; what one market needs beyond
it (USD-M's `on_forced`, spot's `observe_master`) is wired where the mirror is built
(actors/slave/markets.py, rules.py).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from protocol.messages import Market, PositionKey, PositionMode, SlaveConfig

    from ...binance.filters import SymbolFilters
    from ...binance.wsapi import WsApiClient
    from ...domain.orders import OrderIntent, SlaveHolding
    from .execution import Executed


class Account(Protocol):
    """One market's account as the mirror uses it (each market's class satisfies it as it stands)."""

    market: Market
    ws: WsApiClient  # its order socket (`ws.connected` goes into the slave's status)
    filters: dict[str, SymbolFilters]  # symbol -> exchange filters
    equity_stale: bool  # equity moved in a way the account cannot value: read it again soon

    @property
    def equity(self) -> Decimal | None: ...  # in the quote asset; None before the first read

    async def start(self) -> None: ...
    async def close(self) -> None: ...
    async def refresh(self) -> None: ...  # balances / positions over REST
    async def refresh_filters(self) -> None: ...
    async def refresh_equity(self) -> None: ...
    def holding(self, symbol: str, position_side: str) -> SlaveHolding: ...
    def snapshot_positions(self) -> dict[PositionKey, Decimal]: ...
    async def align_position_mode(self, master_mode: PositionMode) -> str | None: ...
    async def align_symbol(self, symbol: str, leverage: int | None, margin_type: str | None, config: SlaveConfig) -> list[str]: ...
    async def execute(self, intent: OrderIntent) -> Executed: ...  # exactly once (execution.py)


__all__ = ["Account"]
