"""The one-word state of a slave (actors/control/commands/status.py), from supervisor + report + config."""

from __future__ import annotations

import pytest

from actors.control.commands.status import slave_state
from protocol.messages import SlaveConfig, SlaveStatusReport

CFG = SlaveConfig(id="s1")
PAUSED = SlaveConfig(id="s1", paused=True)


def report(state: str) -> SlaveStatusReport:
    return SlaveStatusReport(slave_id="s1", state=state, t_ns=1)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("config", "process", "status", "kwargs", "expected"),
    [
        (CFG, "RUNNING", report("running"), {}, "running"),
        (CFG, "RUNNING", None, {}, "running"),
        (CFG, "RUNNING", report("syncing"), {}, "running"),
        (PAUSED, "RUNNING", report("running"), {}, "paused"),
        (CFG, "RUNNING", report("running"), {"paused_all": True}, "paused"),
        (CFG, "RUNNING", report("paused"), {}, "paused"),
        (CFG, "RUNNING", report("degraded"), {}, "error"),
        (CFG, "RUNNING", report("running"), {"fatal_error": True}, "error"),
        (CFG, "FATAL", report("running"), {}, "error"),
        (CFG, "BACKOFF", None, {}, "error"),
        (CFG, "STOPPED", report("running"), {}, "stopped"),
        (CFG, "EXITED", None, {}, "stopped"),
        (PAUSED, "STOPPED", None, {}, "stopped"),
        (CFG, "RUNNING", report("running"), {"restarting": True}, "restarting"),
        (CFG, "STOPPED", None, {"restarting": True}, "restarting"),
        (CFG, "STARTING", None, {}, "starting"),
        (CFG, "UNKNOWN", report("running"), {}, "running"),
        (CFG, "UNKNOWN", None, {}, "unknown"),
    ],
)
def test_slave_state(config: SlaveConfig, process: str, status: SlaveStatusReport | None, kwargs: dict, expected: str) -> None:
    assert slave_state(config, process, status, **kwargs) == expected
