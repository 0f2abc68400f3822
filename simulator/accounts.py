"""Accounts, their balances and their API keys (in memory; loaded from TOML or the admin API).

Every market keeps its own balances on the account: `spot` and `margin` here; `futures_balances`
(wallet balance per asset from the config) and the free-form `ext` dict are for the USD-M engine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from simulator.auth import KEY_TYPES, Verifier, make_verifier
from simulator.util import ZERO

PERMISSION_NAMES = (
    "enableReading",
    "enableSpotAndMarginTrading",
    "enableMargin",
    "enableFutures",
    "enableWithdrawals",
    "enableInternalTransfer",
    "permitsUniversalTransfer",
    "enableVanillaOptions",
    "enablePortfolioMarginTrading",
    "enableFixApiTrade",
    "enableFixReadOnly",
    "ipRestrict",
)
DEFAULT_PERMISSIONS: dict[str, bool] = {
    "enableReading": True,
    "enableSpotAndMarginTrading": True,
    "enableMargin": True,
    "enableFutures": True,
    "enableWithdrawals": False,
    "enableInternalTransfer": False,
    "permitsUniversalTransfer": False,
    "enableVanillaOptions": False,
    "enablePortfolioMarginTrading": False,
    "enableFixApiTrade": False,
    "enableFixReadOnly": False,
    "ipRestrict": False,
}


class Balance:
    """Spot balance of one asset."""

    __slots__ = ("free", "locked")

    def __init__(self, free: Decimal = ZERO, locked: Decimal = ZERO) -> None:
        self.free = free
        self.locked = locked


class MarginBalance:
    """Cross-margin balance of one asset: netAsset = free + locked - borrowed - interest."""

    __slots__ = ("free", "locked", "borrowed", "interest")

    def __init__(self, free: Decimal = ZERO, locked: Decimal = ZERO, borrowed: Decimal = ZERO, interest: Decimal = ZERO) -> None:
        self.free = free
        self.locked = locked
        self.borrowed = borrowed
        self.interest = interest

    @property
    def net(self) -> Decimal:
        return self.free + self.locked - self.borrowed - self.interest


@dataclass
class ApiKey:
    api_key: str
    account_id: str
    key_type: str  # HMAC | RSA | ED25519
    verifier: Verifier = field(repr=False)
    permissions: dict[str, bool] = field(default_factory=lambda: dict(DEFAULT_PERMISSIONS))
    revoked: bool = False
    created_ms: int = 0

    def allows(self, permission: str | None) -> bool:
        if self.revoked:
            return False
        return permission is None or bool(self.permissions.get(permission))


@dataclass
class Account:
    id: str
    spot: dict[str, Balance] = field(default_factory=dict)
    margin: dict[str, MarginBalance] = field(default_factory=dict)
    futures_balances: dict[str, Decimal] = field(default_factory=dict)  # USD-M wallet balance per asset
    futures_config: dict[str, Any] = field(default_factory=dict)  # raw [accounts.futures_settings] table
    maker_commission: Decimal = Decimal("0.001")
    taker_commission: Decimal = Decimal("0.001")
    ext: dict[str, Any] = field(default_factory=dict)  # per-market engine state (e.g. ext["usdm"])
    uid: int = 0
    created_ms: int = 0  # when the account was created and funded (epoch ms)
    spot_updated_ms: int = 0  # last change of a spot balance: GET /api/v3/account "updateTime"

    def spot_balance(self, asset: str) -> Balance:
        bal = self.spot.get(asset)
        if bal is None:
            bal = self.spot[asset] = Balance()
        return bal

    def margin_balance(self, asset: str) -> MarginBalance:
        bal = self.margin.get(asset)
        if bal is None:
            bal = self.margin[asset] = MarginBalance()
        return bal


class AccountStore:
    """All accounts and keys by id; lookups on the hot path are single dict gets."""

    def __init__(self) -> None:
        self.accounts: dict[str, Account] = {}
        self.keys: dict[str, ApiKey] = {}
        self._next_uid = 1000001

    def add_account(self, account: Account) -> Account:
        if account.id in self.accounts:
            raise ValueError(f"account {account.id!r} already exists")
        account.uid = self._next_uid
        self._next_uid += 1
        self.accounts[account.id] = account
        return account

    def account(self, account_id: str) -> Account:
        try:
            return self.accounts[account_id]
        except KeyError:
            raise KeyError(f"unknown account {account_id!r}") from None

    def add_key(
        self,
        account_id: str,
        api_key: str,
        key_type: str,
        secret: str | None = None,
        public_key: str | None = None,
        permissions: dict[str, bool] | None = None,
        created_ms: int = 0,
    ) -> ApiKey:
        key_type = key_type.upper()
        if key_type == "EDDSA":
            key_type = "ED25519"
        if key_type not in KEY_TYPES:
            raise ValueError(f"unknown key type {key_type!r}; expected one of {KEY_TYPES}")
        if account_id not in self.accounts:
            raise ValueError(f"unknown account {account_id!r}")
        if not api_key or len(api_key) > 128:
            raise ValueError("api_key must be 1..128 characters")
        if api_key in self.keys:
            raise ValueError(f"api key already exists for account {self.keys[api_key].account_id!r}")
        perms = dict(DEFAULT_PERMISSIONS)
        for name, value in (permissions or {}).items():
            if name not in DEFAULT_PERMISSIONS:
                raise ValueError(f"unknown permission {name!r}; expected one of {PERMISSION_NAMES}")
            perms[name] = bool(value)
        key = ApiKey(api_key, account_id, key_type, make_verifier(key_type, secret, public_key), perms, created_ms=created_ms)
        self.keys[api_key] = key
        return key
