"""Slave detail: settings, positions next to the expected size, latency, decisions, log tail, and
the ledger (the last 24 h: copies, slippage, income, equity and drawdown charts)."""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING, Final

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Log, Sparkline, Static, TabbedContent, TabPane

from protocol.control_api import (
    AckError,
    GetLedger,
    GetLogTail,
    JournalEntry,
    JournalResult,
    LedgerResult,
    LogTailResult,
    QueryJournal,
    SlaveSummary,
)
from protocol.messages import OrderMirrored

from ..model import (
    LATENCY_SAMPLES,
    STATE_STYLES,
    copyable_text,
    drawdown_series,
    histogram,
    is_drift,
    latency_text,
    ledger_text,
    local_time,
    mirror_latency,
    percentile,
    plain,
    positions_of,
    qty_text,
    state_of,
)
from ..widgets.topbar import TopBar
from .dashboard import SlaveActions

if TYPE_CHECKING:
    from ..app import Changes, CopyTraderApp

DECISIONS: Final = 200
LOG_LINES: Final = 200
DECISION_KINDS: Final = frozenset({"mirrored", "skipped", "failed", "desync", "reconciled", "slaveerr"})


def settings_text(summary: SlaveSummary) -> Text:
    c = summary.config
    state = state_of(summary)
    sizing = {
        "fixed_ratio": f"fixed ratio {plain(c.ratio)}",
        "fixed_amount": f"fixed amount: {plain(c.amount)} USDT notional per entry",
        "fixed_fraction": f"fixed fraction: {plain((c.fraction or 0) * 100)} % of equity notional per entry",
    }.get(c.sizing, f"balance x{plain(c.multiplier)} (slave equity / master equity)")
    caps = ", ".join(f"{k}={plain(v)}" for k, v in c.symbol_max_notional.items())
    rows = [
        ("state", Text(state, style=STATE_STYLES.get(state, "")), f"process {summary.process_state}"),
        ("enabled", "yes" if c.enabled else "NO", "paused" if c.paused else ""),
        ("markets", ", ".join(c.markets), ""),
        ("sizing", sizing, ""),
        ("symbols", f"allow {', '.join(c.symbols_allow) or 'all'}", f"deny {', '.join(c.symbols_deny) or '-'}"),
        ("caps", f"max notional {plain(c.max_position_notional)}  max lev {c.max_leverage or '-'}", caps),
        (
            "policy",
            f"min notional {c.min_notional_policy}  on start {c.on_start}  reverse {'yes' if c.reverse else 'no'}",
            f"margin level min {plain(c.margin_level_min)}" if c.margin_level_min is not None else "",
        ),
    ]
    guards = (
        (["close-only: entries are not copied"] if c.close_only else [])
        + ([f"at most {c.max_open_positions} open positions"] if c.max_open_positions else [])
        + ([f"exposure at most {plain(c.max_total_exposure)} USDT"] if c.max_total_exposure is not None else [])
        + ([f"entries IOC within {plain(c.max_slippage_pct)} % of the master"] if c.max_slippage_pct is not None else [])
        + ([f"equity floor {plain(c.equity_floor)} USDT"] if c.equity_floor is not None else [])
        + ([f"max drawdown {plain(c.max_drawdown_pct)} %"] if c.max_drawdown_pct is not None else [])
        + ([f"on equity stop: {c.on_stop}"] if c.equity_floor is not None or c.max_drawdown_pct is not None else [])
        + ([f"daily loss limit {plain(c.daily_loss_limit)} USDT ({c.daily_loss_window})"] if c.daily_loss_limit is not None else [])
    )
    if guards:
        rows.append(("guards", Text(";  ".join(guards), style="bold yellow"), "reductions and closes are always copied"))
    if c.orders == "mirror":
        rows.append(("orders", f"mirror (resting limit orders)  settle after {c.settle_after_ms} ms", ""))
        rows.append(("stops", "mirrored on the exchange" if c.protective == "mirror" else "off (their fills are copied)", ""))
    mirrored = [o for m in (summary.status.markets if summary.status else ()) for o in m.mirrored]
    for o in mirrored[:8]:
        ours = "close-all" if o.close_position else plain(o.qty)
        master = "close-all" if o.close_position else plain(o.master_qty)
        what = f"{o.symbol} {o.side} {o.position_side} {o.order_type} @ {plain(o.price)}{' triggered' if o.triggered else ''}"
        rows.append(("copy of master", what, f"ours {ours}  master {master} (#{o.master_id})"))
    if len(mirrored) > 8:
        rows.append(("", f"... {len(mirrored) - 8} more (copytrader status)", ""))
    if summary.last_error:
        rows.append(("last error", Text(summary.last_error, style="red"), ""))
    out = Text()
    for i, (label, value, extra) in enumerate(rows):
        if i:
            out.append("\n")
        out.append(f"{label:>10}  ", style="bold")
        out.append(value if isinstance(value, Text) else Text(value))
        if extra:
            out.append(f"  {extra}", style="grey70")
    return out


def latency_summary(values: list[int]) -> str:
    if not values:
        return "latency: no mirrored order yet"
    return (
        f"latency master->ack  p50 {latency_text(percentile(values, 50))}  p99 {latency_text(percentile(values, 99))}"
        f"  last {latency_text(values[-1])}  (n={len(values)})"
    )


class DetailScreen(SlaveActions, Screen[None]):
    BINDINGS = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("e", "edit", "Edit"),
        Binding("p", "toggle_pause", "Pause/resume"),
        Binding("r", "restart", "Restart"),
        Binding("f", "flatten", "Flatten"),
        Binding("a", "ack", "Ack errors"),
        Binding("l", "reload", "Reload"),
        Binding("t", "next_tab", "Tab"),
    ]

    app: "CopyTraderApp"

    def __init__(self, slave_id: str) -> None:
        super().__init__()
        self.slave_id = slave_id
        self.latencies: deque[int] = deque(maxlen=max(LATENCY_SAMPLES, DECISIONS))
        self.unacked: set[int] = set()

    def compose(self) -> ComposeResult:
        yield TopBar(id="topbar")
        yield Static(id="detail-title")
        with TabbedContent(id="tabs"):
            with TabPane("Overview", id="tab-overview"):
                with VerticalScroll():
                    yield Static(id="settings")
                    yield DataTable(id="positions", cursor_type="none", zebra_stripes=False)
                    yield Static(id="copyable")
                    yield Static(id="latency")
                    yield Sparkline([], id="latency-spark")
            with TabPane("Decisions", id="tab-decisions"):
                yield DataTable(id="decisions", cursor_type="row", zebra_stripes=False)
            with TabPane("Log", id="tab-log"):
                yield Log(id="log", max_lines=2000, auto_scroll=True)
            with TabPane("Ledger", id="tab-ledger"), VerticalScroll():
                yield Static(id="ledger")
                for name in ("equity", "drawdown", "slippage", "latency-dist"):
                    yield Static(id=f"{name}-label", classes="spark-label")
                    yield Sparkline([], id=f"{name}-spark")
        yield Footer(compact=True)

    def on_mount(self) -> None:
        positions = self.query_one("#positions", DataTable)
        for title, key, width in (
            ("Market", "market", 6),
            ("Symbol", "symbol", 12),
            ("Side", "side", 5),
            ("Actual", "actual", 12),
            ("Expected", "expected", 12),
            ("", "sync", 6),
        ):
            positions.add_column(title, key=key, width=width)
        decisions = self.query_one("#decisions", DataTable)
        for title, key, width in (("Time", "time", 8), ("Kind", "kind", 10), ("Symbol", "symbol", 10), ("Decision", "summary", 60)):
            decisions.add_column(title, key=key, width=width)
        self.app.store_changed.subscribe(self, self.on_store_changed)
        self.app.live_event.subscribe(self, self.on_live_event)
        self.show_summary()
        self.load()

    def _slave_actions_target(self) -> str | None:
        return self.slave_id if self.slave_id in self.app.store.slaves else None

    # ------------------------------------------------------------------------------ data
    @work(exclusive=True, group="detail-load")
    async def load(self) -> None:
        journal = await self.app.send(QueryJournal(id=0, slave_id=self.slave_id, limit=DECISIONS), quiet=True)
        if isinstance(journal, JournalResult):
            self.show_decisions(journal.entries)
        ledger = await self.app.send(GetLedger(id=0, slave_id=self.slave_id), quiet=True)
        self.show_ledger(ledger if isinstance(ledger, LedgerResult) else None)
        tail = await self.app.link_request_quiet(GetLogTail(id=0, name=f"slave-{self.slave_id}", lines=LOG_LINES))
        log = self.query_one("#log", Log)
        log.clear()
        if isinstance(tail, LogTailResult):
            log.write_lines(tail.lines)
        else:
            log.write_line(f"(no log: {tail})")

    def show_ledger(self, ledger: LedgerResult | None) -> None:
        """The ledger tab: its summary, the equity and drawdown curves (the samples control takes every
        5 minutes) and the distributions of slippage and latency over the copies."""
        self.query_one("#ledger", Static).update(ledger_text(ledger.summary if ledger else None))
        equity = list(ledger.equity) if ledger else []
        slip, slip_lo, slip_hi = histogram(list(ledger.slippage_bps) if ledger else [])
        lat, lat_lo, lat_hi = histogram(list(ledger.latency_ms) if ledger else [])
        rows = {
            "equity": (f"equity, {len(equity)} samples: {plain(min(equity, default=None))} .. {plain(max(equity, default=None))} USDT",
                       [float(v) for v in equity]),
            "drawdown": (f"drawdown under the high-water mark, %: max {max(drawdown_series(equity), default=0.0):.2f}",
                         drawdown_series(equity)),
            "slippage": (f"slippage per copy, bps (count per bin): {plain(slip_lo)} .. {plain(slip_hi)}", slip),
            "latency-dist": (f"latency per copy, ms (count per bin): {plain(lat_lo)} .. {plain(lat_hi)}", lat),
        }  # fmt: skip
        for name, (label, data) in rows.items():
            self.query_one(f"#{name}-label", Static).update(label)
            self.query_one(f"#{name}-spark", Sparkline).data = data

    def show_decisions(self, entries: tuple[JournalEntry, ...]) -> None:
        table = self.query_one("#decisions", DataTable)
        table.clear()
        self.latencies.clear()
        self.unacked = {e.id for e in entries if not e.acked}
        for entry in reversed(entries):  # oldest first, newest at the bottom
            self._add_decision(entry)
        self._show_latency()

    def _add_decision(self, entry: JournalEntry) -> None:
        if entry.kind not in DECISION_KINDS:
            return
        if isinstance(entry.report, OrderMirrored):
            ns = mirror_latency(entry.report)
            if ns is not None:
                self.latencies.append(ns)
        style = "red" if entry.kind in ("failed", "slaveerr", "desync") else ("yellow" if entry.kind == "skipped" else "")
        table = self.query_one("#decisions", DataTable)
        table.add_row(local_time(entry.ts_ms), Text(entry.kind, style=style), entry.symbol or "", entry.summary)
        if table.row_count > DECISIONS:
            table.remove_row(next(iter(table.rows)))
        table.move_cursor(row=table.row_count - 1)

    def on_live_event(self, entry: JournalEntry) -> None:
        if entry.slave_id == self.slave_id:
            self._add_decision(entry)
            self._show_latency()

    def _show_latency(self) -> None:
        values = list(self.latencies)
        self.query_one("#latency", Static).update(latency_summary(values))
        self.query_one("#latency-spark", Sparkline).data = [v / 1e6 for v in values[-LATENCY_SAMPLES:]]

    def on_store_changed(self, changes: "Changes") -> None:
        if changes.status or changes.everything:
            self.query_one("#topbar", TopBar).show(self.app.link_state, self.app.link_detail, self.app.store.status)
        if changes.everything or self.slave_id in changes.slaves:
            self.show_summary()

    def show_summary(self) -> None:
        self.query_one("#topbar", TopBar).show(self.app.link_state, self.app.link_detail, self.app.store.status)
        summary = self.app.store.slaves.get(self.slave_id)
        title = self.query_one("#detail-title", Static)
        if summary is None:
            title.update(Text(f"slave {self.slave_id}: not (or no longer) configured", style="bold red"))
            return
        name = f" ({summary.config.name})" if summary.config.name else ""
        state = state_of(summary)
        title.update(Text.assemble((f"slave {self.slave_id}{name}  ", "bold"), (state, STATE_STYLES.get(state, ""))))
        self.query_one("#settings", Static).update(settings_text(summary))
        self._show_positions(summary)
        self.query_one("#copyable", Static).update(copyable_text(summary))

    def _show_positions(self, summary: SlaveSummary) -> None:
        table = self.query_one("#positions", DataTable)
        rows = positions_of(summary)
        wanted = {f"{m}:{p.symbol}:{p.position_side}": (m, p) for m, p in rows}
        for key in [k.value for k in table.rows if k.value not in wanted]:
            table.remove_row(key)
        for key, (market, p) in wanted.items():
            drift = is_drift(p)
            cells = (
                market,
                p.symbol,
                p.position_side,
                qty_text(p.actual),
                qty_text(p.expected),
                Text("drift" if drift else "ok", style="bold yellow" if drift else "green"),
            )
            if key in {k.value for k in table.rows}:
                for column, value in zip(("market", "symbol", "side", "actual", "expected", "sync"), cells, strict=False):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)
        table.styles.height = len(wanted) + 1 if wanted else 1

    # ------------------------------------------------------------------------------ actions
    def action_next_tab(self) -> None:
        """Overview -> Decisions -> Log -> Ledger -> Overview."""
        tabs = self.query_one("#tabs", TabbedContent)
        order = ["tab-overview", "tab-decisions", "tab-log", "tab-ledger"]
        tabs.active = order[(order.index(tabs.active) + 1) % len(order)] if tabs.active in order else order[0]

    def action_ack(self) -> None:
        if not self.unacked:
            self.notify("no unacknowledged error of this slave in its recent journal", timeout=3)
            return
        self.ack_errors(sorted(self.unacked))

    @work(group="detail-ack")
    async def ack_errors(self, ids: list[int]) -> None:
        for error_id in ids:
            await self.app.send(AckError(id=0, error_id=error_id), quiet=True)
        self.notify(f"{len(ids)} error(s) acknowledged", timeout=3)
        self.load()

    def action_reload(self) -> None:
        self.load()
        self.app.request_refresh(self.slave_id)
