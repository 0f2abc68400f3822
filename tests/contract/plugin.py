"""The contract check, wired into every pytest session (tests/conftest.py calls these hooks).

`configure()` makes a fresh session directory and exports it as SIMULATOR_RECORD_DIR before any
test runs, so every simulator the session starts (in-process, or a subprocess, which inherits the
environment: SimProcess, Deployment, supervisord in the service and chaos tests) records the
requests it receives there. `finish()` runs at the end of the session, whatever `-k` selected
and with or without the cache provider: it checks the actors' recorded requests (check.py) and the
simulator's replies to them (replies.py), and fails the run naming every offending request; the
terminal summary lists them. The directory is removed when the check passes, kept otherwise.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

ENV = "SIMULATOR_RECORD_DIR"  # simulator/recorder.py reads it (the simulator imports nothing of tests)
_state: dict[str, object] = {}


def configure() -> None:
    base = os.environ.get(ENV)
    if base:  # a caller's directory: record in a fresh folder inside it
        Path(base).mkdir(parents=True, exist_ok=True)
    directory = tempfile.mkdtemp(prefix="contract-", dir=base or None)
    _state["dir"] = Path(directory)
    os.environ[ENV] = directory


def run_check(directory: Path) -> tuple[list[str], str]:
    """(failures, summary line) for the records in `directory`."""
    from tests.contract import check, replies, specs

    records = check.read_records(directory)
    actors = [r for r in records if check.actor_of(r) is not None]
    if not actors:
        return [], f"contract check: no actor requests recorded ({len(records)} requests in all)"
    missing = specs.available()
    if missing is not None:
        return [], f"contract check skipped: {missing}"
    loaded = specs.load()
    findings, checked = check.check(records, loaded)
    reply_findings, compared, undocumented = replies.check(records)
    failures = [f"request  {f}" for f in findings] + [f"reply    {f}" for f in reply_findings]
    summary = (
        f"contract check: {checked} actor requests against the specs, {compared} replies against the docs' "
        f"examples ({len(undocumented)} endpoints have no example: {', '.join(sorted(undocumented)) or '-'}); "
        f"{len(failures)} findings"
    )
    return failures, summary


def finish(session: pytest.Session, exitstatus: int) -> None:
    directory = _state.get("dir")
    if not isinstance(directory, Path):
        return
    if exitstatus == pytest.ExitCode.INTERRUPTED:  # no verdict on a run cut short
        shutil.rmtree(directory, ignore_errors=True)
        return
    failures, summary = run_check(directory)
    _state["report"] = (failures, summary)
    if failures:
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED
    else:
        shutil.rmtree(directory, ignore_errors=True)


def summary(terminalreporter: pytest.TerminalReporter) -> None:
    report = _state.get("report")
    if not report:
        return
    failures, line = report  # type: ignore[misc]
    if failures:
        terminalreporter.section("contract check FAILED: requests or replies Binance's specs do not know", red=True)
        for failure in failures:
            terminalreporter.line(failure)
        terminalreporter.line(f"records kept in {_state['dir']}")
    terminalreporter.line(line)
