"""tui/client.py ControlLink (on protocol/client.py) against a fake control: errors, correlation, probe, resubscription."""

from __future__ import annotations

from typing import Any

import pytest

from protocol import control_api as api
from protocol.errors import ErrorCode
from tests.tui.fake_control import FakeControl
from tests.tui.samples import STATUS
from tui.client import ControlError, ControlLink, ControlUnavailable


async def test_replies_errors_and_timeouts(fake: FakeControl, endpoint: str) -> None:
    link = ControlLink(endpoint, timeout=1.0)
    try:
        result = await link.request(api.GetSlave(id=0, slave_id="alice"))
        assert isinstance(result, api.SlaveResult) and result.slave.config.id == "alice"
        with pytest.raises(ControlError) as info:
            await link.request(api.GetSlave(id=0, slave_id="zed"))
        assert info.value.code == ErrorCode.NOT_FOUND and "zed" in info.value.reason
        ids = [r.id for r in fake.requests]
        assert len(set(ids)) == len(ids) and 0 not in ids  # every request got its own id
    finally:
        await link.close()


async def test_unreachable_control_is_reported_quickly(endpoint: str) -> None:
    link = ControlLink(endpoint, timeout=0.3)
    try:
        with pytest.raises(ControlUnavailable):
            await link.request(api.GetStatus(id=0))
    finally:
        await link.close()


async def test_probe_resubscribes_when_control_restarted_between_two_probes(fake: FakeControl, endpoint: str) -> None:
    link = ControlLink(endpoint, timeout=1.0)
    states: list[tuple[str, bool]] = []
    statuses: list[Any] = []

    def on_state(state: str, detail: str, resync: bool) -> None:
        states.append((state, resync))

    try:
        await link.probe(on_state, statuses.append)
        await link.probe(on_state, statuses.append)  # same control: nothing to do
        assert states == [("connected", True)] and len(fake.of(api.Subscribe)) == 1
        fake.replies[api.GetStatus] = api.StatusResult(actors=(api.ActorInfo(name="control", state="RUNNING", pid=1),))
        await link.probe(on_state, statuses.append)  # another pid: control restarted, our subscription is gone
        assert states == [("connected", True), ("connected", True)] and len(fake.of(api.Subscribe)) == 2
        assert statuses[0] == STATUS and len(statuses) == 3
    finally:
        await link.close()
