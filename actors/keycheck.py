"""Is this API key safe and sufficient for copy trading? Asked of the exchange before a key is stored.

Checks (binance-api-swagger/spot_api.yaml `GET /sapi/v1/account/apiRestrictions`; the account
endpoints of rest-api.md, the margin Postman collection and usdm/endpoints/private/get_fapi_v2_account.md):
- `enableWithdrawals` must be exactly `false`: a key that can withdraw is refused, always;
- a signed account call works for each market the account uses (spot `GET /api/v3/account`,
  margin `GET /sapi/v1/margin/account`, usdm `GET /fapi/v2/account` on the futures base URL);
- the permissions those markets need are on: reading always; for a slave, spot needs
  `enableSpotAndMarginTrading`, margin needs it and `enableMargin`, usdm needs `enableFutures`;
- warnings: `ipRestrict` false, transfer rights, trading rights on a master key (read-only suffices),
  trading permission that expires soon (`tradingAuthorityExpirationTime`).

The spot testnet has no /sapi: there apiRestrictions is unavailable, which is a warning (testnet keys
cannot withdraw real funds), never on live or the simulator.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, cast

import msgspec

from keystore.redact import describe_exception
from protocol.messages import MARKETS, Market

from .binance import spot_api, usdm_api

API_RESTRICTIONS_PATH = spot_api.API_RESTRICTIONS_PATH
SPOT_ACCOUNT_PATH = spot_api.ACCOUNT_PATH
MARGIN_ACCOUNT_PATH = spot_api.MARGIN_ACCOUNT_PATH
FUTURES_ACCOUNT_PATH = usdm_api.ACCOUNT_PATH
EXPIRY_WARNING_MS = 14 * 24 * 3600 * 1000  # warn two weeks before trading rights expire


class Role(enum.StrEnum):
    MASTER = "master"  # only read: its user data feeds the copy
    SLAVE = "slave"  # trades


class SignedClient(Protocol):
    """What keycheck needs of a REST client (actors.binance.rest.RestClient fits)."""

    async def signed(self, method: str, path: str, params: Mapping[str, Any] | None = None) -> Any: ...


class EndpointsLike(Protocol):
    spot_rest: str
    futures_rest: str


class BinanceApiRestrictions(msgspec.Struct, frozen=True):
    """GET /sapi/v1/account/apiRestrictions (all optional: a missing field is treated as unsafe)."""

    ipRestrict: bool | None = None  # key limited to trusted IPs
    createTime: int | None = None  # ms
    enableReading: bool | None = None  # may read
    enableWithdrawals: bool | None = None  # may withdraw via API
    enableInternalTransfer: bool | None = None  # may transfer between master and sub accounts
    enableMargin: bool | None = None  # cross margin enabled
    enableFutures: bool | None = None  # futures API enabled
    permitsUniversalTransfer: bool | None = None  # universal transfer API
    enableVanillaOptions: bool | None = None  # options trading
    enableSpotAndMarginTrading: bool | None = None  # spot and margin trading
    enablePortfolioMarginTrading: bool | None = None  # portfolio margin
    tradingAuthorityExpirationTime: int | None = None  # ms; spot/margin trading right expiry


class KeyCheckResult(msgspec.Struct, frozen=True):
    """The verdict. `ok` is False when `errors` is not empty; `warnings` never block."""

    ok: bool
    markets: tuple[str, ...]
    role: str
    restrictions: BinanceApiRestrictions | None  # None when the exchange could not tell
    accounts_checked: tuple[str, ...]  # markets whose signed account call succeeded
    warnings: tuple[str, ...]
    errors: tuple[str, ...]
    withdrawals_enabled: bool = False  # True: refused because the key can withdraw


def parse_markets(value: str | Iterable[str]) -> tuple[Market, ...]:
    """`"usdm,spot"` -> ("usdm", "spot"); raises ValueError naming a bad market."""
    items = value.split(",") if isinstance(value, str) else list(value)
    markets: list[Market] = []
    for item in items:
        name = item.strip().lower()
        if not name:
            continue
        if name not in MARKETS:
            raise ValueError(f"unknown market {item.strip()!r}: use spot, margin or usdm")
        market = cast(Market, name)
        if market not in markets:
            markets.append(market)
    if not markets:
        raise ValueError("no market given: use spot, margin and/or usdm")
    return tuple(markets)


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def evaluate_restrictions(
    r: BinanceApiRestrictions, markets: Iterable[Market], role: Role, *, now_ms: int | None = None
) -> tuple[list[str], list[str]]:
    """Pure rules: (errors, warnings) for a key's restrictions, markets and role."""
    errors: list[str] = []
    warnings: list[str] = []
    markets = tuple(markets)
    if r.enableWithdrawals is not False:
        if r.enableWithdrawals is True:
            errors.append(
                "the key has withdrawal rights (enableWithdrawals: true): refused. Create a key without"
                " 'Enable Withdrawals' — copy trading never needs it"
            )
        else:
            errors.append("the exchange did not say whether the key can withdraw (enableWithdrawals missing): refused")
    if r.enableReading is not True:
        errors.append("the key cannot read account data (enableReading is not true)")
    trades_spot = r.enableSpotAndMarginTrading is True
    if role is Role.SLAVE:
        if ("spot" in markets or "margin" in markets) and not trades_spot:
            errors.append("spot/margin trading is off for this key (enableSpotAndMarginTrading is not true)")
        if "margin" in markets and r.enableMargin is not True:
            errors.append("margin is off for this key (enableMargin is not true)")
        if "usdm" in markets and r.enableFutures is not True:
            errors.append("futures are off for this key (enableFutures is not true)")
    else:
        if "usdm" in markets and r.enableFutures is not True:
            warnings.append("futures are off for this master key (enableFutures is not true): its USD-M data may be unavailable")
        if trades_spot or r.enableFutures is True or r.enableMargin is True:
            warnings.append("this master key can trade; a read-only key is enough for a master")
    if r.ipRestrict is not True:
        warnings.append("the key is not restricted to trusted IPs (ipRestrict: false): restrict it on Binance")
    if r.enableInternalTransfer is True:
        warnings.append("the key may transfer funds between master and sub accounts (enableInternalTransfer: true)")
    if r.permitsUniversalTransfer is True:
        warnings.append("the key may use universal transfer (permitsUniversalTransfer: true)")
    expiry = r.tradingAuthorityExpirationTime
    if role is Role.SLAVE and trades_spot and expiry:
        now = _now_ms() if now_ms is None else now_ms
        if expiry <= now:
            errors.append("the key's spot/margin trading right has expired (tradingAuthorityExpirationTime passed)")
        elif expiry - now < EXPIRY_WARNING_MS:
            days = (expiry - now) // (24 * 3600 * 1000)
            warnings.append(f"the key's spot/margin trading right expires in {days} day(s)")
    return errors, warnings


async def check_key(
    spot: SignedClient, futures: SignedClient | None, markets: Iterable[str], role: Role | str = Role.SLAVE, *, testnet: bool = False
) -> KeyCheckResult:
    """Ask the exchange about a key, through clients already holding its signer.

    `spot` serves /api and /sapi; `futures` serves /fapi (needed when markets include usdm).
    """
    wanted = parse_markets([str(m) for m in markets])
    role = Role(role)
    errors: list[str] = []
    warnings: list[str] = []
    restrictions: BinanceApiRestrictions | None = None
    withdrawals = False
    try:
        raw = await spot.signed("GET", API_RESTRICTIONS_PATH)
        restrictions = msgspec.convert(raw, BinanceApiRestrictions)
    except msgspec.ValidationError as exc:
        errors.append(f"apiRestrictions answer is malformed ({exc}): refused")
    except Exception as exc:  # noqa: BLE001 - any failure is reported, never raised to the CLI
        if testnet and getattr(exc, "http_status", None) == 404:
            warnings.append("the testnet has no apiRestrictions endpoint: permissions were not checked")
        else:
            errors.append(f"apiRestrictions failed: {describe_exception(exc)}")
    if restrictions is not None:
        rule_errors, rule_warnings = evaluate_restrictions(restrictions, wanted, role)
        errors += rule_errors
        warnings += rule_warnings
        withdrawals = restrictions.enableWithdrawals is True

    checked: list[str] = []
    for market in wanted:
        client = futures if market == "usdm" else spot
        if client is None:
            errors.append(f"{market}: no client for its base URL")
            continue
        problem = await _check_account(client, market, role)
        if problem is None:
            checked.append(market)
        else:
            errors.append(problem)
    return KeyCheckResult(
        ok=not errors,
        markets=tuple(wanted),
        role=role.value,
        restrictions=restrictions,
        accounts_checked=tuple(checked),
        warnings=tuple(warnings),
        errors=tuple(errors),
        withdrawals_enabled=withdrawals,
    )


_ACCOUNT_PATHS = {"spot": SPOT_ACCOUNT_PATH, "margin": MARGIN_ACCOUNT_PATH, "usdm": FUTURES_ACCOUNT_PATH}
_TRADE_FLAGS = {"spot": "canTrade", "margin": "tradeEnabled", "usdm": "canTrade"}


async def _check_account(client: SignedClient, market: Market, role: Role) -> str | None:
    """None when the signed account call works (and, for a slave, the account may trade)."""
    path = _ACCOUNT_PATHS[market]
    try:
        reply = await client.signed("GET", path)
    except Exception as exc:  # noqa: BLE001 - reported as a refusal
        return f"{market}: signed GET {path} failed: {describe_exception(exc)}"
    if not isinstance(reply, dict):
        return f"{market}: GET {path} answered something other than an account object"
    flag = _TRADE_FLAGS[market]
    if role is Role.SLAVE and reply.get(flag) is False:
        return f"{market}: the account cannot trade ({flag}: false)"
    return None


async def check_key_at(
    endpoints: EndpointsLike,
    key_type: str,
    api_key: str,
    secret: Any,
    markets: Iterable[str],
    role: Role | str = Role.SLAVE,
    *,
    testnet: bool = False,
    timeout: float = 10.0,
) -> KeyCheckResult:
    """Build REST clients for `endpoints` with the key's signer, then `check_key`.

    `secret` is a keystore `Secret` (or str); it is revealed only to build the signer.
    """
    from actors.binance.rest import RestClient
    from actors.binance.signing import make_signer

    try:
        signer = make_signer(key_type, api_key, secret.reveal_str() if hasattr(secret, "reveal_str") else str(secret))
    except ValueError as exc:
        return KeyCheckResult(
            ok=False,
            markets=tuple(str(m) for m in markets),
            role=str(role),
            restrictions=None,
            accounts_checked=(),
            warnings=(),
            errors=(f"the key cannot sign: {describe_exception(exc)}",),
        )
    spot = RestClient(endpoints.spot_rest, signer, timeout=timeout)
    futures = RestClient(endpoints.futures_rest, signer, timeout=timeout)
    try:
        return await check_key(spot, futures, markets, role, testnet=testnet)
    finally:
        await spot.close()
        await futures.close()


def restrictions_summary(r: BinanceApiRestrictions | None) -> dict[str, bool | None]:
    """The permission flags worth storing with a key (apiRestrictions names)."""
    if r is None:
        return {}
    return {
        "enableReading": r.enableReading,
        "enableSpotAndMarginTrading": r.enableSpotAndMarginTrading,
        "enableMargin": r.enableMargin,
        "enableFutures": r.enableFutures,
        "enableWithdrawals": r.enableWithdrawals,
        "ipRestrict": r.ipRestrict,
        "enableInternalTransfer": r.enableInternalTransfer,
        "permitsUniversalTransfer": r.permitsUniversalTransfer,
    }
