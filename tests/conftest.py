"""Shared pytest fixtures (kept small: the helpers live in tests/helpers/)."""
from __future__ import annotations

from typing import Iterator

import pytest

from tests.helpers.sim import TEST_CONFIG, SimProcess


@pytest.fixture
def sim() -> Iterator[SimProcess]:
    """A fresh simulator subprocess (tests/fixtures/sim-test.toml: master + slave01..03), stopped after the test."""
    with SimProcess(TEST_CONFIG) as process:
        yield process
