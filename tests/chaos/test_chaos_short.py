"""The chaos run, shortened (about 3 minutes): the demo under supervisord with 5 slaves (futures in
hedge mode, spot, margin, the special settings), a master trading randomly for 90 s while slaves,
master listeners and control are SIGKILLed, user-data streams dropped / expired / stalled, orders
answered 5xx / -1007 (executed or not) / 429, one key banned (418) and one revoked. Nothing may
be lost, doubled or left out of sync (tests/chaos/checks.py), every corrective order must follow
a fault that explains it (tests/chaos/corrections.py), and the faults that need a person must have
been notified. `scripts/chaos` runs the long version."""

from __future__ import annotations

import argparse

import pytest

from tests.chaos.run import run, summary_lines

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]


def test_chaos_short():
    args = argparse.Namespace(seed=5, duration=90.0, slaves=5, actions=150, settle=120.0, root=None, keep=False)
    result = run(args)
    report = "\n".join(summary_lines(result))
    print(report)  # shown with -s: the figures of a passing run too
    assert result["master_actions"] >= 100, report
    assert result["faults_injected"].get("kill_slave", 0) >= 3, report
    assert result["lost"] == 0, (report, result["details"]["lost"])
    assert result["doubled"] == 0, (report, result["details"]["doubled"])
    assert result["out_of_sync"] == 0, (report, result["details"]["out_of_sync"])
    assert result["unexplained_corrections"] == 0, (report, result["details"]["unexplained_corrections"])
    assert result["notifications"]["missing"] == [], report
    assert result["passed"], report
