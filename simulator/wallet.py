"""Wallet endpoints: `GET /sapi/v1/account/apiRestrictions` (per-key permissions), account status."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator.api import USER_DATA, Ctx
from simulator.params import Params

if TYPE_CHECKING:
    from simulator.core import Sim


def register(sim: "Sim") -> None:
    def api_restrictions(ctx: Ctx, p: Params) -> dict[str, Any]:
        key = ctx.key
        assert key is not None
        perms = key.permissions
        return {
            "ipRestrict": perms["ipRestrict"],
            "createTime": key.created_ms,
            "enableReading": perms["enableReading"],
            "enableWithdrawals": perms["enableWithdrawals"],
            "enableInternalTransfer": perms["enableInternalTransfer"],
            "enableMargin": perms["enableMargin"],
            "enableFutures": perms["enableFutures"],
            "permitsUniversalTransfer": perms["permitsUniversalTransfer"],
            "enableVanillaOptions": perms["enableVanillaOptions"],
            "enableFixApiTrade": perms["enableFixApiTrade"],
            "enableFixReadOnly": perms["enableFixReadOnly"],
            "enableSpotAndMarginTrading": perms["enableSpotAndMarginTrading"],
            "enablePortfolioMarginTrading": perms["enablePortfolioMarginTrading"],
            # expiry of the spot & margin trading authority (keys without IP restriction expire)
            "tradingAuthorityExpirationTime": key.created_ms + 90 * 24 * 3600 * 1000,
        }

    def account_status(ctx: Ctx, p: Params) -> dict[str, Any]:
        return {"data": "Normal"}

    sim.api.route("GET", "/sapi/v1/account/apiRestrictions", api_restrictions, security=USER_DATA, weight=1, market="wallet")
    sim.api.route("GET", "/sapi/v1/account/status", account_status, security=USER_DATA, weight=1, market="wallet")
