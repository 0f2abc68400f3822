"""How every copy did (issue 22, the fill-quality ledger; pure, no I/O): from the journal's
decisions, one row per copy of a master fill and one summary per slave.

Per copy (an `OrderMirrored` of a master fill; a check's corrections and flattens are not
copies): the master's fill price and time, the slave's average fill price and its ack time, the
slippage in basis points against the master's price, signed so that adverse is positive (a buy
that paid more, a sell that got less: (slave - master) / master x 10^4 for a buy, the negative
for a sell), and the latency from the master listener's receipt of the fill to the slave's
acknowledgement (one host's monotonic clock). A copy that executed nothing has no slippage.

Per slave: copies, how many filled anything, orders failed, copies skipped by reason, the
slippage and latency p50 / p90 (nearest rank: the value at rank ceil(q x n) of the sorted list),
and from its USD-M income (`IncomeReport`, actors/slave/income.py; each (type, tranId) counted
once however often it was read) the realized PnL, the commissions (negative: paid), the funding
fees (negative: paid) and their net with any other income; and from its equity samples (control
journals each slave's equity, the sum over its markets in USDT, every 5 minutes: kind "equity")
the first and last equity, the high-water mark and the maximum drawdown from it (in % of the mark
and in USDT), over the samples of the period. Spot and margin PnL and unrealized PnL apart are not
reported yet.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal
from typing import NamedTuple

import msgspec

from protocol.control_api import SlaveLedger
from protocol.messages import IncomeReport, MirrorSkipped, OrderFailed, OrderMirrored, SlaveReport

BPS = Decimal(10_000)


class CopyRow(msgspec.Struct, frozen=True, kw_only=True):
    ts_ms: int  # when the journal took the report
    slave_id: str
    market: str
    symbol: str
    side: str  # the slave's side
    qty: Decimal  # ordered
    executed_qty: Decimal
    master_price: Decimal | None
    price: Decimal | None  # the slave's average fill price
    slippage_bps: Decimal | None  # adverse positive
    master_time_ms: int
    latency_ms: Decimal | None  # master listener's receipt -> the slave's ack
    status: str
    master_order_id: int
    master_trade_id: int


class EquityStats(NamedTuple):
    first: Decimal
    last: Decimal
    hwm: Decimal
    max_drawdown_pct: Decimal
    max_drawdown: Decimal


def equity_stats(samples: Iterable[Decimal]) -> EquityStats | None:
    """First, last, high-water mark and the maximum drawdown (the deepest fall below the running
    mark: its % of that mark, and the same fall in USDT) of equity samples in time order."""
    values = [v for v in samples if v is not None and v > 0]
    if not values:
        return None
    hwm, worst_pct, worst = values[0], Decimal(0), Decimal(0)
    for v in values:
        hwm = max(hwm, v)
        fall = hwm - v
        if fall / hwm * 100 > worst_pct:
            worst_pct, worst = fall / hwm * 100, fall
    return EquityStats(values[0], values[-1], hwm, worst_pct, worst)


def slippage_bps(side: str, master_price: Decimal | None, price: Decimal | None) -> Decimal | None:
    """The slave's fill against the master's, in basis points, adverse positive."""
    if not master_price or price is None or master_price <= 0 or price <= 0:
        return None
    diff = (price - master_price) / master_price * BPS
    return diff if side == "BUY" else -diff


def copy_row(ts_ms: int, r: OrderMirrored) -> CopyRow:
    price = r.avg_price if r.executed_qty > 0 else None
    latency = Decimal(r.t_order_acked_ns - r.t_master_recv_ns) / Decimal(1_000_000) if r.t_master_recv_ns else None
    return CopyRow(
        ts_ms=ts_ms,
        slave_id=r.slave_id,
        market=r.market,
        symbol=r.symbol,
        side=r.side,
        qty=r.qty,
        executed_qty=r.executed_qty,
        master_price=r.master_price,
        price=price,
        slippage_bps=slippage_bps(r.side, r.master_price, price),
        master_time_ms=r.master_time_ms,
        latency_ms=latency,
        status=r.status,
        master_order_id=r.master_order_id,
        master_trade_id=r.master_trade_id,
    )


def is_copy(r: SlaveReport) -> bool:
    """A decision about a master fill (not a check's correction, a flatten or a reconciliation's cover)."""
    return isinstance(r, (OrderMirrored, MirrorSkipped, OrderFailed)) and r.master_seq > 0


def copy_rows(reports: Iterable[tuple[int, SlaveReport]]) -> list[CopyRow]:
    """(journal time, report) -> the rows of the copies among them, in their order."""
    return [copy_row(ts, r) for ts, r in reports if isinstance(r, OrderMirrored) and is_copy(r)]


def percentile(values: list[Decimal], q: float) -> Decimal | None:
    """Nearest rank: the value at rank ceil(q x n) (1-based) of the sorted values."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def summarize(reports: Iterable[tuple[int, SlaveReport]], equity: Iterable[tuple[int, str, Decimal]] = ()) -> list[SlaveLedger]:
    """One summary per slave, by slave id (`equity`: (ts_ms, slave id, equity) samples in time order)."""
    rows: dict[str, list[CopyRow]] = {}
    curves: dict[str, list[Decimal]] = {}
    for _, slave_id, value in equity:
        curves.setdefault(slave_id, []).append(value)
        rows.setdefault(slave_id, [])
    failed: dict[str, int] = {}
    skipped: dict[str, dict[str, int]] = {}
    income: dict[str, dict[tuple[str, int], Decimal]] = {}
    for ts, r in reports:
        if isinstance(r, IncomeReport):
            rows.setdefault(r.slave_id, [])
            mine = income.setdefault(r.slave_id, {})
            for item in r.items:
                mine[(item.income_type, item.tran_id)] = item.income  # read twice: counted once
            continue
        if not is_copy(r):
            continue
        assert isinstance(r, (OrderMirrored, MirrorSkipped, OrderFailed))
        rows.setdefault(r.slave_id, [])
        if isinstance(r, OrderMirrored):
            rows[r.slave_id].append(copy_row(ts, r))
        elif isinstance(r, OrderFailed):
            failed[r.slave_id] = failed.get(r.slave_id, 0) + 1
        elif r.reason != "not_copied" or "covered by reconciliation" not in r.text:
            by_reason = skipped.setdefault(r.slave_id, {})
            by_reason[r.reason] = by_reason.get(r.reason, 0) + 1
    out = []
    for slave_id in sorted(rows):
        mine = rows[slave_id]
        slip = [c.slippage_bps for c in mine if c.slippage_bps is not None]
        lat = [c.latency_ms for c in mine if c.latency_ms is not None]
        got = income.get(slave_id, {})
        curve = equity_stats(curves.get(slave_id, ()))

        def total(kind: str | None, got: dict[tuple[str, int], Decimal] = got) -> Decimal:
            return sum((v for (t, _), v in got.items() if kind is None or t == kind), Decimal(0))

        out.append(
            SlaveLedger(
                slave_id=slave_id,
                copies=len(mine),
                filled=sum(1 for c in mine if c.executed_qty > 0),
                failed=failed.get(slave_id, 0),
                skipped=dict(sorted(skipped.get(slave_id, {}).items())),
                slippage_p50_bps=percentile(slip, 0.5),
                slippage_p90_bps=percentile(slip, 0.9),
                latency_p50_ms=percentile(lat, 0.5),
                latency_p90_ms=percentile(lat, 0.9),
                realized_pnl=total("REALIZED_PNL"),
                commission=total("COMMISSION"),
                funding=total("FUNDING_FEE"),
                net_income=total(None),
                equity_first=curve.first if curve else None,
                equity_last=curve.last if curve else None,
                equity_hwm=curve.hwm if curve else None,
                max_drawdown_pct=curve.max_drawdown_pct if curve else None,
                max_drawdown=curve.max_drawdown if curve else None,
            )
        )
    return out


DAY_MS = 86_400_000
SUMMARY_AT_MS = 5 * 60_000  # the daily summary goes out at 00:05 UTC, for the day before


def next_summary_ms(now_ms: int) -> int:
    """When the next daily summary is due (00:05 UTC today if still ahead, else tomorrow)."""
    due = now_ms // DAY_MS * DAY_MS + SUMMARY_AT_MS
    return due if due > now_ms else due + DAY_MS


def daily_summary_text(summaries: Iterable[SlaveLedger]) -> str:
    """The daily summary notification's body: one line per slave (USD-M income, drawdown,
    slippage, skipped copies)."""

    def d(value: Decimal | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    lines = []
    for s in summaries:
        skipped = sum(s.skipped.values())
        reasons = ", ".join(f"{k} {v}" for k, v in s.skipped.items())
        lines.append(
            f"{s.slave_id}: pnl {s.realized_pnl:f} fees {s.commission:f} funding {s.funding:f} net {s.net_income:f} USDT; "
            f"max drawdown {d(s.max_drawdown_pct, '.2f')} %; "
            f"slippage p50 {d(s.slippage_p50_bps, '.2f')} p90 {d(s.slippage_p90_bps, '.2f')} bps; "
            f"{s.copies} copies, {s.failed} failed, {skipped} skipped" + (f" ({reasons})" if reasons else "")
        )
    return "\n".join(lines) or "no copies, income or equity samples"
