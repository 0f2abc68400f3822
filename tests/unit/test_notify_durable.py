"""actors/control/notify.py + actors/control/journal.py: accepted alerts survive a control crash inside the grouping
window (journalled pending, re-offered by the next start), and are sent once in the normal path."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from actors.config import NotificationsConfig
from actors.control.journal import Journal, JournalStore, now_ms
from actors.control.notify import RESENT_MARK, Alert, Notifier, alert_for_report, alert_process_died
from protocol import messages as m
from tests.helpers.wait import aeventually


class FakeSender:
    """Stands in for apprise: records (title, body); `ok` decides whether delivery succeeds."""

    def __init__(self, ok: bool = True) -> None:
        self.ok = ok
        self.sent: list[tuple[str, str]] = []

    def __call__(self, title: str, body: str) -> bool:
        self.sent.append((title, body))
        return self.ok


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def config(window: float = 5.0, interval: float = 60.0) -> NotificationsConfig:
    return NotificationsConfig(group_window_s=window, min_interval_s=interval)


def order_failed(slave: str) -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave,
        market="usdm",
        symbol="BTCUSDT",
        position_side="BOTH",
        side="BUY",
        master_order_id=1,
        master_trade_id=1,
        qty=Decimal("0.01"),
        error_code=-2019,
        error_msg="Margin is insufficient.",
    )


def died(slave: str) -> Alert:
    return alert_process_died(f"slave-{slave}", "STARTING")


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "journal.db"


@pytest.fixture
async def journal(db: Path) -> AsyncIterator[Journal]:
    j = Journal(db)
    yield j
    await j.close()


async def crash(notifier: Notifier, journal: Journal) -> Journal:
    """What SIGKILL does to control: the window timer never fires, nothing pending is sent, nothing
    more is written. (Writes queued before it happened reach SQLite within a loop tick; the
    bug was a kill seconds later, inside the window.) Returns the journal a new control opens."""
    await journal.flush()
    if notifier._timer is not None:
        notifier._timer.cancel()
        notifier._timer = None
    notifier._pool.shutdown(wait=False)
    await journal.close()
    return Journal(journal.path)


async def until_idle(notifier: Notifier, sender: FakeSender, n: int) -> None:
    await aeventually(lambda: _async(len(sender.sent) >= n and not notifier._inflight), what=f"{n} sent")
    await notifier.drain()


async def _async(value: bool) -> bool:
    return value


# ------------------------------------------------------------------------------------ crash inside the window


async def test_alert_pending_at_a_crash_is_sent_after_restart_once(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    assert first.alert(died("slave08"))
    reopened = await crash(first, journal)
    assert sender.sent == []  # the window never closed
    second = Notifier(config(window=0.05), reopened, sender)
    try:
        offered = await second.recover()

        await until_idle(second, sender, 1)
        await reopened.flush()

        assert offered == 1
        [(title, body)] = sender.sent
        assert title == f"copytrader: slave-slave08 died and was restarted by supervisor{RESENT_MARK}"
        assert "stopped unexpectedly" in body
        assert [s for s, _ in (await reopened.alert_states()).values()] == ["sent"]
        [note] = await reopened.query(10, kind="notify")
        assert note.summary.startswith("sent: copytrader: slave-slave08 died") and note.slave_id == "slave08"
    finally:
        await second.close()
    third = Notifier(config(window=0.05), reopened, sender)  # a later restart: nothing left to send
    try:
        assert await third.recover() == 0
        assert third.batcher.deadline is None
    finally:
        await third.close()
        await reopened.close()


async def test_a_grouped_window_is_recovered_as_one_grouped_message(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    first.alert(died("slave08"))
    first.alert(alert_for_report(order_failed("slave03")))  # type: ignore[arg-type]
    reopened = await crash(first, journal)
    second = Notifier(config(window=0.05), reopened, sender)
    try:
        assert await second.recover() == 2

        await until_idle(second, sender, 1)

        [(title, body)] = sender.sent
        assert title == "copytrader: 2 alerts (1 slave down, 1 order rejected)"
        assert body.count(RESENT_MARK) == 2 and "slave03: order rejected" in body
    finally:
        await second.close()
        await reopened.close()


async def test_crashing_again_before_the_resend_keeps_the_alert_and_marks_it_once(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    first.alert(died("slave08"))
    j2 = await crash(first, journal)
    second = Notifier(config(window=30), j2, sender)
    assert await second.recover() == 1
    j3 = await crash(second, j2)
    third = Notifier(config(window=0.05), j3, sender)
    try:
        assert await third.recover() == 1

        await until_idle(third, sender, 1)

        [(title, _)] = sender.sent
        assert title.endswith("supervisor" + RESENT_MARK)  # marked once, not twice
    finally:
        await third.close()
        await j3.close()


async def test_a_failed_delivery_stays_pending_and_is_resent_after_restart(journal: Journal) -> None:
    broken = FakeSender(ok=False)
    first = Notifier(config(window=0.01), journal, broken)
    first.alert(died("slave08"))
    await aeventually(lambda: _async(first.failed == 1), what="delivery failure")
    await journal.flush()
    assert [v for v in (await journal.alert_states()).values()] == [("pending", 1)]
    reopened = await crash(first, journal)
    sender = FakeSender()
    second = Notifier(config(window=0.01), reopened, sender)
    try:
        assert await second.recover() == 1

        await until_idle(second, sender, 1)
        await reopened.flush()

        assert sender.sent[0][0].endswith(RESENT_MARK)
        assert [v for v in (await reopened.alert_states()).values()] == [("sent", 1)]
    finally:
        await second.close()
        await reopened.close()


# ------------------------------------------------------------------------------------ the normal path


async def test_a_delivered_alert_is_not_resent_after_a_restart(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=0.01), journal, sender)
    first.alert(died("slave08"))
    await until_idle(first, sender, 1)
    reopened = await crash(first, journal)  # even a crash after delivery: the mark was written
    second = Notifier(config(window=0.01), reopened, sender)
    try:
        assert await second.recover() == 0
        assert second.batcher.deadline is None and len(sender.sent) == 1
    finally:
        await second.close()
        await reopened.close()


async def test_a_graceful_stop_sends_the_window_and_nothing_is_resent(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    first.alert(died("slave08"))
    await first.close()  # control's stop(): send what is pending now
    await journal.close()
    reopened = Journal(journal.path)
    second = Notifier(config(window=0.01), reopened, sender)
    try:
        assert await second.recover() == 0
        assert [t for t, _ in sender.sent] == ["copytrader: slave-slave08 died and was restarted by supervisor"]
    finally:
        await second.close()
        await reopened.close()


async def test_without_a_channel_the_alert_is_journalled_and_finished(journal: Journal) -> None:
    first = Notifier(config(window=0.01), journal)  # no URL: AppriseSender with no channel
    first.alert(died("slave08"))
    await aeventually(lambda: _async(len(first.sent) == 1), what="window closed")
    await journal.flush()

    assert [s for s, _ in (await journal.alert_states()).values()] == ["unsent"]
    [note] = await journal.query(10, kind="notify")
    assert note.summary.startswith("not sent (no channel configured)")
    await first.close()


async def test_a_repeat_after_restart_is_suppressed_like_before_it(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=0.01, interval=60), journal, sender)
    first.alert(died("slave08"))
    await until_idle(first, sender, 1)
    reopened = await crash(first, journal)
    clock = Clock()
    second = Notifier(config(window=0.01, interval=60), reopened, sender, clock=clock)
    try:
        await second.recover()

        assert not second.alert(died("slave08"))  # same key, seconds after the last one
        assert second.alert(died("slave09"))
        clock.t += 61
        assert second.alert(died("slave08"))  # the interval has passed
    finally:
        await second.close()
        await reopened.close()


async def test_a_resent_alert_absorbs_the_same_alert_raised_again_after_restart(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    first.alert(died("slave08"))
    reopened = await crash(first, journal)
    second = Notifier(config(window=0.05), reopened, sender)
    try:
        await second.recover()
        assert not second.alert(died("slave08"))  # the new control sees the same fault: one message

        await until_idle(second, sender, 1)

        assert len(sender.sent) == 1 and sender.sent[0][0].endswith(RESENT_MARK)
    finally:
        await second.close()
        await reopened.close()


# ------------------------------------------------------------------------------------ bounds and bad rows


def test_store_expires_pending_alerts_past_the_bound_and_prunes_old_finished_ones(db: Path) -> None:
    store = JournalStore(db)
    try:
        now = now_ms()
        body = msgspec.msgpack.encode(died("s1"))
        store.write(
            [],
            [
                ("INSERT INTO alerts (alert_id, ts_ms, key, body) VALUES (?, ?, ?, ?)", ("old", now - 7_200_000, "k1", body)),
                ("INSERT INTO alerts (alert_id, ts_ms, key, body) VALUES (?, ?, ?, ?)", ("new", now - 1_000, "k2", body)),
                (
                    "INSERT INTO alerts (alert_id, ts_ms, key, state, body) VALUES (?, ?, ?, 'sent', ?)",
                    ("ancient", now - 30 * 86_400_000, "k3", body),
                ),
            ],
        )

        found = store.alerts_for_restart(now, resend_within_ms=3_600_000, dedup_within_ms=60_000)

        assert [p.alert_id for p in found.pending] == ["new"] and found.expired == 1
        assert found.recent_keys == [("k2", now - 1_000)]
        assert store.alert_states() == {"old": ("expired", 0), "new": ("pending", 0)}
    finally:
        store.close()


async def test_recover_reports_expired_alerts_in_the_journal_as_an_error(journal: Journal) -> None:
    sender = FakeSender()
    first = Notifier(config(window=30), journal, sender)
    first.alert(died("slave08"))
    reopened = await crash(first, journal)
    second = Notifier(config(window=0.01), reopened, sender, resend_within_s=0)  # everything is too old
    try:
        assert await second.recover() == 0
        await reopened.flush()

        [note] = await reopened.query(10, kind="notify")
        assert "1 alert(s)" in note.summary and "not re-sent" in note.summary and not note.acked
        assert [s for s, _ in (await reopened.alert_states()).values()] == ["expired"]
    finally:
        await second.close()
        await reopened.close()


async def test_an_unreadable_pending_alert_is_dropped_with_an_error_not_a_crash(journal: Journal) -> None:
    journal.alert_accepted("bad", "k", b"\xc1not msgpack")
    journal.alert_accepted("good", "down:slave-s1", msgspec.msgpack.encode(died("s1")))
    await journal.flush()
    sender = FakeSender()
    notifier = Notifier(config(window=0.01), journal, sender)
    try:
        assert await notifier.recover() == 1

        await until_idle(notifier, sender, 1)
        await journal.flush()

        assert await journal.alert_states() == {"bad": ("unreadable", 0), "good": ("sent", 0)}
    finally:
        await notifier.close()


async def test_journal_rejects_an_unknown_alert_state(journal: Journal) -> None:
    with pytest.raises(ValueError, match="alert state must be one of"):
        journal.alerts_done(["x"], "delivered-ish")
