"""How many entries the actors' bounded memories keep (each forgets its oldest entries first).

| name             | where                                            | default          | what it remembers                            |
|------------------|--------------------------------------------------|------------------|----------------------------------------------|
| `coverage_fills` | control (control/coverage.py)                    | 50000 per market | master fills, to journal what a sync covered |
| `master_dedupe`  | master listeners (master/state.py Deduper)       | 100000           | fills seen, to drop an event delivered twice |
| `slave_orders`   | slave USD-M account (slave/accounts/usdm.py)     | 20000            | executed quantity applied per order id       |
| `slave_trades`   | slave spot / margin account (accounts/spot.py)   | 20000            | trades applied to the balances               |

Each entry costs 100 to 500 bytes, so a process levels off at a few MB above its start once its
memories are full (after hours to days at a master's usual pace). `COPYTRADER_MEMORY_LIMITS`
(`name=N,name=N`, e.g. in supervisord's `environment=`) overrides them for one process; the soak test
(tests/integration/test_soak_memory.py) makes them small so that every bound is reached within its
warm-up, and any growth left is a leak. A bad value stops the process at start, naming it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace

ENV = "COPYTRADER_MEMORY_LIMITS"


@dataclass(frozen=True)
class Limits:
    coverage_fills: int = 50_000
    master_dedupe: int = 100_000
    slave_orders: int = 20_000
    slave_trades: int = 20_000


def parse_limits(text: str) -> Limits:
    """`name=N,name=N` (names of `Limits`, N >= 1) -> Limits; ValueError naming what is wrong."""
    known = {f.name for f in fields(Limits)}
    values: dict[str, int] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, sep, raw = item.partition("=")
        name = name.strip()
        if not sep or name not in known:
            raise ValueError(f"{ENV}: {item!r} is not name=N with a name in {sorted(known)}")
        try:
            value = int(raw)
        except ValueError:
            raise ValueError(f"{ENV}: {name}={raw.strip()!r} is not a whole number") from None
        if value < 1:
            raise ValueError(f"{ENV}: {name} must be at least 1, not {value}")
        values[name] = value
    return replace(Limits(), **values)


LIMITS = parse_limits(os.environ.get(ENV, ""))
