"""Shared pytest fixtures (kept small: the helpers live in tests/helpers/)."""
from __future__ import annotations

import signal
from typing import Iterator

import pytest

from tests.helpers.sim import TEST_CONFIG, SimProcess


@pytest.fixture
def sim() -> Iterator[SimProcess]:
    """A fresh simulator subprocess (tests/fixtures/sim-test.toml: master + slave01..03), stopped after the test."""
    with SimProcess(TEST_CONFIG) as process:
        yield process


def pytest_sessionstart(session: pytest.Session) -> None:
    """A SIGTERM (a CI time-out, `timeout`, a supervisor) becomes KeyboardInterrupt, so pytest
    unwinds and every fixture's teardown runs: the deployments tests start (supervisord daemons,
    simulators, actors) are stopped instead of being left running for hours."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)
