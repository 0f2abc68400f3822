"""keycheck's rules, against a fake signed client (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from actors.binance.errors import AuthError, Rejected
from actors.keycheck import (
    API_RESTRICTIONS_PATH,
    FUTURES_ACCOUNT_PATH,
    MARGIN_ACCOUNT_PATH,
    SPOT_ACCOUNT_PATH,
    BinanceApiRestrictions,
    Role,
    check_key,
    evaluate_restrictions,
    parse_markets,
)
from keystore import redact

GOOD = {
    "ipRestrict": True,
    "createTime": 1623840271000,
    "enableReading": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "enableMargin": True,
    "enableFutures": True,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enableSpotAndMarginTrading": True,
    "enablePortfolioMarginTrading": False,
    "tradingAuthorityExpirationTime": 0,
}
SECRET = "NhqPtmdSJYdKjVHjA7PZj4Mge3R5YNiP1e3UZjInClVN65XAbvqqM6A7H5fATj0j"


class FakeClient:
    """Answers signed calls from a dict path -> reply (or exception); records the paths asked."""

    def __init__(self, replies: dict[str, Any]) -> None:
        self.replies = replies
        self.calls: list[str] = []

    async def signed(self, method: str, path: str, params: Any = None) -> Any:
        self.calls.append(f"{method} {path}")
        reply = self.replies[path]
        if isinstance(reply, Exception):
            raise reply
        return reply


def clients(restrictions: Any = None, **overrides: Any) -> tuple[FakeClient, FakeClient]:
    spot = FakeClient(
        {
            API_RESTRICTIONS_PATH: GOOD if restrictions is None else restrictions,
            SPOT_ACCOUNT_PATH: {"canTrade": True, "balances": []},
            MARGIN_ACCOUNT_PATH: {"tradeEnabled": True, "userAssets": []},
            **overrides,
        }
    )
    futures = FakeClient({FUTURES_ACCOUNT_PATH: {"canTrade": True, "assets": []}, **overrides})
    return spot, futures


async def test_a_good_key_passes_every_market() -> None:
    spot, futures = clients()

    result = await check_key(spot, futures, ["usdm", "spot", "margin"])

    assert result.ok and result.errors == () and result.warnings == ()
    assert result.accounts_checked == ("usdm", "spot", "margin")
    assert futures.calls == [f"GET {FUTURES_ACCOUNT_PATH}"]
    assert spot.calls == [f"GET {API_RESTRICTIONS_PATH}", f"GET {SPOT_ACCOUNT_PATH}", f"GET {MARGIN_ACCOUNT_PATH}"]


async def test_a_key_with_withdrawal_rights_is_refused() -> None:
    spot, futures = clients({**GOOD, "enableWithdrawals": True})

    result = await check_key(spot, futures, ["usdm"])

    assert not result.ok and result.withdrawals_enabled
    assert any("withdrawal rights (enableWithdrawals: true): refused" in e for e in result.errors)


@pytest.mark.parametrize("value", [None, "false", 0])
async def test_a_key_that_does_not_say_false_for_withdrawals_is_refused(value: Any) -> None:
    restrictions = {k: v for k, v in GOOD.items() if k != "enableWithdrawals"}
    if value is not None:
        restrictions["enableWithdrawals"] = value
    spot, futures = clients(restrictions)

    result = await check_key(spot, futures, ["usdm"])

    assert not result.ok


async def test_missing_ip_restriction_is_a_warning_only() -> None:
    spot, futures = clients({**GOOD, "ipRestrict": False})

    result = await check_key(spot, futures, ["usdm"])

    assert result.ok and any("ipRestrict: false" in w for w in result.warnings)


@pytest.mark.parametrize(
    ("market", "flag", "message"),
    [
        ("usdm", "enableFutures", "futures are off"),
        ("spot", "enableSpotAndMarginTrading", "spot/margin trading is off"),
        ("margin", "enableMargin", "margin is off"),
        ("margin", "enableSpotAndMarginTrading", "spot/margin trading is off"),
        ("spot", "enableReading", "cannot read"),
    ],
)
async def test_a_slave_needs_the_permissions_of_its_markets(market: str, flag: str, message: str) -> None:
    spot, futures = clients({**GOOD, flag: False})

    result = await check_key(spot, futures, [market], Role.SLAVE)

    assert not result.ok and any(message in e for e in result.errors), result.errors


async def test_a_master_needs_only_reading_and_is_told_trading_is_unneeded() -> None:
    spot, futures = clients({**GOOD, "enableFutures": False, "enableSpotAndMarginTrading": False, "enableMargin": False})
    read_only = await check_key(spot, futures, ["spot"], Role.MASTER)
    spot, futures = clients()
    trading = await check_key(spot, futures, ["spot"], Role.MASTER)

    assert read_only.ok and not any("can trade" in w for w in read_only.warnings)
    assert trading.ok and any("a read-only key is enough" in w for w in trading.warnings)


async def test_failing_account_call_is_an_error_and_redacted() -> None:
    redact.clear_registry()
    redact.register_secret(SECRET)
    try:
        spot, futures = clients(**{FUTURES_ACCOUNT_PATH: AuthError(401, -2015, f"Invalid API-key {SECRET}")})
        result = await check_key(spot, futures, ["usdm"])
    finally:
        redact.clear_registry()

    assert not result.ok and result.accounts_checked == ()
    assert any("usdm: signed GET /fapi/v2/account failed: AuthError" in e and "-2015" in e for e in result.errors)
    assert all(SECRET not in e for e in result.errors)


async def test_an_account_that_cannot_trade_is_refused_for_a_slave() -> None:
    spot, futures = clients(**{SPOT_ACCOUNT_PATH: {"canTrade": False}})

    result = await check_key(spot, futures, ["spot"])

    assert not result.ok and any("canTrade: false" in e for e in result.errors)


async def test_testnet_without_api_restrictions_warns_but_live_refuses() -> None:
    missing = Rejected(404, 0, "not found")
    spot, futures = clients(missing)
    on_testnet = await check_key(spot, futures, ["usdm"], testnet=True)
    spot, futures = clients(missing)
    on_live = await check_key(spot, futures, ["usdm"])

    assert on_testnet.ok and any("testnet" in w for w in on_testnet.warnings)
    assert not on_live.ok and any("apiRestrictions failed" in e for e in on_live.errors)


async def test_malformed_api_restrictions_is_refused() -> None:
    spot, futures = clients({**GOOD, "enableWithdrawals": "nope"})

    result = await check_key(spot, futures, ["usdm"])

    assert not result.ok and "malformed" in result.errors[0]


def test_trading_right_expiry() -> None:
    now = 1_700_000_000_000
    day = 24 * 3600 * 1000
    soon = BinanceApiRestrictions(**{**GOOD, "tradingAuthorityExpirationTime": now + 3 * day})
    past = BinanceApiRestrictions(**{**GOOD, "tradingAuthorityExpirationTime": now - 1})

    soon_errors, soon_warnings = evaluate_restrictions(soon, ["spot"], Role.SLAVE, now_ms=now)
    past_errors, _ = evaluate_restrictions(past, ["spot"], Role.SLAVE, now_ms=now)

    assert not soon_errors and any("expires in 3 day" in w for w in soon_warnings)
    assert any("expired" in e for e in past_errors)


def test_transfer_rights_are_warned_about() -> None:
    r = BinanceApiRestrictions(**{**GOOD, "enableInternalTransfer": True, "permitsUniversalTransfer": True})
    errors, warnings = evaluate_restrictions(r, ["usdm"], Role.SLAVE)
    assert not errors and len(warnings) == 2


def test_parse_markets() -> None:
    assert parse_markets("usdm, spot,usdm") == ("usdm", "spot")
    with pytest.raises(ValueError, match="unknown market 'coinm'"):
        parse_markets("usdm,coinm")
    with pytest.raises(ValueError, match="no market"):
        parse_markets(" , ")
