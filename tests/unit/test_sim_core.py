"""Pure parts of the simulator: signatures, timestamps, filters, matching, prices, rate limits, config."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from hypothesis import given, strategies as st

from simulator import errors
from simulator.auth import HmacVerifier, check_timestamp
from simulator.config import ConfigError, parse_config
from simulator.matching import Matcher, Resting
from simulator.params import Params, parse_form
from simulator.prices import PriceEngine
from simulator.ratelimit import Limit, RateLimitConfig, RateLimiter
from simulator.symbols import DEFAULT_SYMBOLS
from simulator.util import fmt, plain

D = Decimal
BTC = next(s for s in DEFAULT_SYMBOLS if s.symbol == "BTCUSDT")


def test_hmac_matches_binance_documented_example() -> None:
    # binance-spot-api-docs/rest-api.md, "SIGNED Endpoint Examples for POST /api/v3/order" (HMAC)
    verifier = HmacVerifier("NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j")
    payload = b"symbol=LTCBTC&side=BUY&type=LIMIT&timeInForce=GTC&quantity=1&price=0.1&recvWindow=5000&timestamp=1499827319559"
    sig = "c8db56825ae71d6d79447849e617115f4a920fa2acdcab2b053c4b2838bd6b71"

    assert verifier.verify(payload, sig)
    assert verifier.verify(payload, sig.upper())  # HMAC signatures are not case-sensitive
    assert not verifier.verify(payload + b"0", sig)
    assert "NhqP" not in repr(verifier)


def test_timestamp_window() -> None:
    now = int(time.time() * 1000)

    check_timestamp(str(now), None)
    check_timestamp(str(now * 1000), None)  # microseconds are accepted
    with pytest.raises(errors.BinanceError) as old:
        check_timestamp(str(now - 6000), None)
    with pytest.raises(errors.BinanceError) as ahead:
        check_timestamp(str(now + 5000), "10000")
    with pytest.raises(errors.BinanceError) as missing:
        check_timestamp(None, None)
    with pytest.raises(errors.BinanceError) as window:
        check_timestamp(str(now), "70000")

    assert old.value.code == ahead.value.code == -1021
    assert "ahead" in ahead.value.msg
    assert missing.value.code == -1102
    assert window.value.code == -1130


def test_params_errors() -> None:
    p = Params({"quantity": "1e-05", "side": "UP", "n": "x"})

    with pytest.raises(errors.BinanceError) as missing:
        p.str("symbol")
    with pytest.raises(errors.BinanceError) as illegal:
        p.decimal("quantity")
    with pytest.raises(errors.BinanceError) as enum:
        p.enum("side", ("BUY", "SELL"))
    with pytest.raises(errors.BinanceError) as integer:
        p.int("n")
    with pytest.raises(errors.BinanceError) as duplicate:
        parse_form("a=1&a=2", {}, keep_existing=False)

    assert missing.value.code == -1102 and "'symbol'" in missing.value.msg
    assert illegal.value.code == -1100 and "'quantity'" in illegal.value.msg
    assert enum.value.code == -1130
    assert integer.value.code == -1100
    assert duplicate.value.code == -1101


def test_query_wins_over_body_and_percent_decoding() -> None:
    values: dict[str, str] = {}
    parse_form("symbol=BTCUSDT&newClientOrderId=a%2Fb", values, keep_existing=False)
    parse_form("symbol=ETHUSDT&quantity=1", values, keep_existing=True)

    assert values == {"symbol": "BTCUSDT", "newClientOrderId": "a/b", "quantity": "1"}


@pytest.mark.parametrize(
    "qty,price,failure",
    [
        (D("0.000001"), D("65000"), "-1013 Filter failure: LOT_SIZE"),
        (D("0.000015"), D("65000"), "-1013 Filter failure: LOT_SIZE"),
        (D("0.00005"), D("65000"), "-1013 Filter failure: NOTIONAL"),
        (D("0.001"), D("65000.001"), "-1013 Filter failure: PRICE_FILTER"),
    ],
)
def test_filters(qty: Decimal, price: Decimal, failure: str) -> None:
    with pytest.raises(errors.BinanceError) as exc:
        BTC.check_price(price)
        BTC.check_lot(qty, market=False)
        BTC.check_notional(qty * price, market=False)

    assert f"{exc.value.code} {exc.value.msg}" == failure


def test_precision() -> None:
    with pytest.raises(errors.BinanceError) as exc:
        BTC.check_precision(D("0.000000001"), None)

    assert exc.value.code == -1111 and "'quantity'" in exc.value.msg
    BTC.check_precision(D("0.10000000000"), D("1.5"))  # trailing zeros do not count


def test_matcher_fills_partially_per_step_fifo_at_limit_price() -> None:
    fills: list[tuple[str, Decimal, Decimal]] = []
    matcher = Matcher(lambda symbol: D("1"))
    first = matcher.add(Resting("BTCUSDT", "BUY", D("100"), D("0.75"), "a", lambda e, q, p: fills.append((e.ref, q, p))))
    matcher.add(Resting("BTCUSDT", "BUY", D("101"), D("0.5"), "b", lambda e, q, p: fills.append((e.ref, q, p))))
    matcher.add(Resting("BTCUSDT", "SELL", D("105"), D("1"), "c", lambda e, q, p: fills.append((e.ref, q, p))))

    matcher.on_prices({"BTCUSDT": D("102")})  # crosses nothing
    matcher.on_prices({"BTCUSDT": D("99")})  # both buys cross; 1 BTC of liquidity this step
    after_one = list(fills)
    matcher.on_prices({"BTCUSDT": D("99")})

    assert after_one == [("a", D("0.75"), D("100")), ("b", D("0.25"), D("101"))]
    assert fills[2:] == [("b", D("0.25"), D("101"))]
    assert not first.active and [e.ref for e in matcher.books["BTCUSDT"]] == ["c"]


def test_price_walk_is_repeatable_and_on_tick() -> None:
    def walk(seed: int) -> list[Decimal]:
        engine = PriceEngine(seed=seed, volatility=0.01)
        engine.add_symbol("BTCUSDT", D("65000"), D("0.01"))
        out = []
        for _ in range(20):
            engine.step()
            out.append(engine.price("BTCUSDT"))
        return out

    assert walk(1) == walk(1)
    assert walk(1) != walk(2)
    assert all(p % D("0.01") == 0 for p in walk(3))


def test_paused_symbol_does_not_move() -> None:
    engine = PriceEngine(seed=1, volatility=0.01)
    engine.add_symbol("BTCUSDT", D("65000"), D("0.01"))
    engine.add_symbol("ETHUSDT", D("3000"), D("0.01"))

    engine.set_price("BTCUSDT", D("60000"), pause=True)
    for _ in range(10):
        engine.step()

    assert engine.price("BTCUSDT") == D("60000")
    assert engine.price("ETHUSDT") != D("3000")


def test_rate_limiter_counts_and_bans() -> None:
    limiter = RateLimiter(RateLimitConfig(weight=[Limit("REQUEST_WEIGHT", "MINUTE", 1, 10)], ban_after=2))

    used = limiter.add_weight("ip", 10)
    codes = []
    for _ in range(3):
        try:
            limiter.add_weight("ip", 1)
        except errors.BinanceError as exc:
            codes.append(exc.http_status)

    assert limiter.weight_headers(used) == {"X-MBX-USED-WEIGHT-1M": "10"}
    assert codes == [429, 429, 418]


def test_config_errors_name_the_field() -> None:
    with pytest.raises(ConfigError, match=r"accounts\.a\.spot\.USDT"):
        parse_config({"accounts": [{"id": "a", "spot": {"USDT": "lots"}}]})
    with pytest.raises(ConfigError, match="duplicate account id"):
        parse_config({"accounts": [{"id": "a"}, {"id": "a"}]})
    with pytest.raises(ConfigError, match=r"keys\[0\]: needs api_key"):
        parse_config({"accounts": [{"id": "a", "keys": [{"type": "HMAC"}]}]})


@given(st.decimals(min_value=0, max_value=10**9, places=8, allow_nan=False, allow_infinity=False))
def test_fmt_is_plain(value: Decimal) -> None:
    text = fmt(value)

    assert "e" not in text.lower() and Decimal(text) == value
    assert "e" not in plain(value).lower()
