"""Assets counted at par in USDT equity, by the master's listener and by the slaves alike (one rule
for both sides, so balance_multiplier's k compares like with like). Imports nothing."""

from __future__ import annotations

#: Wallet assets counted at par in USDT equity (others move equity only at the next REST refresh).
USD_ASSETS = frozenset({"USDT", "USDC", "FDUSD", "BUSD", "USD", "BFUSD"})

__all__ = ["USD_ASSETS"]
