"""The TUI in a real terminal: `python -m tui --config FILE` inside tmux (80x24 and 200x50), keys
sent with `tmux send-keys`, the screen read with `tmux capture-pane`. Skipped when tmux is absent
(CI: `apt-get install tmux`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from protocol import control_api as api
from tests.helpers.wait import eventually
from tests.tui.fake_control import FakeControl

REPO = Path(__file__).resolve().parents[2]
TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed (CI: apt-get install tmux)")


class Tmux:
    def __init__(self, width: int, height: int, command: list[str]) -> None:
        self.server = f"ct-{uuid.uuid4().hex[:8]}"  # a private tmux server: nobody else's sessions
        env = dict(os.environ, PYTHONPATH=str(REPO), TERM="xterm-256color")
        env.pop("TMUX", None)
        self.env = env
        shell = " ".join(f"'{c}'" for c in command)
        self.run("new-session", "-d", "-s", "tui", "-x", str(width), "-y", str(height), f"cd '{REPO}' && exec {shell}")

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        assert TMUX is not None
        return subprocess.run([TMUX, "-L", self.server, *args], capture_output=True, text=True, env=self.env, timeout=10)

    def screen(self) -> str:
        return self.run("capture-pane", "-p", "-t", "tui").stdout

    def keys(self, *keys: str) -> None:
        self.run("send-keys", "-t", "tui", *keys)

    def alive(self) -> bool:
        return self.run("has-session", "-t", "tui").returncode == 0

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        def seen() -> str:
            screen = self.screen()
            assert text in screen, f"{text!r} not on screen:\n{screen}"
            return screen

        return eventually(seen, timeout=timeout, interval=0.1, what=f"{text!r} on screen")

    def close(self) -> None:
        self.run("kill-server")


@pytest.fixture
def config(runtime: Path) -> Path:
    path = runtime / "copytrader.toml"
    path.write_text('[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:1"\n[paths]\nruntime_dir = "."\n')
    return path


@pytest.fixture(params=[(80, 24), (200, 50)], ids=["80x24", "200x50"])
def terminal(request: pytest.FixtureRequest, fake: FakeControl, config: Path) -> Iterator[Tmux]:
    width, height = request.param
    tmux = Tmux(width, height, [sys.executable, "-m", "tui", "--config", str(config), "--probe-interval", "0.5"])
    try:
        yield tmux
    finally:
        tmux.close()


def test_tui_in_a_real_terminal(terminal: Tmux, fake: FakeControl) -> None:
    screen = terminal.wait_for("carol")
    assert "control" in screen and "slaves 1/4 running" in screen
    assert "equity 100000.12 USDT" in screen and "drift 1" in screen
    lines = screen.splitlines()
    width = int(terminal.run("display", "-p", "-t", "tui", "#{pane_width}").stdout.strip())
    if width >= 200:
        assert "Alice (desk 1)" in screen and "API key refused (-2015)" in screen  # every column fits
    assert any(line.startswith(" alice") and "running" in line for line in lines)

    terminal.keys("/")
    terminal.keys("-l", "stopped")
    terminal.keys("Enter")

    def filtered() -> bool:
        screen = terminal.screen()
        assert "alice" not in screen and "dave" in screen, screen
        return True

    eventually(filtered, timeout=10, what="filtered to dave")
    terminal.keys("Escape")
    terminal.wait_for("alice")

    terminal.keys("Up", "Up", "Up", "Up")  # the cursor stayed on dave through the filter: back to alice
    terminal.keys("Enter")
    terminal.wait_for("fixed ratio 0.5")
    terminal.wait_for("p99 55.4ms")
    terminal.keys("t", "t", "t")  # Overview -> Decisions -> Log -> Ledger
    terminal.wait_for("max drawdown 0.62 % (310 USDT)")
    terminal.wait_for("slippage per copy, bps")
    terminal.keys("Escape")
    terminal.wait_for("Recent")

    terminal.keys("j")
    terminal.wait_for("ws_down: user data stream lost")
    terminal.keys("Escape")
    terminal.wait_for("Recent")

    terminal.keys("p")
    terminal.wait_for("Pause slave alice?")
    terminal.keys("y")
    eventually(lambda: fake.of(api.PauseSlave), timeout=10, what="PauseSlave sent from the terminal")

    terminal.keys("q")
    eventually(lambda: not terminal.alive(), timeout=10, what="the TUI quits on q")
