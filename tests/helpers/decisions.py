"""Fills, configs, filters and holdings for the decision tests (tests/unit/decisions/).

Futures symbol used throughout: BTCUSDT, step 0.001, minQty 0.001, MARKET_LOT_SIZE maxQty 120,
min notional 100 USDT, price 50,000 (so 0.002 BTC = 100 USDT is the smallest opening order).
Spot/margin: the real spot BTCUSDT filters of tests/fixtures (step 0.00001, min notional 10
USDT: 0.0002 BTC at 50,000).
"""

from __future__ import annotations

import json
import pathlib
import re
from decimal import Decimal as D
from typing import Any

from actors.binance.filters import SymbolFilters, format_decimal, parse_spot_exchange_info
from actors.domain.decisions import Decision, OrderIntent, SlaveHolding, decide_fill, reconcile_target
from actors.domain.sizing import CannotSize
from protocol.messages import MasterFill, PositionEntry, SlaveConfig

FUT = SymbolFilters(
    symbol="BTCUSDT",
    base_asset="BTC",
    quote_asset="USDT",
    tick_size=D("0.10"),
    step_size=D("0.001"),
    min_qty=D("0.001"),
    max_qty=D("1000"),
    market_step_size=D("0.001"),
    market_min_qty=D("0.001"),
    market_max_qty=D("120"),
    min_notional=D("100"),
    apply_min_to_market=True,
    min_notional_exempt_reduce_only=True,
)


FIXTURES = pathlib.Path(__file__).resolve().parents[1] / "fixtures"


SPOT = parse_spot_exchange_info(json.loads((FIXTURES / "spot_exchange_info.json").read_text()))["BTCUSDT"]


PRICE = D("50000")


CFG = SlaveConfig(id="s1", markets=("usdm", "spot", "margin"), sizing="fixed_ratio", ratio=D("0.5"))


FUTURES_CID = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")  # post_fapi_v1_order.md


SAFE_CID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


def mfill(
    before: str,
    after: str,
    side: str | None = None,
    *,
    qty: str | None = None,
    ps: str = "BOTH",
    market: str = "usdm",
    price: D = PRICE,
    order_id: int = 11,
    trade_id: int = 22,
    **over: Any,
) -> MasterFill:
    b, a = D(before), D(after)
    if side is None:
        side = "BUY" if (a - b if ps != "SHORT" else b - a) > 0 else "SELL"
    fields: dict[str, Any] = dict(
        market=market,
        epoch=1,
        seq=1,
        symbol="BTCUSDT",
        position_side=ps,
        side=side,
        order_id=order_id,
        trade_id=trade_id,
        client_order_id="m",
        order_type="MARKET",
        price=price,
        qty=D(qty) if qty else abs(a - b),
        cum_qty=D(qty) if qty else abs(a - b),
        status="FILLED",
        position_before=b,
        position_after=a,
        equity=D("10000"),
        t_exchange_ms=1,
        t_master_recv_ns=1,
        t_master_pub_ns=1,
    )
    fields.update(over)
    return MasterFill(**fields)


def decide(
    fill: MasterFill,
    position: str = "0",
    *,
    k: D | CannotSize = D("0.5"),
    cfg: SlaveConfig = CFG,
    filters: SymbolFilters | None = None,
    free: str | None = None,
    margin_level: str | None = None,
    **kw: Any,
) -> Decision:
    if filters is None:
        filters = FUT if fill.market == "usdm" else SPOT
    holding = SlaveHolding(
        position=D(position), free=None if free is None else D(free), margin_level=None if margin_level is None else D(margin_level)
    )
    return decide_fill(fill, slave_id="s1", config=cfg, k=k, filters=filters, holding=holding, **kw)


def legs(decision: Decision) -> list[tuple[str, str, str, str, bool]]:
    """(side, position_side, qty, kind, reduce_only) per intent."""
    return [(i.side, i.position_side, format_decimal(i.qty), i.kind, i.reduce_only) for i in decision.intents]


def only_skip(decision: Decision) -> str:
    assert decision.intents == () and decision.skip is not None
    return decision.skip.reason


def cfg(**over: Any) -> SlaveConfig:
    base = dict(id="s1", markets=("usdm", "spot", "margin"), sizing="fixed_ratio", ratio=D("0.5"))
    base.update(over)
    return SlaveConfig(**base)


# --------------------------------------------------------------------------- cross margin


def margin_effects(d: Decision) -> list[str | None]:
    return [i.side_effect for i in d.intents]


# --------------------------------------------------------------------------- reconciliation


def pos(qty: str, ps: str = "BOTH", symbol: str = "BTCUSDT", entry: str = "50000") -> PositionEntry:
    return PositionEntry(symbol=symbol, position_side=ps, qty=D(qty), entry_price=D(entry))


def reconcile(
    master: list[PositionEntry],
    slave: dict[tuple[str, str], str],
    *,
    config: SlaveConfig = CFG,
    k: D = D("0.5"),
    market: str = "usdm",
    prices: dict[str, D] | None = None,
) -> list[OrderIntent]:
    return reconcile_target(
        master,
        {key: D(v) for key, v in slave.items()},
        k,
        {"BTCUSDT": FUT},
        market=market,
        slave_id="s1",
        config=config,
        nonce="r1",
        prices=prices,
    )


def rlegs(intents: list[OrderIntent]) -> list[tuple[str, str, str, str, bool]]:
    return [(i.side, i.position_side, format_decimal(i.qty), i.kind, i.reduce_only) for i in intents]


def margin_holding(**over: Any) -> SlaveHolding:
    base: dict[str, Any] = dict(
        position=D(0), free=D(0), margin_level=D("999"), quote_free=D("22500"), assets_value=D("25000"), liabilities_value=D(0)
    )
    base.update(over)
    return SlaveHolding(**base)
