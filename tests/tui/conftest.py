"""Fixtures of the TUI tests: a short runtime dir (ipc paths < 108 bytes) and a fake control."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.fake_control import FakeControl
from tests.tui.samples import replies


@pytest.fixture
def runtime() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="tui-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def endpoint(runtime: Path) -> str:
    return f"ipc://{runtime}/control.ctl"


@pytest.fixture
def fake(endpoint: str) -> Iterator[FakeControl]:
    with FakeControl(endpoint, replies()) as control:
        yield control
