"""Pure parts of the TUI: cells, sparkline, percentiles, drift, forms, settings, key handoff argv."""

from __future__ import annotations

import sys
from decimal import Decimal as D
from pathlib import Path

import msgspec
import pytest

from tests.tui.samples import SLAVES, drift, journal_entries, status_report
from tui.forms import FormError, SlaveForm, build_config
from tui.keys import KeyRequest, hand_off_key, keys_argv
from tui.model import Store, is_drift, matches, percentile, plain, row_cells, sort_key, sparkline, sync_cell
from tui.settings import SettingsError, TuiSettings, load_settings


def test_decimals_are_shown_plain_never_in_exponent_form() -> None:
    assert plain(D("1E-5")) == "0.00001"
    assert plain(D("100000.123"), 2) == "100000.12"
    assert plain(D("2.50")) == "2.5"
    assert plain(None) == "-"


def test_sparkline_scales_between_min_and_max_of_the_last_values() -> None:
    assert sparkline([1, 2, 3, 4, 5, 6, 7, 8], width=8) == "▁▂▃▄▅▆▇█"
    assert sparkline([5, 5, 5]) == "▁▁▁"
    assert sparkline([100, 1, 8], width=2) == "▁█"
    assert sparkline([]) == ""


def test_percentile_is_nearest_rank() -> None:
    values = list(range(1, 101))
    assert percentile(values, 50) == 50
    assert percentile(values, 99) == 99
    assert percentile([7], 99) == 7
    assert percentile([], 50) is None


def test_drift_is_what_the_slave_judged_out_of_sync() -> None:
    assert not is_drift(drift("BTCUSDT", "LONG", "0.050", "0.0501", in_sync=True))
    assert is_drift(drift("BTCUSDT", "LONG", "0.050", "0.0501", in_sync=False))
    assert is_drift(drift("BTCUSDT", "LONG", "0.010", "0.02"))
    assert is_drift(drift("BTCUSDT", "BOTH", "0.01", "0"))
    assert sync_cell(SLAVES[0])[0] == "ok 2" and sync_cell(SLAVES[1])[0] == "drift 1" and sync_cell(SLAVES[3])[0] == "-"


def test_row_cells_show_state_sizing_equity_latency_and_error() -> None:
    cells = row_cells(SLAVES[0], [10_000_000, 20_000_000])
    assert cells["state"] == ("running", "green")
    assert cells["sizing"][0] == "r 0.5" and cells["equity"][0] == "10000.00" and cells["lat"][0] == "12.5ms"
    assert cells["spark"][0] == "▁█"
    error = row_cells(SLAVES[2], [])
    assert error["state"] == ("error", "bold red") and error["error"][0].startswith("API key refused")
    assert row_cells(SLAVES[1], [])["sizing"][0] == "x2 bal"


def test_filter_and_sort_keys() -> None:
    store = Store()
    store.set_slaves(SLAVES)
    assert [s.config.id for s in SLAVES if matches(s, "error")] == ["carol"]
    assert [s.config.id for s in SLAVES if matches(s, "paused BOB")] == ["bob"]  # every word, any case
    assert [s.config.id for s in SLAVES if matches(s, "paused alice")] == []
    assert [s.config.id for s in SLAVES if matches(s, "fixed_ratio")] == ["alice", "carol", "dave"]
    assert sorted(store.slaves, key=sort_key("equity", store)) == ["alice", "bob", "carol", "dave"]
    assert sorted(store.slaves, key=sort_key("state", store))[0] == "carol"  # "error" sorts first


def test_store_folds_status_reports_and_asks_for_a_refresh_only_when_the_state_moves() -> None:
    store = Store()
    store.set_slaves(SLAVES)
    same = status_report("alice", positions=SLAVES[0].status.markets[0].positions)  # type: ignore[union-attr]
    assert store.note_status_report(msgspec.structs.replace(same, t_ns=99)) == (False, False)
    changed, state_changed = store.note_status_report(status_report("alice", equity="10500"))
    assert changed and not state_changed
    assert store.note_status_report(status_report("alice", state="paused")) == (True, True)
    assert store.note_status_report(status_report("zed")) == (False, True)  # unknown slave: ask control


def test_store_seeds_latencies_oldest_first_from_the_journal() -> None:
    store = Store()
    store.set_slaves(SLAVES)
    store.seed_latencies(journal_entries("alice"))
    assert list(store.latencies["alice"])[:2] == [12_000_000, 14_500_000]
    assert len(store.latencies["alice"]) == 10


def test_form_builds_a_validated_config_and_names_the_bad_field() -> None:
    form = SlaveForm.of(SLAVES[0].config)
    form.ratio = "0.25"
    form.symbols_allow = "btcusdt, ETHUSDT"
    form.symbol_max_notional = "BTCUSDT=1000"
    form.max_leverage = "5"
    config = build_config(form)
    assert config.ratio == D("0.25") and config.symbols_allow == ("BTCUSDT", "ETHUSDT")
    assert config.symbol_max_notional == {"BTCUSDT": D("1000")} and config.max_leverage == 5
    assert config.name == "Alice (desk 1)" and config.sizing == "fixed_ratio"
    form.close_only = True  # the close-only guard, edited live
    assert build_config(form).close_only and SlaveForm.of(build_config(form)).close_only
    form.max_open_positions = "4"
    assert build_config(form).max_open_positions == 4 and SlaveForm.of(build_config(form)).max_open_positions == "4"
    form.max_total_exposure = "20000"
    assert build_config(form).max_total_exposure == D("20000") and SlaveForm.of(build_config(form)).max_total_exposure == "20000"
    form.max_total_exposure, form.max_slippage_pct = "", "0.5"
    assert build_config(form).max_slippage_pct == D("0.5") and SlaveForm.of(build_config(form)).max_slippage_pct == "0.5"
    form.max_slippage_pct = ""
    form.equity_floor, form.max_drawdown_pct, form.on_stop = "5000", "12.5", "flatten"  # the equity stop
    stop = build_config(form)
    assert (stop.equity_floor, stop.max_drawdown_pct, stop.on_stop) == (D("5000"), D("12.5"), "flatten")
    assert SlaveForm.of(stop).max_drawdown_pct == "12.5"
    form.max_drawdown_pct = "150"
    with pytest.raises(FormError, match="max_drawdown_pct"):
        build_config(form)
    form.max_drawdown_pct = ""
    form.daily_loss_limit, form.daily_loss_window = "250", "rolling_24h"  # the daily loss limit
    day = build_config(form)
    assert (day.daily_loss_limit, day.daily_loss_window) == (D("250"), "rolling_24h") and SlaveForm.of(day).daily_loss_limit == "250"
    form.sizing = "fixed_amount"  # fixed amount: the amount is required, then kept
    with pytest.raises(FormError, match="amount"):
        build_config(form)
    form.amount = "150"
    fixed = build_config(form)
    assert (fixed.sizing, fixed.amount) == ("fixed_amount", D("150")) and SlaveForm.of(fixed).amount == "150"
    form.sizing, form.fraction = "fixed_fraction", "0.05"
    assert build_config(form).fraction == D("0.05")
    form.sizing = "fixed_ratio"

    for field, value, words in (
        ("ratio", "-1", "ratio"),
        ("ratio", "abc", "ratio"),
        ("max_leverage", "x", "max_leverage"),
        ("max_leverage", "500", "max_leverage"),
        ("symbol_max_notional", "BTC", "SYMBOL=CAP"),
        ("margin_level_min", "1", "margin_level_min"),
        ("symbols_deny", "BTCUSDT", "both"),
    ):
        bad = SlaveForm.of(config)
        setattr(bad, field, value)
        with pytest.raises(FormError) as info:
            build_config(bad)
        assert words in str(info.value), (field, str(info.value))
    with pytest.raises(FormError, match="markets"):
        build_config(SlaveForm(id="x", markets=()))


def test_settings_read_only_the_runtime_dir_and_the_exchange(tmp_path: Path) -> None:
    path = tmp_path / "copytrader.toml"
    path.write_text(
        '[exchange]\nnetwork = "simulator"\nurl = "http://127.0.0.1:9"\n[paths]\nruntime_dir = "rt"\n'
        '[[slaves]]\nid = "whatever"\nunknown_field = 1\n'
    )
    settings = load_settings(path)
    assert settings.runtime_dir == tmp_path / "rt" and settings.exchange == "http://127.0.0.1:9"
    assert settings.control_endpoint == f"ipc://{tmp_path / 'rt' / 'control.ctl'}"
    path.write_text('[exchange]\nnetwork = "live"\n')
    assert load_settings(path).exchange == "live" and load_settings(path).runtime_dir == tmp_path / "run"
    path.write_text("not = [toml")
    with pytest.raises(SettingsError, match="not valid TOML"):
        load_settings(path)
    with pytest.raises(SettingsError, match="does not exist"):
        load_settings(tmp_path / "nope.toml")


FAKE_KEYS = """
import sys, pathlib
out = pathlib.Path(sys.argv[1])
out.write_text(repr(sys.argv[2:]) + "\\n" + sys.stdin.read())
print("saved slave9: hmac key abcd...wxyz")
sys.exit(0 if "--type" in sys.argv else 3)
"""


async def test_key_handoff_puts_the_secret_on_stdin_never_on_the_command_line(tmp_path: Path) -> None:
    script = tmp_path / "fake_keys.py"
    script.write_text(FAKE_KEYS)
    seen = tmp_path / "seen.txt"
    settings = TuiSettings(
        config_path=tmp_path / "c.toml",
        runtime_dir=tmp_path,
        exchange="http://127.0.0.1:9",
        keys_command=(sys.executable, str(script), str(seen)),
    )
    req = KeyRequest(account="slave9", key_type="hmac", api_key="APIKEY123456", markets=("usdm", "spot"))
    secret = "s3cr3t-value-never-shown"

    outcome = await hand_off_key(settings, req, secret)

    assert outcome.ok and outcome.message == "saved slave9: hmac key abcd...wxyz"
    argv, stdin = seen.read_text().split("\n", 1)
    assert secret not in argv and stdin == secret
    assert "'--secret-stdin'" in argv and "'usdm,spot'" in argv and "'http://127.0.0.1:9'" in argv
    assert secret not in repr(req)
    assert keys_argv(settings, KeyRequest("a", "rsa", "K", ("usdm",), secret_file="/k.pem"))[-2:] == ["--secret-file", "/k.pem"]


async def test_key_handoff_reports_a_refusal_without_echoing_the_secret(tmp_path: Path) -> None:
    script = tmp_path / "echo.py"
    script.write_text("import sys\nprint('refused: bad secret ' + sys.stdin.read())\nsys.exit(3)\n")
    settings = TuiSettings(config_path=tmp_path / "c.toml", runtime_dir=tmp_path, keys_command=(sys.executable, str(script)))
    outcome = await hand_off_key(settings, KeyRequest("s", "hmac", "K", ("usdm",)), "topsecret-123")
    assert not outcome.ok and "refused" in outcome.message and "topsecret-123" not in outcome.message
