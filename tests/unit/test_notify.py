"""actors/control/notify.py: alert policy (pure) and delivery through apprise to a local HTTP receiver."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from actors.config import NotificationsConfig
from actors.control.journal import Journal
from actors.control.notify import Alert, AlertBatcher, Notifier, alert_for_report, alert_process_down, render
from protocol import messages as m
from tests.helpers.wait import aeventually


def order_failed(slave: str, code: int = -2019, symbol: str = "BTCUSDT") -> m.OrderFailed:
    return m.OrderFailed(
        slave_id=slave,
        market="usdm",
        symbol=symbol,
        position_side="BOTH",
        side="BUY",
        master_order_id=1,
        master_trade_id=1,
        qty=Decimal("0.01"),
        error_code=code,
        error_msg="Margin is insufficient.",
    )


def slave_error(slave: str, code: str = "key_invalid") -> m.SlaveError:
    return m.SlaveError(slave_id=slave, code=code, message="API-key rejected (-2015)", fatal=True, t_ns=1)


# ------------------------------------------------------------------------------------ pure policy


def test_alerts_for_reports_need_a_person_only() -> None:
    rejected = alert_for_report(order_failed("s1"))
    assert rejected is not None and rejected.category == "order_rejected" and "-2019" in rejected.body
    assert alert_for_report(slave_error("s1")).category == "key_invalid"  # type: ignore[union-attr]
    assert alert_for_report(slave_error("s1", "margin_low")).category == "margin_low"  # type: ignore[union-attr]
    assert alert_for_report(slave_error("s1", "guard_close_only")).category == "guard"  # type: ignore[union-attr]
    drift = m.DesyncDetected(slave_id="s1", market="usdm", cause="drift", t_ns=1)
    gap = m.DesyncDetected(slave_id="s1", market="usdm", cause="gap", t_ns=1)
    assert alert_for_report(drift).category == "desync"  # type: ignore[union-attr]
    assert alert_for_report(gap) is None  # recovered automatically
    assert alert_for_report(m.SlaveStatusReport(slave_id="s1", state="running", t_ns=1)) is None
    assert alert_process_down("slave-s1", "FATAL").category == "slave_down"


def test_batcher_groups_a_window_and_suppresses_repeats() -> None:
    batcher = AlertBatcher(group_window_s=5, min_interval_s=60)
    alerts = [alert_for_report(order_failed(f"s{i}")) for i in range(20)]

    assert all(batcher.offer(a, now=100.0 + i * 0.01) for i, a in enumerate(alerts))  # type: ignore[arg-type]
    assert not batcher.offer(alerts[0], now=101.0)  # type: ignore[arg-type]
    assert batcher.take(now=104.9) is None

    note = batcher.take(now=105.0)

    assert note is not None and len(note.alerts) == 20 and note.suppressed == 1
    assert note.title.startswith("copytrader: 20 alerts (20 order rejected)")
    assert batcher.take(now=200.0) is None
    assert batcher.offer(alerts[0], now=161.0)  # min_interval passed: allowed again


def test_render_caps_the_listed_lines() -> None:
    alerts = tuple(Alert(category="slave_error", key=str(i), title=f"t{i}") for i in range(100))

    title, body = render(alerts)

    assert "100 alerts" in title
    assert body.count("\n- ") == 39 and body.endswith("... and 60 more")


# ------------------------------------------------------------------------------------ delivery


class Receiver:
    def __init__(self) -> None:
        self.posts: list[dict] = []
        self.url = ""


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    rec = Receiver()

    async def hook(request: web.Request) -> web.Response:
        rec.posts.append(await request.json())
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    rec.url = f"json://127.0.0.1:{port}/hook"
    yield rec
    await runner.cleanup()


@pytest.fixture
async def journal(tmp_path: Path) -> AsyncIterator[Journal]:
    j = Journal(tmp_path / "journal.db")
    yield j
    await j.close()


def config(url: str, window: float = 0.2, interval: float = 60) -> NotificationsConfig:
    return NotificationsConfig(urls=(url,), group_window_s=window, min_interval_s=interval)


async def test_one_failed_order_sends_one_notification_and_journals_it(receiver: Receiver, journal: Journal) -> None:
    notifier = Notifier(config(receiver.url), journal)
    try:
        assert notifier.alert(alert_for_report(order_failed("s1")))  # type: ignore[arg-type]

        await aeventually(lambda: _async(len(receiver.posts) == 1), what="one post")
        await notifier.drain()
        [post] = receiver.posts
        assert post["title"] == "copytrader: s1: order rejected"
        assert "-2019 Margin is insufficient." in post["message"]
        [entry] = await journal.query(10, kind="notify")
        assert entry.summary.startswith("sent: copytrader: s1: order rejected") and entry.slave_id == "s1"
    finally:
        await notifier.close()


async def test_twenty_slaves_failing_at_once_give_one_grouped_notification(receiver: Receiver, journal: Journal) -> None:
    notifier = Notifier(config(receiver.url, window=0.3), journal)
    try:
        for i in range(10):
            notifier.alert(alert_for_report(order_failed(f"s{i:02d}")))  # type: ignore[arg-type]
            notifier.alert(alert_for_report(slave_error(f"s{i + 10:02d}")))  # type: ignore[arg-type]

        await aeventually(lambda: _async(len(notifier.sent) == 1 and not notifier._inflight), what="sent")
        await notifier.drain()

        assert len(receiver.posts) == 1
        [post] = receiver.posts
        assert post["title"] == "copytrader: 20 alerts (10 order rejected, 10 key invalid)"
        assert post["message"].count("\n") == 19
        assert len(await journal.query(10, kind="notify")) == 1
    finally:
        await notifier.close()


async def test_duplicates_within_min_interval_are_suppressed(receiver: Receiver, journal: Journal) -> None:
    notifier = Notifier(config(receiver.url, window=0.05, interval=60), journal)
    try:
        notifier.alert(alert_for_report(order_failed("s1")))  # type: ignore[arg-type]
        await aeventually(lambda: _async(len(receiver.posts) == 1), what="first post")

        assert not notifier.alert(alert_for_report(order_failed("s1")))  # type: ignore[arg-type]
        notifier.alert(alert_for_report(order_failed("s2")))  # type: ignore[arg-type]
        await aeventually(lambda: _async(len(receiver.posts) == 2), what="second post")
        await notifier.drain()

        assert "s2" in receiver.posts[1]["title"] and "s1" not in receiver.posts[1]["message"].split("(")[0]
        assert "1 repeated alert(s) suppressed" in receiver.posts[1]["message"]
        assert len(await journal.query(10, kind="notify")) == 2
    finally:
        await notifier.close()


async def test_undeliverable_notification_is_journalled_as_an_error(journal: Journal) -> None:
    notifier = Notifier(config("json://127.0.0.1:1/hook", window=0.01), journal)  # nothing listens on port 1
    try:
        notifier.alert(alert_for_report(order_failed("s1")))  # type: ignore[arg-type]

        await aeventually(lambda: _async(notifier.failed == 1), what="delivery failure")
        [entry] = await journal.query(10, kind="notify")
        assert entry.summary.startswith("delivery FAILED") and not entry.acked
        assert "127.0.0.1:1" not in entry.summary  # URLs (tokens) never journalled
    finally:
        await notifier.close()


async def _async(value: bool) -> bool:
    return value


async def test_the_notifier_keeps_only_its_latest_notifications_in_memory(journal: Journal) -> None:
    from actors.control.notify import SENT_KEPT, Notification

    notifier = Notifier(NotificationsConfig(urls=()), journal)  # no channel: journalled only
    try:
        for i in range(SENT_KEPT + 5):
            notifier._send(Notification(title=f"n{i}", body="", alerts=()))
        assert len(notifier.sent) == SENT_KEPT and notifier.sent[0].title == "n5"  # bounded, the latest kept
        await notifier.drain()
    finally:
        await notifier.close()
