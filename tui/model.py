"""What the TUI knows, and how it is shown: pure data and functions (no Textual, no I/O).

`Store` holds the last answers of the control actor and folds the live pushes into them;
`row_cells` turns one slave into the dashboard's cells (text + style), so the table only touches
the cells whose text changed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Final

import msgspec

from protocol.control_api import JournalEntry, SlaveLedger, SlaveSummary, StatusResult
from protocol.messages import (
    DesyncDetected,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PositionDrift,
    Reconciled,
    SlaveError,
    SlaveStatusReport,
)
from protocol.slave_config import sizing_label

LATENCY_SAMPLES: Final = 60  # kept per slave for the sparkline and the percentiles
SPARK_WIDTH: Final = 8
SPARK_BARS: Final = "▁▂▃▄▅▆▇█"

STATE_STYLES: Final = {
    "running": "green",
    "paused": "yellow",
    "stopped": "grey50",
    "error": "bold red",
    "restarting": "magenta",
    "starting": "cyan",
    "unknown": "grey50",
}

COLUMNS: Final = ("slave", "state", "sizing", "equity", "pos", "lat", "spark", "error", "name")
COLUMN_TITLES: Final = {
    "slave": "Slave",
    "state": "State",
    "sizing": "Sizing",
    "equity": "Equity",
    "pos": "Pos",
    "lat": "Lat",
    "spark": "Recent",
    "error": "Last error",
    "name": "Name",
}
COLUMN_WIDTHS: Final = {
    "slave": 10,
    "state": 10,
    "sizing": 7,
    "equity": 9,
    "pos": 7,
    "lat": 7,
    "spark": SPARK_WIDTH,
    "error": 24,
    "name": 16,
}
SORTS: Final = ("slave", "state", "equity", "lat", "pos")

Cell = tuple[str, str]  # (text, rich style)


# ----------------------------------------------------------------------------------- formatting


def plain(value: Decimal | None, places: int | None = None) -> str:
    """A decimal as a plain string (never "1E-5"); `places` rounds it for display."""
    if value is None:
        return "-"
    try:
        if places is not None:
            value = value.quantize(Decimal(1).scaleb(-places))
        text = format(value, "f")
    except (InvalidOperation, ValueError):
        return "?"
    if "." in text and places is None:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def qty_text(value: Decimal | None) -> str:
    """A quantity to at most 8 decimals, without trailing zeros."""
    if value is None:
        return "-"
    try:
        return plain(value.quantize(Decimal("1E-8")))
    except InvalidOperation:
        return plain(value)


def latency_text(ns: int | None) -> str:
    if ns is None or ns < 0:
        return "-"
    ms = ns / 1_000_000
    return f"{ms:.1f}ms" if ms < 100 else f"{ms:.0f}ms"


def sparkline(values: Sequence[int], width: int = SPARK_WIDTH) -> str:
    """The last `width` values as block characters scaled between their min and max."""
    tail = list(values)[-width:]
    if not tail:
        return ""
    low, high = min(tail), max(tail)
    span = high - low
    top = len(SPARK_BARS) - 1
    return "".join(SPARK_BARS[0 if span == 0 else round((v - low) * top / span)] for v in tail)


def percentile(values: Iterable[int], q: float) -> int | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None if there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, -(-len(ordered) * q // 100))  # ceil(n * q / 100), at least 1
    return ordered[int(rank) - 1]


def local_time(ts_ms: int) -> str:
    return time.strftime("%H:%M:%S", time.localtime(ts_ms / 1000))


def sizing_text(summary: SlaveSummary) -> str:
    c = summary.config
    if c.sizing in ("fixed_amount", "fixed_fraction"):
        return sizing_label(c).removesuffix(" each")
    return f"r {plain(c.ratio)}" if c.sizing == "fixed_ratio" else f"x{plain(c.multiplier)} bal"


def equity_of(summary: SlaveSummary) -> Decimal | None:
    if summary.status is None:
        return None
    values = [m.equity for m in summary.status.markets if m.equity is not None]
    return sum(values, Decimal(0)) if values else None


def is_drift(p: PositionDrift) -> bool:
    """The slave's own judgement: it knows the symbol's step size and min notional, and how far
    balance-multiplier sizing may move with equity (`PositionDrift.in_sync`)."""
    return not p.in_sync


def positions_of(summary: SlaveSummary) -> list[tuple[str, PositionDrift]]:
    if summary.status is None:
        return []
    return [(m.market, p) for m in summary.status.markets for p in m.positions]


def sync_cell(summary: SlaveSummary) -> Cell:
    if summary.status is None:
        return ("-", "grey50")
    held = [p for _, p in positions_of(summary) if p.actual or p.expected]
    drift = sum(1 for p in held if is_drift(p))
    if drift:
        return (f"drift {drift}", "bold yellow")
    return (f"ok {len(held)}", "green")


def state_of(summary: SlaveSummary) -> str:
    return summary.state or "unknown"


def mirror_latency(report: OrderMirrored) -> int | None:
    """Master receipt of the exchange event -> slave order acknowledged (monotonic ns)."""
    if report.t_master_recv_ns and report.t_order_acked_ns >= report.t_master_recv_ns:
        return report.t_order_acked_ns - report.t_master_recv_ns
    return None


def summarize(event: object) -> str:
    """One line for a live event in the journal view (the journal's own lines come from control)."""
    match event:
        case OrderMirrored():
            price = event.avg_price if event.avg_price is not None else event.price
            at = f" @ {plain(price)}" if price is not None else ""
            return (
                f"{event.side} {plain(event.qty)} {event.symbol} {event.position_side} -> "
                f"#{event.exchange_order_id} {event.status}{at} ({latency_text(mirror_latency(event))})"
            )
        case MirrorSkipped():
            text = f" ({event.text})" if event.text else ""
            return f"skip {event.side} {plain(event.qty)} {event.symbol}: {event.reason}{text}"
        case OrderFailed():
            return f"FAILED {event.side} {plain(event.qty)} {event.symbol}: {event.error_code} {event.error_msg}"
        case DesyncDetected():
            return f"desync {event.market}: {event.cause}" + (f" ({event.detail})" if event.detail else "")
        case Reconciled():
            return f"reconciled {event.market}: {event.orders} order(s)"
        case SlaveError():
            return f"{'FATAL ' if event.fatal else ''}{event.code}: {event.message}"
    return type(event).__name__


# ----------------------------------------------------------------------------------- cells


def row_cells(summary: SlaveSummary, latencies: Sequence[int]) -> dict[str, Cell]:
    state = state_of(summary)
    last = summary.status.last_latency_ns if summary.status is not None else None
    if last is None and latencies:
        last = latencies[-1]
    equity = equity_of(summary)
    return {
        "slave": (summary.config.id, "bold"),
        "state": (state, STATE_STYLES.get(state, "")),
        "sizing": (sizing_text(summary), ""),
        "equity": (plain(equity, 2) if equity is not None else "-", ""),
        "pos": sync_cell(summary),
        "lat": (latency_text(last), ""),
        "spark": (sparkline(latencies), "cyan"),
        "error": (summary.last_error, "red" if summary.last_error else ""),
        "name": (summary.config.name, ""),
    }


def sort_key(column: str, store: "Store") -> Callable[[str], tuple[object, ...]]:
    """Key over slave ids for the dashboard sort on `column`."""

    def key(slave_id: str) -> tuple[object, ...]:
        s = store.slaves.get(slave_id)
        if s is None:
            return (1, slave_id)
        if column == "state":
            return (0, state_of(s), slave_id)
        if column == "equity":
            eq = equity_of(s)
            return (0, -(eq if eq is not None else Decimal(-1)), slave_id)
        if column == "lat":
            lat = store.latencies.get(slave_id)
            return (0, -(lat[-1] if lat else -1), slave_id)
        if column == "pos":
            return (0, 0 if sync_cell(s)[0].startswith("drift") else 1, slave_id)
        return (0, slave_id)

    return key


def matches(summary: SlaveSummary, text: str) -> bool:
    """Filter: every word of `text` appears in the slave's id, name, state, sizing or markets."""
    hay = " ".join(
        (
            summary.config.id,
            summary.config.name,
            state_of(summary),
            summary.config.sizing,
            *summary.config.markets,
            "error" if summary.last_error else "",
        )
    ).lower()
    return all(word in hay for word in text.lower().split())


# ----------------------------------------------------------------------------------- the store


@dataclass
class Store:
    """The control actor's view as last told, plus what the TUI accumulates (latencies)."""

    status: StatusResult | None = None
    slaves: dict[str, SlaveSummary] = field(default_factory=dict)
    latencies: dict[str, deque[int]] = field(default_factory=dict)

    def set_slaves(self, summaries: Iterable[SlaveSummary]) -> set[str]:
        """Replace every slave; returns the ids that changed, appeared or vanished."""
        fresh = {s.config.id: s for s in summaries}
        changed = {i for i, s in fresh.items() if self.slaves.get(i) != s} | (set(self.slaves) - set(fresh))
        self.slaves = fresh
        for gone in set(self.latencies) - set(fresh):
            del self.latencies[gone]
        return changed

    def put(self, summary: SlaveSummary) -> bool:
        before = self.slaves.get(summary.config.id)
        self.slaves[summary.config.id] = summary
        return before != summary

    def remove(self, slave_id: str) -> bool:
        self.latencies.pop(slave_id, None)
        return self.slaves.pop(slave_id, None) is not None

    def note_status_report(self, report: SlaveStatusReport) -> tuple[bool, bool]:
        """Fold in a periodic report: (row changed, state changed: ask control for the new state)."""
        summary = self.slaves.get(report.slave_id)
        if summary is None:
            return False, True
        before = summary.status
        self.slaves[report.slave_id] = msgspec.structs.replace(summary, status=report)
        changed = before is None or msgspec.structs.replace(before, t_ns=0) != msgspec.structs.replace(report, t_ns=0)
        state_changed = before is None or before.state != report.state or before.errors != report.errors
        return changed, state_changed

    def note_latency(self, slave_id: str, ns: int) -> None:
        self.latencies.setdefault(slave_id, deque(maxlen=LATENCY_SAMPLES)).append(ns)

    def note_error(self, report: SlaveError) -> bool:
        summary = self.slaves.get(report.slave_id)
        if summary is None:
            return False
        self.slaves[report.slave_id] = msgspec.structs.replace(summary, last_error=report.message)
        return True

    def seed_latencies(self, entries: Iterable[JournalEntry]) -> None:
        """Latencies of past mirrored orders (journal entries, newest first)."""
        per_slave: dict[str, list[int]] = {}
        for entry in entries:
            if isinstance(entry.report, OrderMirrored) and entry.slave_id:
                ns = mirror_latency(entry.report)
                if ns is not None:
                    per_slave.setdefault(entry.slave_id, []).append(ns)
        for slave_id, values in per_slave.items():
            self.latencies[slave_id] = deque(reversed(values[:LATENCY_SAMPLES]), maxlen=LATENCY_SAMPLES)

    @property
    def paused_all(self) -> bool:
        return bool(self.status and self.status.paused_all)


def copyable_text(summary: SlaveSummary) -> str:
    """The pre-trade check per symbol the master holds or traded (actors/domain/copyability.py)."""
    parts: list[str] = []
    markets = summary.status.markets if summary.status is not None else ()
    for ms in markets:
        for c in ms.copyable:
            if c.entries != "ok":
                parts.append(f"{ms.market} {c.symbol}: entries refused ({c.entries})")
                continue
            size = "every entry" if not c.smallest_master_qty else f"master entries >= {plain(c.smallest_master_qty)}"
            lev = f" at {c.leverage}x" if c.leverage else ""
            margin = {True: ", margin ok", False: ", margin SHORT", None: ""}[c.margin_ok]
            parts.append(f"{ms.market} {c.symbol}: copies {size}{lev}{margin}")
    return "pre-trade check: " + ("".join(f"\n  {p}" for p in parts) if parts else "no symbol traded by the master yet")


# ------------------------------------------------------------------------------ the ledger (detail screen)
def drawdown_series(equity: Sequence[Decimal]) -> list[float]:
    """Per equity sample, how far (%) it is under the running high-water mark."""
    out: list[float] = []
    hwm = Decimal(0)
    for value in equity:
        hwm = max(hwm, value)
        out.append(float((hwm - value) / hwm * 100) if hwm > 0 else 0.0)
    return out


def histogram(values: Sequence[Decimal], bins: int = 16) -> tuple[list[float], Decimal | None, Decimal | None]:
    """Counts of `values` in `bins` equal bins from their least to their greatest, and those two."""
    if not values:
        return [], None, None
    lo, hi = min(values), max(values)
    counts = [0.0] * bins
    width = (hi - lo) / bins
    for v in values:
        index = bins - 1 if width == 0 or v >= hi else int((v - lo) / width)
        counts[min(index, bins - 1)] += 1
    return counts, lo, hi


def ledger_text(s: SlaveLedger | None) -> str:
    """The ledger's summary as the detail screen shows it (actors/control/ledger.py)."""
    if s is None:
        return "ledger: no copy, income or equity sample in the last 24 h"

    def d(value: Decimal | None, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    skipped = ", ".join(f"{k} {v}" for k, v in s.skipped.items()) or "none"
    lines = [
        f"last 24 h: {s.copies} copies, {s.filled} filled, {s.failed} failed; skipped: {skipped}",
        f"slippage p50 {d(s.slippage_p50_bps, '.2f')}  p90 {d(s.slippage_p90_bps, '.2f')} bps (adverse > 0)   "
        f"latency p50 {d(s.latency_p50_ms, '.1f')}  p90 {d(s.latency_p90_ms, '.1f')} ms",
        f"usdm realized {plain(s.realized_pnl)}  fees {plain(s.commission)}  funding {plain(s.funding)}  net {plain(s.net_income)} USDT",
    ]
    if s.equity_first is not None and s.equity_last is not None:
        lines.append(
            f"equity {plain(s.equity_first)} -> {plain(s.equity_last)}  high {plain(s.equity_hwm)}  "
            f"max drawdown {d(s.max_drawdown_pct, '.2f')} % ({plain(s.max_drawdown)} USDT)"
        )
    return "\n".join(lines)
