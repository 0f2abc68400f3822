"""`copytrader status|slave|restart|pause|resume`, offline (config file) and through a running
control actor started as `python -m actors.control` (a subprocess)."""

from __future__ import annotations

import io
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest

from actors.base import Endpoints
from actors.cli import main
from actors.cli.control import EXIT_OK, EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE, Io, main_control
from actors.config import load_config
from protocol import control_api as api
from protocol.client import ControlClient, ControlUnavailable, control_running
from protocol.errors import ErrorCode
from tests.helpers.wait import eventually

CONFIG = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:1"

[paths]
runtime_dir = "run"

[masters.usdm]
account = "master"

[[slaves]]
id = "s1"
sizing = "fixed_ratio"
ratio = "0.5"

[[slaves]]
id = "s2"
"""


class Result:
    def __init__(self, code: int, out: str, err: str) -> None:
        self.code, self.out, self.err = code, out, err


class Deployment:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.config = root / "copytrader.toml"
        self.config.write_text(CONFIG)
        self.endpoint = Endpoints(root / "run").control

    def cli(self, *args: str) -> Result:
        out, err = io.StringIO(), io.StringIO()
        code = main_control(["--config", str(self.config), "--timeout", "10", *args], Io(stdout=out, stderr=err))
        return Result(code, out.getvalue(), err.getvalue())

    def add_key(self, account: str) -> None:
        records = self.root / "var" / "keystore" / "accounts"
        records.mkdir(parents=True, exist_ok=True)
        (records / f"{account}.json").write_text("{}")  # only its presence is checked


@pytest.fixture
def dep() -> Iterator[Deployment]:
    root = Path(tempfile.mkdtemp(prefix="cc-"))  # short: ipc paths must stay < 108 bytes
    yield Deployment(root)
    shutil.rmtree(root, ignore_errors=True)


# ------------------------------------------------------------------------------------ offline


def test_offline_slave_add_edit_pause_remove_edit_the_file_safely(dep: Deployment) -> None:
    dep.add_key("s3")

    assert dep.cli("slave", "add", "s3", "--sizing", "fixed_ratio", "--ratio", "0.1", "--deny", "DOGEUSDT").code == EXIT_OK
    assert load_config(dep.config).slave("s3").symbols_deny == ("DOGEUSDT",)
    assert dep.cli("slave", "edit", "s3", "--ratio", "0.2", "--symbol-max-notional", "BTCUSDT=1000").code == EXIT_OK
    edited = load_config(dep.config).slave("s3")
    assert str(edited.ratio) == "0.2" and edited.symbols_deny == ("DOGEUSDT",)  # untouched options kept
    assert dep.cli("slave", "edit", "s3", "--close-only").code == EXIT_OK  # the guard, set and lifted
    assert load_config(dep.config).slave("s3").close_only
    assert dep.cli("slave", "edit", "s3", "--no-close-only").code == EXIT_OK
    assert not load_config(dep.config).slave("s3").close_only
    assert dep.cli("slave", "edit", "s3", "--max-open-positions", "3").code == EXIT_OK
    assert load_config(dep.config).slave("s3").max_open_positions == 3
    assert dep.cli("slave", "edit", "s3", "--max-open-positions", "three").code == EXIT_USAGE
    assert dep.cli("slave", "edit", "s3", "--max-open-positions", "0").code == EXIT_OK  # 0: no limit
    assert load_config(dep.config).slave("s3").max_open_positions is None
    assert dep.cli("slave", "edit", "s3", "--max-total-exposure", "20000").code == EXIT_OK
    assert load_config(dep.config).slave("s3").max_total_exposure == Decimal("20000")
    assert dep.cli("slave", "edit", "s3", "--max-total-exposure", "0").code == EXIT_OK  # 0: no limit
    assert load_config(dep.config).slave("s3").max_total_exposure is None
    assert dep.cli("slave", "edit", "s3", "--max-slippage-pct", "1.5").code == EXIT_OK
    assert load_config(dep.config).slave("s3").max_slippage_pct == Decimal("1.5")
    assert dep.cli("slave", "edit", "s3", "--max-slippage-pct", "20").code != EXIT_OK  # over 10 %: refused, named
    assert dep.cli("slave", "edit", "s3", "--max-slippage-pct", "").code == EXIT_OK  # off
    assert load_config(dep.config).slave("s3").max_slippage_pct is None
    args = ("--equity-floor", "5000", "--max-drawdown-pct", "12.5", "--on-stop", "flatten")  # the equity stop
    assert dep.cli("slave", "edit", "s3", *args).code == EXIT_OK
    edited = load_config(dep.config).slave("s3")
    assert (edited.equity_floor, edited.max_drawdown_pct, edited.on_stop) == (Decimal("5000"), Decimal("12.5"), "flatten")
    assert dep.cli("slave", "edit", "s3", "--max-drawdown-pct", "100").code != EXIT_OK  # not a percentage of what can be lost
    assert load_config(dep.config).slave("s3").max_drawdown_pct == Decimal("12.5")  # unchanged
    assert dep.cli("slave", "edit", "s3", "--equity-floor", "0", "--max-drawdown-pct", "").code == EXIT_OK  # off
    edited = load_config(dep.config).slave("s3")
    assert edited.equity_floor is None and edited.max_drawdown_pct is None
    assert dep.cli("slave", "edit", "s3", "--daily-loss-limit", "250", "--daily-loss-window", "rolling_24h").code == EXIT_OK
    edited = load_config(dep.config).slave("s3")
    assert (edited.daily_loss_limit, edited.daily_loss_window) == (Decimal("250"), "rolling_24h")
    assert dep.cli("slave", "edit", "s3", "--daily-loss-limit", "-1").code != EXIT_OK
    missing = dep.cli("slave", "edit", "s3", "--sizing", "fixed_amount")  # fixed amount: the amount is required
    assert missing.code != EXIT_OK and "needs `amount`" in missing.err and load_config(dep.config).slave("s3").sizing == "fixed_ratio"
    assert dep.cli("slave", "edit", "s3", "--sizing", "fixed_amount", "--amount", "150").code == EXIT_OK
    edited = load_config(dep.config).slave("s3")
    assert (edited.sizing, edited.amount) == ("fixed_amount", Decimal("150")) and "150 USDT each" in dep.cli("slave", "list").out
    assert dep.cli("slave", "edit", "s3", "--sizing", "fixed_fraction", "--fraction", "0.05").code == EXIT_OK
    assert "5 % each" in dep.cli("slave", "list").out
    assert dep.cli("pause", "s3").code == EXIT_OK
    assert load_config(dep.config).slave("s3").paused
    assert (dep.root / "copytrader.toml.bak").exists()

    listing = dep.cli("slave", "list")
    assert listing.code == EXIT_OK and "s3" in listing.out and "paused" in listing.out

    assert dep.cli("slave", "remove", "s3").code == EXIT_USAGE  # needs --yes
    assert dep.cli("slave", "remove", "s3", "--yes").code == EXIT_OK
    assert [s.id for s in load_config(dep.config).slaves] == ["s1", "s2"]


def test_offline_bad_input_names_the_field_and_changes_nothing(dep: Deployment) -> None:
    before = dep.config.read_bytes()

    negative = dep.cli("slave", "edit", "s1", "--ratio", "-1")
    unknown_market = dep.cli("slave", "edit", "s1", "--markets", "coinm")
    no_master = dep.cli("slave", "edit", "s1", "--markets", "spot")
    no_key = dep.cli("slave", "add", "s4")
    twice = dep.cli("slave", "add", "s1")
    missing = dep.cli("pause", "nobody")

    assert negative.code == EXIT_USAGE and "ratio" in negative.err
    assert unknown_market.code == EXIT_USAGE and "markets" in unknown_market.err
    assert no_master.code == EXIT_REFUSED and "markets" in no_master.err
    assert no_key.code == EXIT_REFUSED and "copytrader keys add s4" in no_key.err
    assert twice.code == EXIT_REFUSED and "already exists" in twice.err
    assert missing.code == EXIT_REFUSED and "nobody" in missing.err
    assert dep.config.read_bytes() == before


def test_offline_status_and_restart(dep: Deployment) -> None:
    status = dep.cli("status")
    restart = dep.cli("restart", "s1")

    assert status.code == EXIT_OK and "not running" in status.err and "s1" in status.out
    assert restart.code == EXIT_UNAVAILABLE and "not running" in restart.err


def test_top_level_cli_dispatches_control_commands(dep: Deployment, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--config", str(dep.config), "slave", "list", "--json"]) == EXIT_OK
    listing = msgspec.json.decode(capsys.readouterr().out)
    assert [s["config"]["id"] for s in listing["slaves"]] == ["s1", "s2"]
    assert main(["bogus"]) == 2


# ------------------------------------------------------------------------------------ online


@pytest.fixture
def control(dep: Deployment) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "actors.control", "--config", str(dep.config), "--no-supervisor"],
        cwd=Path(__file__).resolve().parents[2],
        stdout=(dep.root / "control.log").open("wb"),
        stderr=subprocess.STDOUT,
    )
    try:
        eventually(lambda: proc.poll() is None and control_running(dep.endpoint), timeout=20, what="control up")
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_cli_goes_through_the_running_control_actor(dep: Deployment, control: subprocess.Popen[bytes]) -> None:
    dep.add_key("s3")

    status = dep.cli("status")
    assert status.code == EXIT_OK and "slaves: 2 total" in status.out and "control" in status.out
    added = dep.cli("slave", "add", "s3", "--markets", "usdm")
    assert added.code == EXIT_OK and "slave s3 added" in added.out
    assert (dep.root / "slaves" / "slave-s3.conf").exists()  # written by the control actor
    assert dep.cli("pause", "--all").code == EXIT_OK
    assert "pause-all: ON" in dep.cli("status").out
    assert dep.cli("resume", "--all").code == EXIT_OK
    assert dep.cli("pause", "s3").code == EXIT_OK
    assert load_config(dep.config).slave("s3").paused
    refused = dep.cli("restart", "s1")
    assert refused.code == EXIT_REFUSED and "supervisor" in refused.err  # started with --no-supervisor
    edited = dep.cli("slave", "edit", "s3", "--multiplier", "2")
    assert edited.code == EXIT_OK and str(load_config(dep.config).slave("s3").multiplier) == "2"
    assert load_config(dep.config).slave("s3").paused  # the edit kept the rest of the settings

    with ControlClient(dep.endpoint, timeout=10) as client:
        journal = client.request(api.QueryJournal(id=0, slave_id="s3"))
    assert isinstance(journal, api.JournalResult)
    assert any("added" in e.summary for e in journal.entries)

    control.send_signal(signal.SIGTERM)
    assert control.wait(timeout=15) == 0
    assert not control_running(dep.endpoint)


def test_sync_client_times_out_when_nobody_answers(dep: Deployment) -> None:
    with ControlClient(dep.endpoint, timeout=0.3) as client:
        with pytest.raises(ControlUnavailable) as info:
            client.request(api.GetStatus(id=0))
    assert info.value.code == ErrorCode.UNAVAILABLE
