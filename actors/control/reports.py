"""What control does with the slaves' reports and the masters' events: the journal, the fills
coverage, the live pushes, and the stream-lost watch (a mixin of `ControlActor`)."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import msgspec

from protocol.codec import decode_master_event, decode_slave_report, unpack_master_event
from protocol.errors import ProtocolError
from protocol.messages import (
    Heartbeat,
    MasterEvent,
    MasterFill,
    MirrorSkipped,
    OrderFailed,
    OrderMirrored,
    PauseAllChanged,
    Reconciled,
    SlaveError,
    SlaveReport,
    SlaveStatusReport,
)

from ..base import Frames
from .commands.status import MasterView
from .coverage import fill_ref, is_covering_skip
from .journal import CoveredBody, record_for_covered, record_for_equity, record_for_master_event, record_for_report, tag_of
from .ledger import DAY_MS, daily_summary_text, next_summary_ms, summarize
from .notify import Alert, alert_for_report, alert_stream_lost
from .rules import _slave_stream_alert, log

EQUITY_SAMPLE_S = float(os.environ.get("COPYTRADER_EQUITY_SAMPLE_S", "300"))  # the ledger's equity curve (tests: shorter)


class Reports:
    """A part of `ControlActor` (its state is the actor's)."""

    # ------------------------------------------------------------------------------ reports
    def _on_report(self, frames: Frames) -> None:
        try:
            report = decode_slave_report(frames[-1])
        except ProtocolError as exc:
            self.bad_reports += 1
            log.warning("bad slave report dropped: %s", exc.reason)
            return
        self.note_report(report)

    def note_report(self, report: SlaveReport) -> None:
        """Journal, remember, alert and push one slave report."""
        if isinstance(report, SlaveStatusReport):
            previous = self.statuses.get(report.slave_id)
            self.statuses[report.slave_id] = report
            self._track_slave_streams(report)
            self._sample_equity(report)
            if previous is None or (previous.state, previous.errors) != (report.state, report.errors):
                self.journal.append(record_for_report(report))
        else:
            self.journal.append(record_for_report(report))
            self._note_coverage(report)
        if isinstance(report, SlaveError):
            self.last_errors[report.slave_id] = report
        alert = alert_for_report(report)
        if alert is not None:
            self.notifier.alert(alert)
        self.push(tag_of(report), report)

    def _sample_equity(self, report: SlaveStatusReport) -> None:
        """Journal a slave's equity (the sum over its markets, USDT) every EQUITY_SAMPLE_S: the
        ledger's equity curve, high-water mark and drawdown (ledger.py). Not while a market's
        equity is unknown."""
        values = [m.equity for m in report.markets]
        if not values or any(v is None for v in values):
            return
        now = time.monotonic()
        if now - self.equity_sampled.get(report.slave_id, -EQUITY_SAMPLE_S) < EQUITY_SAMPLE_S:
            return
        self.equity_sampled[report.slave_id] = now
        self.journal.append(record_for_equity(report.slave_id, sum(values, Decimal(0))))  # type: ignore[arg-type]

    def _on_master_event(self, frames: Frames) -> None:
        try:
            event: MasterEvent = unpack_master_event(frames)
        except ProtocolError:
            self.bad_master_events += 1
            return
        if isinstance(event, Heartbeat):
            self.heartbeats[event.market] = (time.monotonic(), event)
            return
        self.master_views.setdefault(event.market, MasterView()).note(event)
        record = record_for_master_event(event)
        if record is not None:
            self.journal.append(record)
        if isinstance(event, MasterFill):
            ref = fill_ref(event)
            for slave_id, snap_seq in self.coverage.add_fill(ref):  # its Reconciled came first
                self.journal.append(
                    record_for_covered(slave_id, ref.market, ref.symbol, ref.order_id, ref.trade_id, ref.epoch, ref.seq, snap_seq)
                )

    # ------------------------------------------------------------------------------ coverage
    def _note_coverage(self, report: SlaveReport, *, journal: bool = True) -> None:
        """Decisions feed the coverage index; a sync's Reconciled journals the fills it covered."""
        cov = self.coverage
        if isinstance(report, (OrderMirrored, OrderFailed, MirrorSkipped)):
            covering = isinstance(report, MirrorSkipped) and is_covering_skip(report.reason, report.text)
            cov.add_decision(report.slave_id, report.market, report.master_epoch, report.master_seq, report.symbol, covering=covering)
        elif isinstance(report, Reconciled) and report.master_epoch:
            for fill in cov.reconciled(report.slave_id, report.market, report.master_epoch, report.master_seq):
                if journal:
                    self.journal.append(
                        record_for_covered(
                            report.slave_id, fill.market, fill.symbol, fill.order_id, fill.trade_id, fill.epoch, fill.seq, report.master_seq
                        )
                    )

    async def _load_coverage(self) -> None:
        """After a restart: master fills, decisions and covered rows from the journal."""
        try:
            rows = await self.journal.coverage_rows()
        except Exception as exc:  # noqa: BLE001 - an unreadable journal must not stop control
            log.error("coverage index not rebuilt from the journal: %s", exc)
            return
        for kind, slave_id, market, body in rows:
            if body is None:
                continue
            try:
                if kind == "master.fill":
                    event = decode_master_event(body)
                    if isinstance(event, MasterFill):
                        self.coverage.add_fill(fill_ref(event))
                elif kind == "covered":
                    c = msgspec.msgpack.decode(body, type=CoveredBody)
                    if slave_id and market:
                        self.coverage.add_decision(slave_id, market, c.epoch, c.seq, "", covering=True)
                else:
                    self._note_coverage(decode_slave_report(body), journal=False)
            except (ProtocolError, msgspec.DecodeError, msgspec.ValidationError):
                continue

    # ------------------------------------------------------------------------------ stream watch
    def _track(self, key: str, up: bool, now: float, alert: Callable[[float], Any]) -> None:
        if up:
            self._lost_since.pop(key, None)
            self._lost_alerted.discard(key)
            return
        since = self._lost_since.setdefault(key, now)
        lost_for = now - since
        if lost_for >= self.config.notifications.stream_lost_after_s and key not in self._lost_alerted:
            self._lost_alerted.add(key)
            self.notifier.alert(alert(lost_for))

    def _track_slave_streams(self, report: SlaveStatusReport) -> None:
        now = time.monotonic()
        for market in report.markets:
            key = f"{report.slave_id}:{market.market}"
            self._track(key, market.connected, now, lambda s, r=report, m=market.market: _slave_stream_alert(r.slave_id, m, s))

    def check_master_streams(self, now: float | None = None) -> None:
        now = time.monotonic() if now is None else now
        limit = max(3.0, self.config.notifications.stream_lost_after_s)
        for market in self.config.masters:
            seen = self.heartbeats.get(market)
            up = seen is not None and seen[1].connected and now - seen[0] < limit
            if seen is None:
                self._lost_since.setdefault(f"master:{market}", self._started_at)
            self._track(f"master:{market}", up, now, lambda s, m=market: alert_stream_lost(m, s))

    async def _daily_summary(self) -> None:
        """At 00:05 UTC every day, one notification with yesterday's ledger per slave (ledger.py);
        a day control was down at 00:05 gets none (`copytrader report --daily` has it)."""
        while True:
            now = int(time.time() * 1000)
            await asyncio.sleep((next_summary_ms(now) - now) / 1000)
            try:
                await self.send_daily_summary(int(time.time() * 1000) // DAY_MS * DAY_MS - DAY_MS)
            except Exception:  # noqa: BLE001 - tomorrow's is tried all the same
                log.exception("daily summary failed")

    async def send_daily_summary(self, day_ms: int) -> None:
        """The notification of the UTC day that starts at `day_ms`."""
        reports, equity = await self.journal.ledger_input(day_ms, None)
        reports = [(ts, r) for ts, r in reports if ts < day_ms + DAY_MS]
        equity = [e for e in equity if e[0] < day_ms + DAY_MS]
        day = time.strftime("%Y-%m-%d", time.gmtime(day_ms / 1000))
        body = daily_summary_text(summarize(reports, equity))
        self.notifier.alert(
            Alert(category="daily_summary", key=f"daily_summary:{day}", title=f"copytrader daily summary {day} (UTC)", body=body)
        )

    async def _ticker(self) -> None:
        last_pause = 0.0
        while True:
            await asyncio.sleep(self.tick_s)
            try:
                self.check_master_streams()
                now = time.monotonic()
                if now - last_pause >= self.republish_s:
                    last_pause = now
                    self.publish(PauseAllChanged(paused=self.state.paused_all, version=self.state.version))
            except Exception:  # never let the watchdog die
                log.exception("control tick failed")
