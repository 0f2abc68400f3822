"""Shared pytest fixtures (kept small: the helpers live in tests/helpers/)."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import pytest

from tests.contract import plugin as contract
from tests.helpers.sim import TEST_CONFIG, SimProcess


@pytest.fixture
def sim() -> Iterator[SimProcess]:
    """A fresh simulator subprocess (tests/fixtures/sim-test.toml: master + slave01..03), stopped after the test."""
    with SimProcess(TEST_CONFIG) as process:
        yield process


def pytest_configure(config: pytest.Config) -> None:
    """Every simulator this session starts records the requests it receives (SIMULATOR_RECORD_DIR,
    a fresh directory; subprocesses inherit it), for the contract check at the session's end."""
    contract.configure()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The contract check of the actors' recorded requests and the simulator's replies
    (tests/contract/): fails the run naming every request or reply Binance's specs do not know."""
    contract.finish(session, exitstatus)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    contract.summary(terminalreporter)


def pytest_sessionstart(session: pytest.Session) -> None:
    """A SIGTERM (a CI time-out, `timeout`, a supervisor) becomes KeyboardInterrupt, so pytest
    unwinds and every fixture's teardown runs: the deployments tests start (supervisord daemons,
    simulators, actors) are stopped instead of being left running for hours."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
