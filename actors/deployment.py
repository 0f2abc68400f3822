"""Lay out a deployment beside supervisor.conf: the config, the keystore, and the generated programs.

    python -m actors.deployment init  --root DIR [--network live|testnet|simulator] [--url URL]
    python -m actors.deployment demo  --root DIR [--port N]     (what scripts/demo runs)
    python -m actors.deployment programs --root DIR              (re-generate master/slave programs)
    python -m actors.deployment wait  --root DIR [--timeout S]   (until every program is RUNNING)

Layout (all below the repository root, ignored by git):
    copytrader.toml        the configuration (owned by the control actor once it runs)
    var/passphrase         keystore passphrase file (mode 0600)
    var/keystore/          encrypted API keys
    run/                   ipc sockets, supervisor socket (mode 0700)
    run/programs/*.conf    one [program:...] per master listener and per slave (+ the demo's extras)
    logs/                  one log per program

The demo takes its accounts and keys from the simulator's example config: a master and 20 slaves
with mixed settings. Its keys are stored without asking the exchange (the simulator is not running
yet, and they are the simulator's own keys); `copytrader keys add` always validates a real key.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import sys
import time
import tomllib
from decimal import Decimal
from pathlib import Path

from protocol.messages import SlaveConfig

from .base import ensure_private_dir
from .config import AppConfig, ExchangeConfig, KeystoreConfig, MasterConfig, load_config, write_config_atomic
from .control.supervision import Supervisor, render_program, write_slave_program

DEMO_MARKER = "# copytrader demo configuration"
MARKETS = ("usdm", "spot", "margin")


def programs_dir(root: Path) -> Path:
    return root / "run" / "programs"


def write_program(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def write_master_program(root: Path, market: str, config_path: Path, python: str) -> Path:
    name = f"master-{market}"
    text = render_program(
        name,
        [python, "-m", "actors.master", "--config", str(config_path), "--market", market],
        log_dir=root / "logs",
        directory=root,
        priority=30,
    )
    path = programs_dir(root) / f"{name}.conf"
    write_program(path, text)
    return path


def write_programs(root: Path, config_path: Path, python: str = sys.executable) -> list[Path]:
    """Master and slave programs for the configuration; stale slave files are removed."""
    app = load_config(config_path)
    (root / "logs").mkdir(exist_ok=True)
    paths = [write_master_program(root, m, config_path, python) for m in app.masters]
    wanted = {s.id for s in app.slaves}
    for old in programs_dir(root).glob("slave-*.conf"):
        if old.stem.removeprefix("slave-") not in wanted:
            old.unlink()
    for slave in app.slaves:
        paths.append(write_slave_program(programs_dir(root), slave.id, config_path, python, root / "logs", directory=root))
    return paths


# --------------------------------------------------------------------------------------------- demo


def demo_slaves(ids: list[str]) -> tuple[SlaveConfig, ...]:
    """Twenty followers with the settings a desk would actually mix."""
    out = []
    for i, sid in enumerate(ids):
        # most follow futures; some also spot or cross margin (one process copies every market it has)
        markets = ("usdm",) if i < 10 else ("usdm", "spot") if i < 15 else ("usdm", "margin")
        kw: dict[str, object] = {"id": sid, "name": f"Follower {i + 1}", "markets": markets}
        if i < 7:
            kw.update(sizing="fixed_ratio", ratio=(Decimal("0.5"), Decimal("1"), Decimal("2"))[i % 3])
        else:
            kw.update(sizing="balance_multiplier", multiplier=Decimal("1") if i % 2 else Decimal("1.5"))
        extra = {
            9: {"reverse": True},  # USD-M only: reverse is refused on spot and margin
            15: {"symbols_allow": ("BTCUSDT", "ETHUSDT")},
            16: {"symbols_deny": ("DOGEUSDT",)},
            17: {"max_position_notional": Decimal("20000"), "max_leverage": 10},
            18: {"min_notional_policy": "round_up"},
            19: {"on_start": "new_only"},
        }.get(i, {})
        kw.update(extra)
        if i in (4, 7, 10, 13, 18):  # the master's resting orders and stops too (maker fills, stops on the exchange)
            kw["orders"] = "mirror"
        out.append(SlaveConfig(**kw))  # type: ignore[arg-type]
    return tuple(out)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def demo_setup(root: Path, port: int | None = None, python: str = sys.executable, sim_config: Path | None = None) -> Path:
    """Write the demo deployment under `root`; returns the config path. Refuses to overwrite a
    configuration that is not a demo one. `sim_config`: the simulator's accounts and keys
    (default: simulator/example.toml beside this package)."""
    from keystore import KdfParams, Keystore

    config_path = root / "copytrader.toml"
    if config_path.exists() and not config_path.read_text().startswith(DEMO_MARKER):
        raise SystemExit(f"{config_path} exists and is not a demo configuration: not touching it")
    sim_config = sim_config or Path(__file__).resolve().parents[1] / "simulator" / "example.toml"
    with open(sim_config, "rb") as fh:
        accounts = {a["id"]: a for a in tomllib.load(fh)["accounts"]}
    port = port or free_port()
    var = ensure_private_dir(root / "var")
    ensure_private_dir(root / "run")
    (root / "logs").mkdir(exist_ok=True)
    passphrase = _passphrase_file(var).read_text().strip()
    keystore_dir = var / "keystore"
    # Demo keys unlock once per process start: a lighter Argon2id than the default (OWASP minimum).
    kdf = KdfParams.custom(iterations=2, memory_kib=19456, lanes=1)
    ks = (
        Keystore.open(keystore_dir, passphrase)
        if (keystore_dir / "keystore.json").exists()
        else Keystore.create(keystore_dir, passphrase, kdf=kdf)
    )
    slave_ids = sorted(a for a in accounts if a.startswith("slave"))
    with ks:
        for account in ["master", *slave_ids]:
            key = next((k for k in accounts[account]["keys"] if k.get("type", "HMAC").upper() == "HMAC"), accounts[account]["keys"][0])
            secret = key.get("secret") or key.get("private_key")
            ks.put(account, key.get("type", "HMAC").lower(), key["api_key"], secret, replace=True)
    app = AppConfig(
        exchange=ExchangeConfig(network="simulator", url=f"http://127.0.0.1:{port}"),
        keystore=KeystoreConfig(dir="var/keystore", passphrase_file="var/passphrase"),
        masters={m: MasterConfig(account="master") for m in MARKETS},  # type: ignore[misc]
        slaves=demo_slaves(slave_ids),
        base_dir=str(root),
    )
    write_config_atomic(config_path, app, backup=False)
    config_path.write_text(DEMO_MARKER + "\n" + config_path.read_text())
    write_programs(root, config_path, python)
    sim_cmd = [python, "-m", "simulator", "--config", str(sim_config), "--port", str(port)]
    write_program(
        programs_dir(root) / "demo-simulator.conf",
        render_program("demo-simulator", sim_cmd, log_dir=root / "logs", directory=root, priority=10),
    )
    trader_cmd = [
        python,
        "-m",
        "simulator.trader",
        "--url",
        f"http://127.0.0.1:{port}",
        "--config",
        str(sim_config),
        "--account",
        "master",
        "--interval",
        "2",
        "--seed",
        str(int(time.time())),
    ]
    write_program(
        programs_dir(root) / "demo-trader.conf",
        render_program("demo-trader", trader_cmd, log_dir=root / "logs", directory=root, priority=50, startsecs=1, startretries=20),
    )
    return config_path


def _passphrase_file(var: Path) -> Path:
    """var/passphrase: created once with a random passphrase, mode 0600 (supervisord's actors read
    it; keep the server's account private, or use COPYTRADER_PASSPHRASE and delete the file)."""
    path = var / "passphrase"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_urlsafe(32))
    return path


def init_deployment(
    root: Path, network: str = "live", url: str | None = None, markets: tuple[str, ...] = ("usdm",), python: str = sys.executable
) -> Path:
    """A starter deployment: copytrader.toml (no slaves yet), passphrase file, empty keystore and
    the master programs. Never overwrites an existing configuration."""
    from keystore import Keystore

    config_path = root / "copytrader.toml"
    if config_path.exists():
        raise SystemExit(f"{config_path} exists already: not touching it")
    var = ensure_private_dir(root / "var")
    ensure_private_dir(root / "run")
    (root / "logs").mkdir(exist_ok=True)
    passphrase = _passphrase_file(var).read_text().strip()
    if not (var / "keystore" / "keystore.json").exists():
        Keystore.create(var / "keystore", passphrase).close()
    app = AppConfig(
        exchange=ExchangeConfig(network=network, url=url),  # type: ignore[arg-type]
        keystore=KeystoreConfig(dir="var/keystore", passphrase_file="var/passphrase"),
        masters={m: MasterConfig(account="master") for m in markets},  # type: ignore[misc]
        base_dir=str(root),
    )
    write_config_atomic(config_path, app, backup=False)
    write_programs(root, config_path, python)
    return config_path


def wait_running(root: Path, timeout: float) -> int:
    """Wait until supervisord runs every program; print the ones that did not come up."""
    sup = Supervisor(f"unix://{root / 'run' / 'supervisor.sock'}", timeout=5)
    deadline = time.monotonic() + timeout
    pending: list[str] = []
    while time.monotonic() < deadline:
        try:
            procs = sup.processes()
        except Exception:  # noqa: BLE001 - supervisord still starting
            time.sleep(0.5)
            continue
        pending = [p.name for p in procs if p.state != "RUNNING"]
        if procs and not pending:
            print(f"all {len(procs)} programs running")
            return 0
        time.sleep(0.5)
    print(f"not running after {timeout:.0f}s: {', '.join(pending) or 'supervisord'}", file=sys.stderr)
    return 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m actors.deployment", description=__doc__.splitlines()[0])
    ap.add_argument("command", choices=["init", "demo", "programs", "wait"])
    ap.add_argument("--network", choices=["live", "testnet", "simulator"], default="live", help="init: exchange")
    ap.add_argument("--url", default=None, help="init: base URL of a simulator (network simulator)")
    ap.add_argument("--markets", default="usdm", help="init: master markets, comma separated")
    ap.add_argument("--root", type=Path, default=Path.cwd())
    ap.add_argument("--port", type=int, default=None)
    ap.add_argument("--timeout", type=float, default=60.0)
    args = ap.parse_args(argv)
    root = args.root.resolve()
    if args.command == "init":
        markets = tuple(m.strip() for m in args.markets.split(",") if m.strip())
        path = init_deployment(root, args.network, args.url, markets)
        print(
            f"wrote {path}, var/passphrase (mode 0600) and an empty keystore in var/keystore.\n"
            "Next: copytrader keys add master ... ; copytrader keys add <slave> ... ;"
            " copytrader slave add <slave> ... ; supervisord -c supervisor.conf"
        )
        return 0
    if args.command == "demo":
        print(f"demo configuration written: {demo_setup(root, args.port)}")
        return 0
    if args.command == "programs":
        for p in write_programs(root, root / "copytrader.toml"):
            print(p)
        return 0
    return wait_running(root, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
