"""`copytrader report`: how every copy did, from the journal (actors/control/ledger.py).

    copytrader [--config FILE] report [--slave ID] [--since WHEN] [--format table|csv|json]

WHEN: "24h", "7d", "30m" back from now, or a UTC date or time ("2026-12-01", "2026-12-01T08:00");
default the last 24 h. table: one line per slave (copies, filled, failed, skipped by reason,
slippage and latency p50 / p90, USD-M realized PnL, fees, funding and net income), then one per
copy; csv: one row per copy; json: both; --daily: one line (csv: row) per UTC day and slave. Reads the
control actor's journal (`<state_dir>/journal.db`) directly, read-only: it works whether or not
control runs, and never writes.

Exit codes: 0 ok, 2 usage or invalid input (a bad --since, no journal yet).
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io as _io
import os
import re
import sqlite3
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

import msgspec

from actors.config import ConfigError, load_config

from ..control.ledger import CopyRow, SlaveLedger, copy_rows, summarize
from .control import CONFIG_ENV, DEFAULT_CONFIG, EXIT_OK, EXIT_USAGE

COLUMNS = ("time", "slave", "market", "symbol", "side", "qty", "executed", "master_price", "price", "slippage_bps", "latency_ms", "status")
_RELATIVE = re.compile(r"^(\d+(?:\.\d+)?)([mhd])$")


def parse_since(text: str, now_s: float) -> int:
    """--since as epoch ms; ValueError naming the accepted forms."""
    found = _RELATIVE.match(text.strip())
    if found:
        seconds = float(found.group(1)) * {"m": 60, "h": 3600, "d": 86400}[found.group(2)]
        return int((now_s - seconds) * 1000)
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise ValueError(f'--since: expected "24h", "7d", "30m" or a UTC date / time such as 2026-12-01T08:00, got {text!r}') from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    return int(when.timestamp() * 1000)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def _utc_day(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ms / 1000))


def _fixed(value: Any, fmt: str) -> str:
    return format(value, fmt) if value is not None else ""


def _row(c: CopyRow) -> list[str]:
    when = time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(c.ts_ms / 1000))
    slip = f"{c.slippage_bps:.2f}" if c.slippage_bps is not None else ""
    lat = f"{c.latency_ms:.1f}" if c.latency_ms is not None else ""
    return [when, c.slave_id, c.market, c.symbol, c.side, _text(c.qty), _text(c.executed_qty), _text(c.master_price),
            _text(c.price), slip, lat, c.status]  # fmt: skip


def _summary_line(s: SlaveLedger) -> str:
    def d(value: Any, fmt: str) -> str:
        return format(value, fmt) if value is not None else "-"

    skipped = ", ".join(f"{k} {v}" for k, v in s.skipped.items()) or "none"
    return (
        f"{s.slave_id:<16} copies {s.copies:<5} filled {s.filled:<5} failed {s.failed:<3} "
        f"slippage p50 {d(s.slippage_p50_bps, '.2f')} p90 {d(s.slippage_p90_bps, '.2f')} bps  "
        f"latency p50 {d(s.latency_p50_ms, '.1f')} p90 {d(s.latency_p90_ms, '.1f')} ms  skipped: {skipped}  "
        f"usdm: realized {s.realized_pnl:f} fees {s.commission:f} funding {s.funding:f} net {s.net_income:f} USDT"
        + (
            f"  equity {s.equity_first:f} -> {s.equity_last:f} (high {s.equity_hwm:f}), max drawdown {s.max_drawdown_pct:.2f} %"
            f" ({s.max_drawdown:f} USDT)"
            if s.equity_first is not None and s.max_drawdown_pct is not None
            else ""
        )
    )


def render(reports: list[tuple[int, Any]], fmt: str, out: TextIO, equity: Sequence[tuple[int, str, Any]] = ()) -> None:
    rows, summary = copy_rows(reports), summarize(reports, equity)
    if fmt == "json":
        out.write(msgspec.json.encode({"slaves": summary, "copies": rows}).decode() + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(_row(c) for c in rows)
        return
    if not summary:
        out.write("no copies in that time\n")
        return
    for s in summary:
        out.write(_summary_line(s) + "\n")
    out.write("\n")
    table = [list(COLUMNS)] + [_row(c) for c in rows]
    widths = [max(len(r[i]) for r in table) for i in range(len(COLUMNS))]
    for r in table:
        out.write("  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() + "\n")


def read_decisions(journal: Path, since_ms: int, slave_id: str | None) -> tuple[list[tuple[int, Any]], list[tuple[int, str, Any]]]:
    """The journal's decisions and equity samples since `since_ms`, opened read-only (control may be writing)."""
    from ..control.journal import _decisions_query, _equity_query

    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        db.execute("PRAGMA busy_timeout=5000")
        return _decisions_query(db, since_ms, slave_id), _equity_query(db, since_ms, slave_id)
    finally:
        db.close()


def read_daily(journal: Path, since_ms: int) -> list[tuple[str, SlaveLedger]]:
    from ..control.retention import daily

    db = sqlite3.connect(f"file:{journal}?mode=ro", uri=True)
    try:
        return daily(db, time.strftime("%Y-%m-%d", time.gmtime(since_ms / 1000)))
    finally:
        db.close()


def render_daily(
    kept: list[tuple[str, SlaveLedger]],
    reports: list[tuple[int, Any]],
    equity: list[tuple[int, str, Any]],
    slave: str | None,
    fmt: str,
    out: TextIO,
) -> None:
    """One summary per UTC day and slave: the kept aggregates of pruned days, the journal's rows
    for the others."""
    days: dict[str, list[tuple[int, Any]]] = {}
    curves: dict[str, list[tuple[int, str, Any]]] = {}
    for ts, r in reports:
        days.setdefault(_utc_day(ts), []).append((ts, r))
    for sample in equity:
        curves.setdefault(_utc_day(sample[0]), []).append(sample)
        days.setdefault(_utc_day(sample[0]), [])
    done = {day for day, _ in kept}
    lines = [(day, s) for day, s in kept if slave is None or s.slave_id == slave]
    lines += [(day, s) for day, group in sorted(days.items()) if day not in done for s in summarize(group, curves.get(day, []))]
    lines.sort(key=lambda x: (x[0], x[1].slave_id))
    if fmt == "json":
        out.write(msgspec.json.encode([{"day": day, **msgspec.structs.asdict(s)} for day, s in lines]).decode() + "\n")
        return
    if fmt == "csv":
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(("day", "slave", "copies", "filled", "failed", "slippage_p50_bps", "slippage_p90_bps", "latency_p50_ms",
                         "latency_p90_ms", "skipped", "realized_pnl", "commission", "funding", "net_income"))  # fmt: skip
        for day, s in lines:
            figures = [_fixed(s.slippage_p50_bps, ".2f"), _fixed(s.slippage_p90_bps, ".2f"), _fixed(s.latency_p50_ms, ".1f"),
                       _fixed(s.latency_p90_ms, ".1f")]  # fmt: skip
            skipped = " ".join(f"{k}={v}" for k, v in s.skipped.items())
            money = (f"{v:f}" for v in (s.realized_pnl, s.commission, s.funding, s.net_income))
            writer.writerow((day, s.slave_id, s.copies, s.filled, s.failed, *figures, skipped, *money))
        return
    for day, s in lines:
        out.write(f"{day}  {_summary_line(s)}\n")
    if not lines:
        out.write("no copies in that time\n")


def main_report(argv: Sequence[str], stdout: TextIO | None = None, stderr: TextIO | None = None, now_s: float | None = None) -> int:
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parser = argparse.ArgumentParser(prog="copytrader report", description="how every copy did (the ledger)")
    parser.add_argument("--config", default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG))
    parser.add_argument("--timeout", type=float, default=10.0, help=argparse.SUPPRESS)
    parser.add_argument("command", choices=("report",))
    parser.add_argument("--slave", help="one slave id")
    parser.add_argument("--since", default="24h", help='"24h", "7d", "30m" or a UTC date / time (default 24h)')
    parser.add_argument("--format", choices=("table", "csv", "json"), default="table")
    parser.add_argument("--daily", action="store_true", help="one line per UTC day and slave (pruned days from their kept aggregates)")
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        since = parse_since(args.since, time.time() if now_s is None else now_s)
        journal = load_config(Path(args.config)).state_dir / "journal.db"
        if not journal.exists():
            raise ValueError(f"no journal at {journal} yet (the control actor writes it)")
        reports, equity = read_decisions(journal, since, args.slave)
        kept = read_daily(journal, since) if args.daily else []
    except (ValueError, ConfigError, sqlite3.Error) as exc:
        err.write(f"copytrader: {exc}\n")
        return EXIT_USAGE
    buffer = _io.StringIO()
    if args.daily:
        render_daily(kept, reports, equity, args.slave, args.format, buffer)
    else:
        render(reports, args.format, buffer, equity)
    out.write(buffer.getvalue())
    return EXIT_OK
