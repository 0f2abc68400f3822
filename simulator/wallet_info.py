"""Wallet and margin reference data: `GET /sapi/v1/capital/config/getall`, `/sapi/v1/margin/allPairs`,
`/sapi/v1/margin/isolated/allPairs`.

Coins are every asset of the configured spot symbols plus what the account holds, with the
account's spot balance as `free` / `locked`. The simulator has no blockchain: each coin has one
network (its own name) with deposits and withdrawals disabled and said so in `depositDesc` /
`withdrawDesc`. Every spot symbol is a cross-margin pair; isolated margin is not modelled, so
the isolated list has the same pairs with `isMarginTrade: false` (no isolated account can be
opened here), which is what Binance answers for a symbol closed to isolated trading.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from simulator import errors
from simulator.api import MARKET_DATA, USER_DATA, Ctx
from simulator.params import Params
from simulator.util import ZERO, fmt

if TYPE_CHECKING:
    from simulator.core import Sim

COIN_NAMES = {
    "BTC": "Bitcoin",
    "ETH": "Ethereum",
    "SOL": "Solana",
    "BNB": "BNB",
    "XRP": "XRP",
    "DOGE": "Dogecoin",
    "USDT": "TetherUS",
    "USDC": "USD Coin",
    "FDUSD": "First Digital USD",
}
NO_CHAIN = "Simulator: no deposits or withdrawals"
PAIR_ID_BASE = 351_637_150_141_315_800  # Binance's pair ids are large integers; ours are stable per symbol


def _network(coin: str) -> dict[str, Any]:
    return {
        "network": coin,
        "coin": coin,
        "withdrawIntegerMultiple": "0.00000001",
        "isDefault": True,
        "depositEnable": False,
        "withdrawEnable": False,
        "depositDesc": NO_CHAIN,
        "withdrawDesc": NO_CHAIN,
        "specialTips": "",
        "specialWithdrawTips": "",
        "name": f"{coin} (simulated)",
        "resetAddressStatus": False,
        "addressRegex": "",
        "memoRegex": "",
        "withdrawFee": "0",
        "withdrawMin": "0",
        "withdrawMax": "0",
        "withdrawInternalMin": "0",
        "depositDust": "0",
        "minConfirm": 0,
        "unLockConfirm": 0,
        "sameAddress": False,
        "withdrawTag": False,
        "estimatedArrivalTime": 0,
        "busy": False,
        "contractAddressUrl": "",
        "contractAddress": "",
    }


def register(sim: "Sim") -> None:
    def coins(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        account = ctx.require_account()
        assets = sim.symbols.assets("spot") | set(account.spot)
        out = []
        for coin in sorted(assets):
            bal = account.spot.get(coin)
            out.append(
                {
                    "coin": coin,
                    "depositAllEnable": False,
                    "withdrawAllEnable": False,
                    "name": COIN_NAMES.get(coin, coin),
                    "free": fmt(bal.free if bal else ZERO),
                    "locked": fmt(bal.locked if bal else ZERO),
                    "freeze": "0",
                    "withdrawing": "0",
                    "ipoing": "0",
                    "ipoable": "0",
                    "storage": "0",
                    "isLegalMoney": False,
                    "trading": True,
                    "networkList": [_network(coin)],
                }
            )
        return out

    def pairs(p: Params) -> list[Any]:
        specs = sorted(sim.symbols.by_market("spot"), key=lambda s: s.symbol)
        symbol = p.get("symbol")
        if symbol is not None:
            spec = sim.symbols.find(symbol, "spot")
            if spec is None:
                raise errors.invalid_symbol()
            specs = [spec]
        return specs

    def cross_pairs(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        ordered = sorted(sim.symbols.by_market("spot"), key=lambda s: s.symbol)
        ids = {s.symbol: PAIR_ID_BASE + i for i, s in enumerate(ordered)}
        return [
            {
                "base": s.base,
                "id": ids[s.symbol],
                "isBuyAllowed": True,
                "isMarginTrade": True,
                "isSellAllowed": True,
                "quote": s.quote,
                "symbol": s.symbol,
            }
            for s in pairs(p)
        ]

    def isolated_pairs(ctx: Ctx, p: Params) -> list[dict[str, Any]]:
        return [
            {"base": s.base, "isBuyAllowed": False, "isMarginTrade": False, "isSellAllowed": False, "quote": s.quote, "symbol": s.symbol}
            for s in pairs(p)
        ]

    sim.api.route("GET", "/sapi/v1/capital/config/getall", coins, security=USER_DATA, weight=10, market="wallet", allowed=frozenset())
    sim.api.route(
        "GET", "/sapi/v1/margin/allPairs", cross_pairs, security=MARKET_DATA, weight=1, market="margin", allowed=frozenset({"symbol"})
    )
    sim.api.route(
        "GET",
        "/sapi/v1/margin/isolated/allPairs",
        isolated_pairs,
        security=MARKET_DATA,
        weight=10,
        market="margin",
        allowed=frozenset({"symbol"}),
    )
