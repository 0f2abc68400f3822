"""actors/config.py: the deployment's TOML config, validated with messages naming the field."""

from __future__ import annotations

from decimal import Decimal

import pytest

from actors.config import ConfigError, load_config, parse_config, write_config_atomic

GOOD = """
[exchange]
network = "simulator"
url = "http://127.0.0.1:9"

[masters.usdm]
account = "master"

[[slaves]]
id = "s1"
sizing = "fixed_ratio"
ratio = "0.5"

[[slaves]]
id = "s2"
ratio = 2
multiplier = 1.5
"""


def test_good_config_parses_with_decimals_and_relative_paths(tmp_path):
    cfg = parse_config(GOOD, base_dir=tmp_path)
    assert cfg.slaves[0].ratio == Decimal("0.5")
    assert cfg.slaves[1].ratio == Decimal(2) and cfg.slaves[1].multiplier == Decimal("1.5")
    assert cfg.runtime_dir == tmp_path.resolve() / "run"
    assert cfg.exchange.endpoints().futures_rest == "http://127.0.0.1:9"


@pytest.mark.parametrize(
    "text, names",
    [
        ("[exchange\nnetwork=1", "not valid TOML"),
        (GOOD + "\nbogus = 1\n", "bogus"),
        (GOOD.replace('ratio = "0.5"', 'ratio = "-1"'), "ratio"),
        (GOOD.replace("[masters.usdm]", "[masters.options]"), "masters"),
        (GOOD.replace('id = "s2"', 'id = "s1"'), "appears twice"),
        (GOOD.replace('id = "s2"', 'id = "s2"\nmarkets = ["spot"]'), "masters.spot"),
        (GOOD.replace('url = "http://127.0.0.1:9"', ""), "exchange.url"),
        (GOOD.replace("ratio = 2", 'ratio = "lots"'), "ratio"),
    ],
)
def test_bad_config_is_refused_with_a_message_naming_the_field(text, names):
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="copytrader.toml")
    assert names in str(err.value)
    assert "copytrader.toml" in str(err.value)


def test_write_is_atomic_keeps_a_backup_and_round_trips(tmp_path):
    path = tmp_path / "copytrader.toml"
    path.write_text(GOOD)
    cfg = load_config(path)
    changed = parse_config(GOOD.replace('ratio = "0.5"', 'ratio = "0.75"'), base_dir=tmp_path)
    write_config_atomic(path, changed)
    assert load_config(path).slaves[0].ratio == Decimal("0.75")
    assert (tmp_path / "copytrader.toml.bak").read_text() == GOOD
    assert load_config(path).slaves == changed.slaves
    assert cfg.slaves[0].ratio == Decimal("0.5")
    assert not list(tmp_path.glob(".copytrader.toml.*.tmp"))


def test_init_writes_a_starter_deployment_and_never_overwrites(tmp_path):
    import stat

    from actors.deployment import init_deployment
    from keystore import Keystore

    path = init_deployment(tmp_path, "testnet", markets=("usdm", "spot"))
    cfg = load_config(path)
    assert cfg.exchange.network == "testnet" and set(cfg.masters) == {"usdm", "spot"} and cfg.slaves == ()
    assert stat.S_IMODE((tmp_path / "var" / "passphrase").stat().st_mode) == 0o600
    Keystore.open(tmp_path / "var" / "keystore", (tmp_path / "var" / "passphrase").read_text().strip()).close()
    assert (tmp_path / "run" / "programs" / "master-usdm.conf").exists()
    with pytest.raises(SystemExit, match="exists already"):
        init_deployment(tmp_path)


REVERSE_SPOT = GOOD.replace(
    "[masters.usdm]", '[masters.spot]\naccount = "master"\n\n[masters.margin]\naccount = "master"\n\n[masters.usdm]'
)


@pytest.mark.parametrize("markets, named", [('["usdm", "spot"]', "spot"), ('["margin"]', "margin")])
def test_reverse_on_spot_or_margin_is_refused_naming_the_slave_and_market(markets, named):
    # issue 21 defect 12: `reverse` used to be silently ignored on spot and margin
    text = REVERSE_SPOT.replace('id = "s2"', f'id = "s2"\nmarkets = {markets}\nreverse = true')
    with pytest.raises(ConfigError) as err:
        parse_config(text, source="copytrader.toml")
    msg = str(err.value)
    assert "slaves[s2].reverse" in msg and named in msg and "USD-M only" in msg


def test_reverse_on_usdm_only_is_accepted():
    cfg = parse_config(REVERSE_SPOT.replace('id = "s2"', 'id = "s2"\nmarkets = ["usdm"]\nreverse = true'))
    assert cfg.slaves[1].reverse is True


def test_the_demo_deployment_still_validates():
    from actors.config import AppConfig, ExchangeConfig, MasterConfig
    from actors.deployment import demo_slaves

    masters = {m: MasterConfig(account="master") for m in ("usdm", "spot", "margin")}
    slaves = demo_slaves([f"s{i:02d}" for i in range(20)])
    AppConfig(exchange=ExchangeConfig(url="http://127.0.0.1:9"), masters=masters, slaves=slaves)
    assert any(s.reverse for s in slaves)
