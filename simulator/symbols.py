"""Symbol registry with Binance's filters (PRICE_FILTER, LOT_SIZE, MARKET_LOT_SIZE, NOTIONAL).

Filter semantics follow binance-spot-api-docs/filters.md. Validation raises Binance's own errors
(-1111 precision, -1013 "Filter failure: ..."). Futures symbols may be registered in the same
registry by the futures engine (`SymbolRegistry.add`, market="futures") or kept separately.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator import errors
from simulator.util import ZERO, decimals_of, fmt


@dataclass
class SymbolSpec:
    symbol: str
    base: str
    quote: str
    price: Decimal  # initial price
    tick_size: Decimal
    step_size: Decimal
    min_qty: Decimal
    max_qty: Decimal = Decimal("9000000")
    min_price: Decimal = Decimal("0.00000001")
    max_price: Decimal = Decimal("1000000")
    market_min_qty: Decimal = ZERO
    market_max_qty: Decimal = Decimal("100000000")
    min_notional: Decimal = Decimal("5")
    max_notional: Decimal = Decimal("9000000")
    apply_min_to_market: bool = True
    apply_max_to_market: bool = False
    base_precision: int = 8
    quote_precision: int = 8
    liquidity: Decimal = Decimal("1")  # base quantity available to resting orders per price step
    market: str = "spot"
    extra: dict[str, Any] = field(default_factory=dict)

    def filters(self) -> list[dict[str, Any]]:
        return [
            {
                "filterType": "PRICE_FILTER",
                "minPrice": fmt(self.min_price),
                "maxPrice": fmt(self.max_price),
                "tickSize": fmt(self.tick_size),
            },
            {"filterType": "LOT_SIZE", "minQty": fmt(self.min_qty), "maxQty": fmt(self.max_qty), "stepSize": fmt(self.step_size)},
            {"filterType": "ICEBERG_PARTS", "limit": 10},
            {
                "filterType": "MARKET_LOT_SIZE",
                "minQty": fmt(self.market_min_qty),
                "maxQty": fmt(self.market_max_qty),
                "stepSize": fmt(ZERO),
            },
            {
                "filterType": "TRAILING_DELTA",
                "minTrailingAboveDelta": 10,
                "maxTrailingAboveDelta": 2000,
                "minTrailingBelowDelta": 10,
                "maxTrailingBelowDelta": 2000,
            },
            {
                "filterType": "PERCENT_PRICE_BY_SIDE",
                "bidMultiplierUp": "5",
                "bidMultiplierDown": "0.2",
                "askMultiplierUp": "5",
                "askMultiplierDown": "0.2",
                "avgPriceMins": 5,
            },
            {
                "filterType": "NOTIONAL",
                "minNotional": fmt(self.min_notional),
                "applyMinToMarket": self.apply_min_to_market,
                "maxNotional": fmt(self.max_notional),
                "applyMaxToMarket": self.apply_max_to_market,
                "avgPriceMins": 5,
            },
            {"filterType": "MAX_NUM_ORDERS", "maxNumOrders": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "maxNumAlgoOrders": 5},
        ]

    def exchange_info(self) -> dict[str, Any]:
        """The symbol object of GET /api/v3/exchangeInfo."""
        return {
            "symbol": self.symbol,
            "status": "TRADING",
            "baseAsset": self.base,
            "baseAssetPrecision": self.base_precision,
            "quoteAsset": self.quote,
            "quotePrecision": self.quote_precision,
            "quoteAssetPrecision": self.quote_precision,
            "baseCommissionPrecision": self.base_precision,
            "quoteCommissionPrecision": self.quote_precision,
            "orderTypes": ["LIMIT", "LIMIT_MAKER", "MARKET", "STOP_LOSS", "STOP_LOSS_LIMIT", "TAKE_PROFIT", "TAKE_PROFIT_LIMIT"],
            "icebergAllowed": True,
            "ocoAllowed": True,
            "otoAllowed": True,
            "opoAllowed": False,
            "quoteOrderQtyMarketAllowed": True,
            "allowTrailingStop": True,
            "cancelReplaceAllowed": True,
            "amendAllowed": True,
            "pegInstructionsAllowed": False,
            "isSpotTradingAllowed": True,
            "isMarginTradingAllowed": True,
            "filters": self.filters(),
            "permissions": [],
            "permissionSets": [["SPOT", "MARGIN"]],
            "defaultSelfTradePreventionMode": "EXPIRE_MAKER",
            "allowedSelfTradePreventionModes": ["NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH", "DECREMENT"],
        }

    # -- validation (pure) ------------------------------------------------------------------------

    def check_precision(self, quantity: Decimal | None, price: Decimal | None) -> None:
        if quantity is not None and decimals_of(quantity) > self.base_precision:
            raise errors.bad_precision("quantity")
        if price is not None and decimals_of(price) > self.quote_precision:
            raise errors.bad_precision("price")

    def check_price(self, price: Decimal) -> None:
        if price < self.min_price or price > self.max_price or (price - self.min_price) % self.tick_size != 0:
            raise errors.filter_failure("PRICE_FILTER")

    def check_lot(self, quantity: Decimal, market: bool) -> None:
        if market:
            if quantity < self.market_min_qty or quantity > self.market_max_qty:
                raise errors.filter_failure("MARKET_LOT_SIZE")
        # LOT_SIZE applies to every order (MARKET_LOT_SIZE is an extra bound for market orders)
        if quantity < self.min_qty or quantity > self.max_qty or (quantity - self.min_qty) % self.step_size != 0:
            raise errors.filter_failure("LOT_SIZE")

    def check_notional(self, notional: Decimal, market: bool) -> None:
        if notional < self.min_notional and (self.apply_min_to_market or not market):
            raise errors.filter_failure("NOTIONAL")
        if notional > self.max_notional and (self.apply_max_to_market or not market):
            raise errors.filter_failure("NOTIONAL")

    def round_price(self, price: Decimal) -> Decimal:
        """Round a price to the tick size (for the price walk); never below one tick."""
        ticks = (price / self.tick_size).to_integral_value()
        return max(ticks, Decimal(1)) * self.tick_size


def _d(text: str) -> Decimal:
    return Decimal(text)


DEFAULT_SYMBOLS: tuple[SymbolSpec, ...] = (
    SymbolSpec(
        "BTCUSDT",
        "BTC",
        "USDT",
        _d("65000"),
        _d("0.01"),
        _d("0.00001"),
        _d("0.00001"),
        _d("9000"),
        min_price=_d("0.01"),
        max_price=_d("1000000"),
        market_max_qty=_d("120"),
        liquidity=_d("0.5"),
    ),
    SymbolSpec(
        "ETHUSDT",
        "ETH",
        "USDT",
        _d("3200"),
        _d("0.01"),
        _d("0.0001"),
        _d("0.0001"),
        _d("9000"),
        min_price=_d("0.01"),
        max_price=_d("1000000"),
        market_max_qty=_d("3000"),
        liquidity=_d("10"),
    ),
    SymbolSpec(
        "SOLUSDT",
        "SOL",
        "USDT",
        _d("150"),
        _d("0.01"),
        _d("0.001"),
        _d("0.001"),
        _d("90000"),
        min_price=_d("0.01"),
        max_price=_d("100000"),
        market_max_qty=_d("30000"),
        liquidity=_d("200"),
    ),
    SymbolSpec(
        "BNBUSDT",
        "BNB",
        "USDT",
        _d("600"),
        _d("0.01"),
        _d("0.001"),
        _d("0.001"),
        _d("90000"),
        min_price=_d("0.01"),
        max_price=_d("100000"),
        market_max_qty=_d("9000"),
        liquidity=_d("50"),
    ),
    SymbolSpec(
        "XRPUSDT",
        "XRP",
        "USDT",
        _d("0.6"),
        _d("0.0001"),
        _d("0.1"),
        _d("0.1"),
        _d("9222449"),
        min_price=_d("0.0001"),
        max_price=_d("1000"),
        market_max_qty=_d("2000000"),
        liquidity=_d("50000"),
    ),
    SymbolSpec(
        "DOGEUSDT",
        "DOGE",
        "USDT",
        _d("0.15"),
        _d("0.00001"),
        _d("1"),
        _d("1"),
        _d("9000000"),
        min_price=_d("0.00001"),
        max_price=_d("1000"),
        market_max_qty=_d("9000000"),
        liquidity=_d("200000"),
    ),
)


class SymbolRegistry:
    """Symbols per market ("spot" serves spot and cross margin; "futures" is the USD-M engine's)."""

    def __init__(self) -> None:
        self.specs: dict[tuple[str, str], SymbolSpec] = {}

    def add(self, spec: SymbolSpec) -> SymbolSpec:
        self.specs[(spec.market, spec.symbol)] = spec
        return spec

    def get(self, symbol: str, market: str = "spot") -> SymbolSpec:
        """The spec of a symbol in a market, or -1121 Invalid symbol."""
        spec = self.specs.get((market, symbol))
        if spec is None:
            raise errors.invalid_symbol()
        return spec

    def find(self, symbol: str, market: str = "spot") -> SymbolSpec | None:
        return self.specs.get((market, symbol))

    def by_market(self, market: str) -> list[SymbolSpec]:
        return [s for (m, _), s in self.specs.items() if m == market]

    def assets(self, market: str = "spot") -> set[str]:
        out: set[str] = set()
        for spec in self.by_market(market):
            out.add(spec.base)
            out.add(spec.quote)
        return out
