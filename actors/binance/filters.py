"""Symbol trading rules from exchangeInfo, and Decimal rounding/formatting to them (pure).

Sources (../shared/binance-reference/): spot `binance-spot-api-docs/filters.md` (PRICE_FILTER,
LOT_SIZE, MARKET_LOT_SIZE, MIN_NOTIONAL with `applyToMarket`, NOTIONAL with `applyMinToMarket` /
`applyMaxToMarket`; any PRICE_FILTER/LOT_SIZE value 0 disables that rule); USD-M futures
`GET /fapi/v1/exchangeInfo` (same PRICE_FILTER / LOT_SIZE / MARKET_LOT_SIZE shapes, MIN_NOTIONAL
with `notional`, applied to every order except reduce-only ones: error -4164 "Order's notional
must be no smaller than %s (unless you choose reduce only)",
`thirdparty-coincise-scrape/docs/binance/usdm/error_codes.md`).

MARKET orders must pass LOT_SIZE and MARKET_LOT_SIZE; spot's MARKET_LOT_SIZE often has
stepSize/minQty "0" (rule disabled), so `market_rules` combines both into one `QtyRules`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

import msgspec

ZERO = Decimal(0)


class ExchangeInfoError(ValueError):
    """A symbol entry of exchangeInfo that cannot be parsed; names the symbol and field."""


class SymbolFilters(msgspec.Struct, frozen=True, kw_only=True):
    """The rules we need for one symbol. Zero means "rule disabled" (Binance's convention)."""

    symbol: str
    base_asset: str
    quote_asset: str
    status: str = "TRADING"
    tick_size: Decimal = ZERO  # PRICE_FILTER tickSize
    min_price: Decimal = ZERO  # PRICE_FILTER minPrice
    max_price: Decimal = ZERO  # PRICE_FILTER maxPrice
    step_size: Decimal = ZERO  # LOT_SIZE stepSize
    min_qty: Decimal = ZERO  # LOT_SIZE minQty
    max_qty: Decimal = ZERO  # LOT_SIZE maxQty
    market_step_size: Decimal = ZERO  # MARKET_LOT_SIZE stepSize
    market_min_qty: Decimal = ZERO  # MARKET_LOT_SIZE minQty
    market_max_qty: Decimal = ZERO  # MARKET_LOT_SIZE maxQty
    min_notional: Decimal = ZERO  # spot NOTIONAL/MIN_NOTIONAL minNotional; futures MIN_NOTIONAL notional
    apply_min_to_market: bool = True  # spot NOTIONAL applyMinToMarket / MIN_NOTIONAL applyToMarket
    max_notional: Decimal = ZERO  # spot NOTIONAL maxNotional
    apply_max_to_market: bool = False  # spot NOTIONAL applyMaxToMarket
    min_notional_exempt_reduce_only: bool = False  # futures: reduce-only orders skip MIN_NOTIONAL


class QtyRules(msgspec.Struct, frozen=True):
    """Effective quantity rules for MARKET orders (LOT_SIZE and MARKET_LOT_SIZE combined)."""

    step: Decimal  # 0: any precision
    min_qty: Decimal  # 0: none
    max_qty: Decimal  # 0: none


def market_rules(f: SymbolFilters) -> QtyRules:
    """Combine LOT_SIZE and MARKET_LOT_SIZE: coarser step, larger minimum, smaller maximum."""
    step = max(f.step_size, f.market_step_size)
    if f.step_size and f.market_step_size and (f.market_step_size % f.step_size or f.step_size % f.market_step_size):
        # Steps that do not divide each other never happen on Binance; be safe: use their product.
        step = f.step_size * f.market_step_size
    maxes = [q for q in (f.max_qty, f.market_max_qty) if q > 0]
    return QtyRules(step=step, min_qty=max(f.min_qty, f.market_min_qty), max_qty=min(maxes) if maxes else ZERO)


def market_min_notional(f: SymbolFilters) -> Decimal:
    """The min notional a MARKET order must meet (0 when the filter does not apply to MARKET)."""
    return f.min_notional if f.apply_min_to_market else ZERO


# --------------------------------------------------------------------------- rounding


def round_qty_down(qty: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of `step` <= qty (for qty >= 0). step 0: qty unchanged."""
    if not step:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_FLOOR) * step


def round_qty_up(qty: Decimal, step: Decimal) -> Decimal:
    """Smallest multiple of `step` >= qty. step 0: qty unchanged."""
    if not step:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_CEILING) * step


def round_qty_nearest(qty: Decimal, step: Decimal) -> Decimal:
    """Nearest multiple of `step` (halves away from zero). step 0: qty unchanged."""
    if not step:
        return qty
    return (qty / step).to_integral_value(rounding=ROUND_HALF_UP) * step


def round_price(price: Decimal, tick: Decimal, rounding: str = ROUND_HALF_UP) -> Decimal:
    """Price to a multiple of `tick` (nearest by default; pass ROUND_FLOOR/ROUND_CEILING to
    round a buy down / a sell up). tick 0: price unchanged."""
    if not tick:
        return price
    return (price / tick).to_integral_value(rounding=rounding) * tick


def format_decimal(value: Decimal, step: Decimal | None = None) -> str:
    """Plain decimal string for the wire: never an exponent ("1E-5" -> "0.00001").

    Without `step`: trailing zeros removed ("0.0100" -> "0.01", "100" stays "100"). With
    `step`: exactly the step's precision ("0.015" with step "0.00100000" -> "0.015", "1" with
    step "0.01" -> "1.00"), after checking the value has no finer digits.
    """
    if not value.is_finite():
        raise ValueError(f"cannot format {value} for the exchange")
    if step is not None and step:
        exponent = step.normalize().as_tuple().exponent
        assert isinstance(exponent, int)
        places = max(0, -exponent)
        quantum = Decimal(1).scaleb(-places)
        try:
            out = value.quantize(quantum)
        except InvalidOperation:
            raise ValueError(f"cannot format {value} to step {step}") from None
        if out != value:
            raise ValueError(f"{value} has more precision than step {step}")
    else:
        out = value.normalize()
    text = format(out, "f")
    if text.startswith("-") and out == 0:
        text = text[1:]
    return text


# --------------------------------------------------------------------------- exchangeInfo parsing


def _dec(raw: Mapping[str, Any], key: str, symbol: str, default: Decimal = ZERO) -> Decimal:
    value = raw.get(key)
    if value is None:
        return default
    try:
        out = Decimal(str(value))
    except InvalidOperation:
        raise ExchangeInfoError(f"{symbol}: {raw.get('filterType')}.{key} = {value!r} is not a decimal") from None
    if not out.is_finite() or out < 0:
        raise ExchangeInfoError(f"{symbol}: {raw.get('filterType')}.{key} = {value!r} out of range")
    return out


def _parse_symbol(raw: Mapping[str, Any], futures: bool) -> SymbolFilters:
    symbol = raw.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise ExchangeInfoError(f"symbol entry without a symbol name: keys {sorted(raw)[:8]}")
    base, quote = raw.get("baseAsset"), raw.get("quoteAsset")
    if not isinstance(base, str) or not isinstance(quote, str):
        raise ExchangeInfoError(f"{symbol}: baseAsset/quoteAsset missing")
    fields: dict[str, Any] = {
        "symbol": symbol,
        "base_asset": base,
        "quote_asset": quote,
        "status": str(raw.get("status", "TRADING")),
        "min_notional_exempt_reduce_only": futures,
    }
    filters = raw.get("filters", [])
    if not isinstance(filters, list):
        raise ExchangeInfoError(f"{symbol}: filters is not a list")
    for flt in filters:
        if not isinstance(flt, Mapping):
            raise ExchangeInfoError(f"{symbol}: a filter is not an object")
        kind = flt.get("filterType")
        if kind == "PRICE_FILTER":
            fields["tick_size"] = _dec(flt, "tickSize", symbol)
            fields["min_price"] = _dec(flt, "minPrice", symbol)
            fields["max_price"] = _dec(flt, "maxPrice", symbol)
        elif kind == "LOT_SIZE":
            fields["step_size"] = _dec(flt, "stepSize", symbol)
            fields["min_qty"] = _dec(flt, "minQty", symbol)
            fields["max_qty"] = _dec(flt, "maxQty", symbol)
        elif kind == "MARKET_LOT_SIZE":
            fields["market_step_size"] = _dec(flt, "stepSize", symbol)
            fields["market_min_qty"] = _dec(flt, "minQty", symbol)
            fields["market_max_qty"] = _dec(flt, "maxQty", symbol)
        elif kind == "MIN_NOTIONAL" and futures:
            fields["min_notional"] = _dec(flt, "notional", symbol)
            fields["apply_min_to_market"] = True
        elif kind == "MIN_NOTIONAL":  # spot, legacy
            fields["min_notional"] = _dec(flt, "minNotional", symbol)
            fields["apply_min_to_market"] = bool(flt.get("applyToMarket", True))
        elif kind == "NOTIONAL":  # spot, current
            fields["min_notional"] = _dec(flt, "minNotional", symbol)
            fields["apply_min_to_market"] = bool(flt.get("applyMinToMarket", True))
            fields["max_notional"] = _dec(flt, "maxNotional", symbol)
            fields["apply_max_to_market"] = bool(flt.get("applyMaxToMarket", False))
    return SymbolFilters(**fields)


def _parse(raw: Mapping[str, Any], futures: bool) -> dict[str, SymbolFilters]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("symbols"), list):
        raise ExchangeInfoError("exchangeInfo without a `symbols` list")
    symbols: Iterable[Any] = raw["symbols"]
    out: dict[str, SymbolFilters] = {}
    for entry in symbols:
        if not isinstance(entry, Mapping):
            raise ExchangeInfoError("a `symbols` entry is not an object")
        parsed = _parse_symbol(entry, futures)
        out[parsed.symbol] = parsed
    return out


def parse_spot_exchange_info(raw: Mapping[str, Any]) -> dict[str, SymbolFilters]:
    """`GET /api/v3/exchangeInfo` (spot and cross margin share the spot symbols) -> filters by symbol."""
    return _parse(raw, futures=False)


def parse_futures_exchange_info(raw: Mapping[str, Any]) -> dict[str, SymbolFilters]:
    """`GET /fapi/v1/exchangeInfo` -> filters by symbol."""
    return _parse(raw, futures=True)
