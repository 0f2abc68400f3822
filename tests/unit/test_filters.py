"""actors/binance/filters.py: exchangeInfo parsing (real payloads), rounding, formatting."""

from __future__ import annotations

import json
import pathlib
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal as D

import pytest
from hypothesis import given, strategies as st

from actors.binance.filters import (
    ExchangeInfoError,
    SymbolFilters,
    format_decimal,
    market_min_notional,
    market_rules,
    parse_futures_exchange_info,
    parse_spot_exchange_info,
    round_price,
    round_qty_down,
    round_qty_nearest,
    round_qty_up,
)

FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


def load(name: str) -> dict:
    return json.loads((FIXTURES / name).read_text())


# --------------------------------------------------------------------------- parsing


def test_futures_exchange_info_fixture_parses_every_rule() -> None:
    filters = parse_futures_exchange_info(load("usdm_exchange_info.json"))

    btc = filters["BTCUSDT"]
    assert set(filters) == {"BTCUSDT", "ETHUSDT"}
    assert (btc.base_asset, btc.quote_asset, btc.status) == ("BTC", "USDT", "TRADING")
    assert (btc.tick_size, btc.min_price, btc.max_price) == (D("0.10"), D("402"), D("1246396.60"))
    assert (btc.step_size, btc.min_qty, btc.max_qty) == (D("0.001"), D("0.001"), D("1000"))
    assert (btc.market_step_size, btc.market_min_qty, btc.market_max_qty) == (D("0.001"), D("0.001"), D("1000"))
    assert btc.min_notional == D("10") and btc.apply_min_to_market
    assert btc.min_notional_exempt_reduce_only
    assert filters["ETHUSDT"].tick_size == D("0.01") and filters["ETHUSDT"].max_qty == D("10000")


def test_spot_exchange_info_fixture_parses_legacy_and_current_notional_filters() -> None:
    filters = parse_spot_exchange_info(load("spot_exchange_info.json"))

    btc, ethbtc = filters["BTCUSDT"], filters["ETHBTC"]
    # legacy MIN_NOTIONAL + a MARKET_LOT_SIZE whose step/min are "0" (disabled)
    assert btc.step_size == D("0.00001") and btc.min_qty == D("0.00001")
    assert btc.market_step_size == 0 and btc.market_max_qty == D("112.21108820")
    assert btc.min_notional == D("10") and btc.apply_min_to_market
    assert not btc.min_notional_exempt_reduce_only
    # current NOTIONAL filter
    assert (ethbtc.base_asset, ethbtc.quote_asset) == ("ETH", "BTC")
    assert ethbtc.min_notional == D("10") and not ethbtc.apply_min_to_market
    assert ethbtc.max_notional == D("10000") and not ethbtc.apply_max_to_market
    assert ethbtc.tick_size == D("0.000001")


def test_market_rules_combine_lot_size_and_market_lot_size() -> None:
    btc = parse_spot_exchange_info(load("spot_exchange_info.json"))["BTCUSDT"]

    rules = market_rules(btc)

    assert rules.step == D("0.00001")  # MARKET_LOT_SIZE step 0 = disabled
    assert rules.min_qty == D("0.00001")
    assert rules.max_qty == D("112.21108820")  # the smaller of 9000 and 112.2...


def test_market_min_notional_respects_apply_to_market() -> None:
    spot = parse_spot_exchange_info(load("spot_exchange_info.json"))

    assert market_min_notional(spot["BTCUSDT"]) == D("10")
    assert market_min_notional(spot["ETHBTC"]) == 0  # applyMinToMarket false


@pytest.mark.parametrize(
    "raw",
    [
        {},
        {"symbols": "x"},
        {"symbols": [1]},
        {"symbols": [{"baseAsset": "BTC", "quoteAsset": "USDT"}]},
        {"symbols": [{"symbol": "BTCUSDT", "quoteAsset": "USDT"}]},
        {"symbols": [{"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": {}}]},
        {
            "symbols": [
                {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [{"filterType": "LOT_SIZE", "stepSize": "abc"}]}
            ]
        },
        {
            "symbols": [
                {"symbol": "BTCUSDT", "baseAsset": "BTC", "quoteAsset": "USDT", "filters": [{"filterType": "LOT_SIZE", "stepSize": "-1"}]}
            ]
        },
        {
            "symbols": [
                {
                    "symbol": "BTCUSDT",
                    "baseAsset": "BTC",
                    "quoteAsset": "USDT",
                    "filters": [{"filterType": "PRICE_FILTER", "tickSize": "NaN"}],
                }
            ]
        },
    ],
)
def test_malformed_exchange_info_raises_a_named_error(raw: dict) -> None:
    with pytest.raises(ExchangeInfoError):
        parse_futures_exchange_info(raw)


def test_error_names_the_symbol_and_field() -> None:
    raw = {
        "symbols": [
            {"symbol": "XYZUSDT", "baseAsset": "XYZ", "quoteAsset": "USDT", "filters": [{"filterType": "LOT_SIZE", "stepSize": "abc"}]}
        ]
    }

    with pytest.raises(ExchangeInfoError, match=r"XYZUSDT.*LOT_SIZE\.stepSize"):
        parse_spot_exchange_info(raw)


# --------------------------------------------------------------------------- rounding


@pytest.mark.parametrize(
    ("qty", "step", "down", "up", "nearest"),
    [
        ("0.0155", "0.001", "0.015", "0.016", "0.016"),
        ("0.0154", "0.001", "0.015", "0.016", "0.015"),
        ("0.015", "0.001", "0.015", "0.015", "0.015"),
        ("0.0005", "0.001", "0", "0.001", "0.001"),
        ("123.456", "1", "123", "124", "123"),
        ("7", "5", "5", "10", "5"),
        ("0.123456789", "0", "0.123456789", "0.123456789", "0.123456789"),
        ("12.5", "0.00001000", "12.5", "12.5", "12.5"),
    ],
)
def test_qty_rounding(qty: str, step: str, down: str, up: str, nearest: str) -> None:
    assert round_qty_down(D(qty), D(step)) == D(down)
    assert round_qty_up(D(qty), D(step)) == D(up)
    assert round_qty_nearest(D(qty), D(step)) == D(nearest)


@given(
    qty=st.decimals(min_value=0, max_value=10_000, places=8), step=st.sampled_from([D("0.001"), D("0.00001000"), D("0.1"), D("1"), D("5")])
)
def test_rounded_quantities_are_multiples_of_the_step_and_bracket_the_input(qty: D, step: D) -> None:
    down, up = round_qty_down(qty, step), round_qty_up(qty, step)

    assert down % step == 0 and up % step == 0
    assert down <= qty <= up
    assert up - down in (0, step)


@pytest.mark.parametrize(
    ("price", "tick", "rounding", "expected"),
    [
        ("67250.17", "0.10", None, "67250.2"),
        ("67250.14", "0.10", None, "67250.1"),
        ("67250.19", "0.10", ROUND_FLOOR, "67250.1"),
        ("67250.11", "0.10", ROUND_CEILING, "67250.2"),
        ("0.00012345", "0", None, "0.00012345"),
    ],
)
def test_round_price(price: str, tick: str, rounding: str | None, expected: str) -> None:
    args = (D(price), D(tick)) if rounding is None else (D(price), D(tick), rounding)
    assert round_price(*args) == D(expected)


# --------------------------------------------------------------------------- formatting


@pytest.mark.parametrize(
    ("value", "step", "text"),
    [
        ("1E-5", None, "0.00001"),
        ("0.00001000", None, "0.00001"),
        ("100", None, "100"),
        ("1E+2", None, "100"),
        ("0.0100", None, "0.01"),
        ("-0", None, "0"),
        ("0E-8", None, "0"),
        ("-1.50", None, "-1.5"),
        ("0.015", "0.00100000", "0.015"),
        ("0.01500000", "0.001", "0.015"),
        ("1", "0.01", "1.00"),
        ("3", "1", "3"),
        ("1E-7", "0.00000001", "0.00000010"),
        ("67250.2", "0.10", "67250.2"),
    ],
)
def test_format_decimal_is_plain_and_step_precise(value: str, step: str | None, text: str) -> None:
    assert format_decimal(D(value), None if step is None else D(step)) == text


def test_format_decimal_refuses_more_precision_than_the_step() -> None:
    with pytest.raises(ValueError, match="precision"):
        format_decimal(D("0.0155"), D("0.001"))


@pytest.mark.parametrize("bad", ["NaN", "Infinity"])
def test_format_decimal_refuses_non_finite(bad: str) -> None:
    with pytest.raises(ValueError):
        format_decimal(D(bad))


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-(10**12), max_value=10**12, places=10))
def test_format_decimal_never_uses_an_exponent_and_keeps_the_value(value: D) -> None:
    text = format_decimal(value)

    assert "E" not in text and "e" not in text
    assert D(text) == value


def test_symbol_filters_defaults_disable_rules() -> None:
    f = SymbolFilters(symbol="X", base_asset="A", quote_asset="B")

    rules = market_rules(f)

    assert (rules.step, rules.min_qty, rules.max_qty) == (0, 0, 0)
    assert market_min_notional(f) == 0
