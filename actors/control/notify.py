"""Notifications for what needs a person: apprise URLs (Telegram, Discord, e-mail, webhooks ...).

Policy (pure, `AlertBatcher`, tested with an injected clock):
- an alert carries a dedup `key`; the same key is accepted at most once per `min_interval_s`
  (suppressed repeats are counted and mentioned in the next message);
- the first alert opens a window of `group_window_s`; everything accepted until it closes goes out
  as ONE message (20 slaves failing at once = one grouped notification). So at most one message
  leaves per window.

`Notifier` is the asyncio shell: `alert()` never blocks; apprise (blocking) runs on its own thread;
every message is journalled as kind "notify" (an undelivered one as an error).

Durability (at least once across a control crash): every accepted alert gets an `alert_id` and is
journalled as pending (the journal's `alerts` table, written by its writer thread, off the loop);
delivery marks it 'sent' in the same transaction as its "notify" row. `recover()`, run when control
starts, re-offers every alert a previous run accepted but never delivered (killed inside the
grouping window, or delivery failed), if younger than `resend_within_s`, marked
"(re-sent after a control restart)". A crash between delivery and its journal write sends that
alert again: a duplicate after a crash is accepted, a lost alert is not. Normal runs send once.

Apprise URLs can hold tokens (a Telegram bot token is a secret): they are never logged or
journalled, only counted.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING, Final, Literal

import msgspec

from protocol.messages import DesyncDetected, OrderFailed, SlaveError, SlaveReport

from .journal import now_ms, record_for_event, summarize_report

if TYPE_CHECKING:
    from ..config import NotificationsConfig
    from .journal import Journal

log = logging.getLogger("copytrader.notify")

Category = Literal[
    "order_rejected",
    "slave_down",
    "slave_flapping",
    "desync",
    "key_invalid",
    "stream_lost",
    "margin_low",
    "slave_error",
    "actor_down",
    "guard",
    "daily_summary",
]
SENT_KEPT: Final = 100  # notifications kept in memory (every one is in the journal)
MAX_LINES: Final = 40  # lines listed in a grouped message; the rest are counted
RESEND_WITHIN_S: Final = 3600.0  # undelivered alerts older than this are not re-sent after a restart
RESENT_MARK: Final = " (re-sent after a control restart)"
_KEY_CODES: Final = ("key_invalid", "key_expired", "key_revoked", "key_permissions", "key")
_MARGIN_CODES: Final = ("margin_low", "margin_level_low", "margin_call")
_STREAM_CODES: Final = ("stream_lost", "ws_down", "userdata_down", "stream_down")


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    category: Category
    key: str  # dedup key: the same key is sent at most once per min_interval_s
    title: str
    body: str = ""
    slave_id: str | None = None
    alert_id: str = ""  # set by Notifier when accepted; the journal's `alerts` row


class Notification(msgspec.Struct, frozen=True, kw_only=True):
    title: str
    body: str
    alerts: tuple[Alert, ...]
    suppressed: int = 0  # duplicates dropped since the previous message


# ------------------------------------------------------------------------------------ alerts (pure)


def _slave_error_category(code: str) -> Category:
    if code.startswith(_KEY_CODES):
        return "key_invalid"
    if code in _MARGIN_CODES:
        return "margin_low"
    if code in _STREAM_CODES:
        return "stream_lost"
    if code.startswith("guard_"):  # a guard of the slave acted (once per time it is set): not an error
        return "guard"
    return "slave_error"


def alert_for_report(report: SlaveReport) -> Alert | None:
    """The alert a slave report raises, if it needs a person."""
    match report:
        case OrderFailed():
            return Alert(
                category="order_rejected",
                slave_id=report.slave_id,
                key=f"order_rejected:{report.slave_id}:{report.symbol}:{report.error_code}",
                title=f"{report.slave_id}: order rejected",
                body=summarize_report(report),
            )
        case DesyncDetected() if report.cause in ("drift", "stale"):
            return Alert(
                category="desync",
                slave_id=report.slave_id,
                key=f"desync:{report.slave_id}:{report.market}",
                title=f"{report.slave_id}: desync found",
                body=summarize_report(report),
            )
        case SlaveError():
            category = _slave_error_category(report.code)
            return Alert(
                category=category,
                slave_id=report.slave_id,
                key=f"{category}:{report.slave_id}:{report.code}",
                title=f"{report.slave_id}: {report.code.replace('_', ' ')}",
                body=summarize_report(report),
            )
    return None


def alert_process_down(name: str, state: str, detail: str = "") -> Alert:
    slave = name[len("slave-") :] if name.startswith("slave-") else None
    return Alert(
        category="slave_down" if slave else "actor_down",
        slave_id=slave,
        key=f"down:{name}",
        title=f"{name} is {state}",
        body=detail or f"supervisor reports {name} {state}",
    )


def alert_process_died(name: str, info_state: str, detail: str = "") -> Alert:
    """A program that was RUNNING died without us asking (killed, crashed); supervisor restarts it.
    Same key as `alert_process_down`, so a crash that then fails to start is one message."""
    slave = name[len("slave-") :] if name.startswith("slave-") else None
    return Alert(
        category="slave_down" if slave else "actor_down",
        slave_id=slave,
        key=f"down:{name}",
        title=f"{name} died and was restarted by supervisor",
        body=detail or f"{name} stopped unexpectedly (now {info_state}); it reconciles before it trades again",
    )


def alert_flapping(name: str, starts: int, window_s: float) -> Alert:
    slave = name[len("slave-") :] if name.startswith("slave-") else None
    return Alert(
        category="slave_flapping",
        slave_id=slave,
        key=f"flapping:{name}",
        title=f"{name} is flapping",
        body=f"{starts} starts within {window_s:.0f}s",
    )


def alert_stream_lost(market: str, seconds: float) -> Alert:
    return Alert(
        category="stream_lost",
        key=f"stream_lost:master-{market}",
        title=f"master-{market}: stream lost",
        body=f"no live master stream for {seconds:.0f}s",
    )


def render(alerts: tuple[Alert, ...], suppressed: int = 0) -> tuple[str, str]:
    """Title and body of one message for `alerts` (non-empty)."""
    more = f"\n({suppressed} repeated alert(s) suppressed)" if suppressed else ""
    if len(alerts) == 1:
        alert = alerts[0]
        return f"copytrader: {alert.title}", (alert.body or alert.title) + more
    counts = Counter(a.category for a in alerts)
    what = ", ".join(f"{n} {cat.replace('_', ' ')}" for cat, n in counts.most_common())
    lines = [f"- {a.title}: {a.body}" if a.body else f"- {a.title}" for a in alerts[:MAX_LINES]]
    if len(alerts) > MAX_LINES:
        lines.append(f"... and {len(alerts) - MAX_LINES} more")
    return f"copytrader: {len(alerts)} alerts ({what})", "\n".join(lines) + more


class AlertBatcher:
    """Dedup + grouping policy. Times are seconds of any monotonic clock, passed in."""

    def __init__(self, group_window_s: float, min_interval_s: float) -> None:
        self.group_window_s = group_window_s
        self.min_interval_s = min_interval_s
        self._pending: list[Alert] = []
        self._last: dict[str, float] = {}
        self._suppressed = 0
        self.deadline: float | None = None

    def remember(self, key: str, at: float) -> None:
        """`key` was accepted at `at` (by a previous run): repeats within min_interval_s are suppressed."""
        last = self._last.get(key)
        if last is None or at > last:
            self._last[key] = at

    def offer(self, alert: Alert, now: float, *, force: bool = False) -> bool:
        """Accept the alert (True) or suppress a repeat within min_interval_s (False).
        `force`: accept even a repeat (an alert re-offered after a restart was never delivered)."""
        last = self._last.get(alert.key)
        if not force and last is not None and now - last < self.min_interval_s:
            self._suppressed += 1
            return False
        self._last[alert.key] = now
        if not self._pending:
            self.deadline = now + self.group_window_s
        self._pending.append(alert)
        if len(self._last) > 10_000:  # forget keys long past their interval
            self._last = {k: t for k, t in self._last.items() if now - t < self.min_interval_s}
        return True

    def take(self, now: float) -> Notification | None:
        """The grouped message once the window has closed, else None."""
        if not self._pending or self.deadline is None or now < self.deadline:
            return None
        alerts = tuple(self._pending)
        title, body = render(alerts, self._suppressed)
        note = Notification(title=title, body=body, alerts=alerts, suppressed=self._suppressed)
        self._pending.clear()
        self._suppressed = 0
        self.deadline = None
        return note


# ------------------------------------------------------------------------------------ sending

Sender = Callable[[str, str], bool]  # (title, body) -> delivered; blocking, runs on a thread


class AppriseSender:
    """Delivers through apprise to every configured URL."""

    def __init__(self, urls: tuple[str, ...]) -> None:
        import apprise

        self._apprise = apprise.Apprise()
        self.channels = 0
        for url in urls:
            if self._apprise.add(url):
                self.channels += 1
            else:
                log.error("notification URL #%d is not a valid apprise URL (ignored)", urls.index(url) + 1)

    def __call__(self, title: str, body: str) -> bool:
        if not self.channels:
            return False
        return bool(self._apprise.notify(title=title, body=body))


class Notifier:
    """asyncio front: `alert()` never blocks; grouped messages go out from a worker thread."""

    def __init__(
        self,
        config: "NotificationsConfig",
        journal: "Journal | None" = None,
        sender: Sender | None = None,
        clock: Callable[[], float] | None = None,
        resend_within_s: float = RESEND_WITHIN_S,
    ) -> None:
        self.batcher = AlertBatcher(config.group_window_s, config.min_interval_s)
        self.journal = journal
        self.sender: Sender = sender if sender is not None else AppriseSender(config.urls)
        self.configured = bool(config.urls) or sender is not None
        self._clock = clock
        self.resend_within_s = resend_within_s
        self._ids = itertools.count(1)
        self._id_prefix = uuid.uuid4().hex[:16]  # alert ids: unique across runs, cheap within one
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="notify")
        self._timer: asyncio.TimerHandle | None = None
        self._inflight: set[asyncio.Future[bool]] = set()
        self.sent: deque[Notification] = deque(maxlen=SENT_KEPT)  # the latest, for status and tests (bounded)
        self.failed = 0

    def _now(self) -> float:
        return self._clock() if self._clock else asyncio.get_running_loop().time()

    def alert(self, alert: Alert) -> bool:
        """Queue an alert; False if suppressed as a repeat. An accepted alert is journalled as pending
        (written at the end of this loop tick) until it is delivered."""
        alert = msgspec.structs.replace(alert, alert_id=f"{self._id_prefix}-{next(self._ids)}")
        if not self.batcher.offer(alert, self._now()):
            return False
        if self.journal is not None:
            self.journal.alert_accepted(alert.alert_id, alert.key, msgspec.msgpack.encode(alert))
        self._arm()
        return True

    async def recover(self) -> int:
        """At start: re-offer the alerts earlier runs accepted and never delivered (younger than
        resend_within_s) and remember the keys accepted within min_interval_s (repeats stay
        suppressed across the restart). Returns how many alerts were re-offered."""
        if self.journal is None:
            return 0
        now = now_ms()
        try:
            found = await self.journal.alerts_for_restart(now, int(self.resend_within_s * 1000), int(self.batcher.min_interval_s * 1000))
        except Exception as exc:  # noqa: BLE001 - an unreadable journal must not stop control
            log.error("undelivered alerts not recovered from the journal: %s", exc)
            return 0
        mono = self._now()
        for key, ts_ms in found.recent_keys:
            self.batcher.remember(key, mono - max(0, now - ts_ms) / 1000)
        if found.expired:
            log.error("%d undelivered alert(s) older than %.0fs not re-sent", found.expired, self.resend_within_s)
            self.journal.append(
                record_for_event(
                    "notify",
                    f"{found.expired} alert(s) accepted before a control restart and never delivered are "
                    f"older than {self.resend_within_s:.0f}s: not re-sent",
                    error=True,
                )
            )
        offered = 0
        for row in found.pending:
            try:
                alert = msgspec.msgpack.decode(row.body, type=Alert)
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                log.error("undelivered alert %s unreadable (%s): dropped", row.alert_id, exc)
                self.journal.alerts_done([row.alert_id], "unreadable")
                continue
            alert = msgspec.structs.replace(alert, alert_id=row.alert_id, title=alert.title + RESENT_MARK)
            self.batcher.offer(alert, mono, force=True)
            offered += 1
        if offered:
            log.warning("%d alert(s) not delivered before a control restart: re-sent", offered)
            self._arm()
        return offered

    def _arm(self) -> None:
        if self._timer is None and self.batcher.deadline is not None:
            loop = asyncio.get_running_loop()
            delay = max(0.0, self.batcher.deadline - self._now())
            self._timer = loop.call_later(delay, self._window_closed)

    def _window_closed(self) -> None:
        self._timer = None
        note = self.batcher.take(self._now())
        if note is None:  # clock not there yet (coarse timer): try again shortly
            if self.batcher.deadline is not None:
                self._timer = asyncio.get_running_loop().call_later(0.01, self._window_closed)
            return
        self._send(note)

    def _send(self, note: Notification) -> None:
        self.sent.append(note)
        if not self.configured:
            self._journal(note, delivered=None)
            return
        fut = asyncio.get_running_loop().run_in_executor(self._pool, self._deliver, note)
        self._inflight.add(fut)
        fut.add_done_callback(lambda f: self._delivered(note, f))

    def _deliver(self, note: Notification) -> bool:
        try:
            return self.sender(note.title, note.body)
        except Exception as exc:  # a broken channel must not kill the thread; no URL in the text
            log.error("notification delivery raised %s", type(exc).__name__)
            return False

    def _delivered(self, note: Notification, fut: asyncio.Future[bool]) -> None:
        self._inflight.discard(fut)
        ok = (not fut.cancelled()) and fut.exception() is None and bool(fut.result())
        if not ok:
            self.failed += 1
            log.error("notification not delivered: %s", note.title)
        self._journal(note, delivered=ok)

    def _journal(self, note: Notification, delivered: bool | None) -> None:
        if self.journal is None:
            return
        ids = [a.alert_id for a in note.alerts if a.alert_id]
        if delivered is False:
            self.journal.alerts_failed(ids)  # stay pending: re-offered by the next control start
        else:
            self.journal.alerts_done(ids, "sent" if delivered else "unsent")
        status = {None: "not sent (no channel configured)", True: "sent", False: "delivery FAILED"}[delivered]
        slaves = {a.slave_id for a in note.alerts}
        slave_id = slaves.pop() if len(slaves) == 1 else None
        self.journal.append(record_for_event("notify", f"{status}: {note.title}\n{note.body}", slave_id=slave_id, error=delivered is False))

    async def drain(self) -> None:
        """Wait for the messages being delivered right now."""
        if self._inflight:
            await asyncio.gather(*self._inflight, return_exceptions=True)

    async def close(self) -> None:
        """Send what is pending now (no waiting for the window), then stop."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.batcher.deadline is not None:
            note = self.batcher.take(self.batcher.deadline)
            if note is not None:
                self._send(note)
        await self.drain()
        self._pool.shutdown(wait=False)
