"""`copytrader status | slave add|edit|remove|list | restart | pause | resume`.

Every command goes through the control actor when it is running (its ipc socket accepts
connections). When it is not, `status` and `slave list` read the config file, and the commands
that change the configuration edit it safely (validated, atomic, `.bak`); the control actor
applies the slave program files when it starts. `restart` needs the control actor.

    copytrader [--config FILE] [--timeout S] status [--json]
    copytrader slave list [--json]
    copytrader slave add ID [--markets usdm,spot] [--sizing fixed_ratio --ratio 0.5] [...]
    copytrader slave edit ID [--ratio 0.25] [...]        only the options given change
    copytrader slave remove ID --yes
    copytrader restart NAME                                a slave id or a program name (master-usdm)
    copytrader pause SLAVE | --all
    copytrader resume SLAVE | --all

Exit codes: 0 ok, 1 refused by control (the reason is printed), 2 usage or invalid input,
3 control actor unavailable or not answering.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import msgspec

from actors.base import Endpoints
from actors.config import AppConfig, ConfigError, load_config, write_config_atomic
from actors.control.commands import CommandError, edits
from actors.control.commands.status import slave_state
from protocol.client import ControlClient, ControlError, ControlTimeout, ControlUnavailable, control_running
from protocol.control_api import (
    AddSlave,
    ControlRequest,
    ControlResult,
    Done,
    GetStatus,
    ListSlaves,
    PauseAll,
    PauseSlave,
    RemoveSlave,
    RestartActor,
    ResumeAll,
    ResumeSlave,
    SetSlaveConfig,
    SlaveListResult,
    SlaveSummary,
    StatusResult,
)
from protocol.errors import ErrorCode
from protocol.messages import SlaveConfig
from protocol.slave_config import sizing_label

EXIT_OK, EXIT_REFUSED, EXIT_USAGE, EXIT_UNAVAILABLE = 0, 1, 2, 3
CONFIG_ENV = "COPYTRADER_CONFIG"
DEFAULT_CONFIG = "copytrader.toml"


class UsageError(Exception):
    pass


@dataclass
class Io:
    stdout: TextIO = field(default_factory=lambda: sys.stdout)
    stderr: TextIO = field(default_factory=lambda: sys.stderr)

    def out(self, text: str) -> None:
        self.stdout.write(text + "\n")

    def err(self, text: str) -> None:
        self.stderr.write(text + "\n")


# ------------------------------------------------------------------------------------ parsing


def _slave_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("id")
    p.add_argument("--name")
    p.add_argument("--markets", help="comma separated: usdm,spot,margin")
    p.add_argument("--sizing", choices=("balance_multiplier", "fixed_ratio", "fixed_amount", "fixed_fraction"))
    p.add_argument("--ratio", help="fixed_ratio: slave qty = ratio x master qty")
    p.add_argument("--multiplier", help="balance_multiplier: k = multiplier x slave equity / master equity")
    p.add_argument("--amount", help="fixed_amount: the notional (USDT, not margin) of each copied entry or increase")
    p.add_argument("--fraction", help="fixed_fraction: each copied entry's notional as a fraction of equity (0.05: 5 %%)")
    p.add_argument("--allow", help="comma separated symbols (empty string: every symbol)")
    p.add_argument("--deny", help="comma separated symbols")
    p.add_argument("--max-leverage", type=int)
    p.add_argument("--max-notional", help="cap of every symbol's position value")
    p.add_argument("--symbol-max-notional", action="append", metavar="SYMBOL=CAP", default=None)
    p.add_argument("--reverse", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--enabled", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--paused", action=argparse.BooleanOptionalAction, default=None)
    p.add_argument("--min-notional-policy", choices=("defer", "round_up", "skip"))
    p.add_argument(
        "--on-start",
        choices=("sync", "new_only", "flatten", "better_price"),
        help="flatten: a clean start (own positions closed, open orders canceled), then new only",
    )
    p.add_argument("--orders", choices=("fills", "mirror"), help="mirror: copy the master's resting limit orders too (USD-M, spot, margin)")
    p.add_argument("--settle-after-ms", type=int, help="orders = mirror: wait this long before settling a done order")
    p.add_argument("--protective", choices=("mirror", "off"), help="orders = mirror: copy the master's USD-M stops too")
    p.add_argument("--margin-level-min")
    p.add_argument(
        "--close-only", action=argparse.BooleanOptionalAction, default=None, help="guard: copy reductions and closes only, never an entry"
    )
    p.add_argument("--max-open-positions", help='guard: open no position beyond this many ("" or 0: no limit)')
    p.add_argument("--max-slippage-pct", help='guard: entries as IOC LIMIT at the master\'s price +/- this %% ("" or 0: off, MARKET)')
    p.add_argument("--max-total-exposure", help='guard: the notionals of all positions (USDT) stay under this ("" or 0: off)')
    p.add_argument("--equity-floor", help='equity stop: no entry once the equity (USDT) is below this ("" or 0: off)')
    p.add_argument("--max-drawdown-pct", help='equity stop: no entry once the equity is this %% under its high-water mark ("" or 0: off)')
    p.add_argument("--on-stop", choices=("pause", "flatten"), help="what the equity stop does: pause entries, or also close the positions")
    p.add_argument("--daily-loss-limit", help='no entry once the equity lost this much (USDT) in the window ("" or 0: off)')
    p.add_argument("--daily-loss-window", choices=("utc_day", "rolling_24h"), help="the daily loss limit's window")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="copytrader", description="copytrader control commands")
    parser.add_argument(
        "--config",
        default=os.environ.get(CONFIG_ENV, DEFAULT_CONFIG),
        help=f"deployment TOML (default: ${CONFIG_ENV}, else ./{DEFAULT_CONFIG})",
    )
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds to wait for the control actor")
    sub = parser.add_subparsers(dest="command", required=True)
    status = sub.add_parser("status", help="actors, slaves, errors")
    status.add_argument("--json", action="store_true")
    slave = sub.add_parser("slave", help="list, add, edit or remove slaves")
    slave_sub = slave.add_subparsers(dest="action", required=True)
    listing = slave_sub.add_parser("list")
    listing.add_argument("--json", action="store_true")
    _slave_options(slave_sub.add_parser("add"))
    _slave_options(slave_sub.add_parser("edit"))
    remove = slave_sub.add_parser("remove")
    remove.add_argument("id")
    remove.add_argument("--yes", action="store_true", help="confirm: the slave is stopped and forgotten")
    restart = sub.add_parser("restart", help="restart one actor (stop + start)")
    restart.add_argument("name")
    for verb in ("pause", "resume"):
        p = sub.add_parser(verb, help=f"{verb} one slave, or --all")
        p.add_argument("slave", nargs="?")
        p.add_argument("--all", action="store_true")
    return parser


def _csv(value: str) -> list[str]:
    return [x.strip() for x in value.split(",") if x.strip()]


def slave_changes(args: argparse.Namespace) -> dict[str, Any]:
    """The SlaveConfig fields the options set (only those given)."""
    changes: dict[str, Any] = {}
    simple = {
        "name": "name",
        "sizing": "sizing",
        "ratio": "ratio",
        "multiplier": "multiplier",
        "amount": "amount",
        "fraction": "fraction",
        "max_leverage": "max_leverage",
        "max_notional": "max_position_notional",
        "reverse": "reverse",
        "enabled": "enabled",
        "paused": "paused",
        "min_notional_policy": "min_notional_policy",
        "on_start": "on_start",
        "margin_level_min": "margin_level_min",
        "orders": "orders",
        "settle_after_ms": "settle_after_ms",
        "protective": "protective",
        "close_only": "close_only",
        "on_stop": "on_stop",
        "daily_loss_window": "daily_loss_window",
    }
    for option, name in simple.items():
        value = getattr(args, option)
        if value is not None:
            changes[name] = value
    if args.max_open_positions is not None:
        text = args.max_open_positions.strip()
        if text not in ("", "0") and not text.isdigit():
            raise UsageError(f"--max-open-positions: expected a whole number, got {text!r}")
        changes["max_open_positions"] = None if text in ("", "0") else int(text)
    for name in ("max_slippage_pct", "max_total_exposure", "equity_floor", "max_drawdown_pct", "daily_loss_limit"):
        value = getattr(args, name)
        if value is not None:  # "" or 0: the threshold off (changing either lifts an equity stop that acted)
            changes[name] = None if value.strip() in ("", "0") else value.strip()
    for option, name in (("markets", "markets"), ("allow", "symbols_allow"), ("deny", "symbols_deny")):
        value = getattr(args, option)
        if value is not None:
            changes[name] = _csv(value)
    if args.symbol_max_notional:
        caps: dict[str, str] = {}
        for item in args.symbol_max_notional:
            symbol, sep, cap = item.partition("=")
            if not sep:
                raise UsageError(f"--symbol-max-notional: expected SYMBOL=CAP, got {item!r}")
            caps[symbol.strip()] = cap.strip()
        changes["symbol_max_notional"] = caps
    return changes


def merge_slave(base: SlaveConfig | None, slave_id: str, changes: dict[str, Any]) -> SlaveConfig:
    """A validated SlaveConfig: `base` (or defaults) with `changes`; UsageError naming the field."""
    raw: dict[str, Any] = msgspec.to_builtins(base) if base is not None else {"id": slave_id}
    raw.update(changes)
    try:
        return msgspec.convert(raw, SlaveConfig, strict=False)
    except (msgspec.ValidationError, ValueError) as exc:
        raise UsageError(f"slave {slave_id}: {exc}") from None


# ------------------------------------------------------------------------------------ output


def _slave_line(s: SlaveSummary, paused_all: bool = False) -> str:
    c = s.config
    size = sizing_label(c)
    state = slave_state(c, s.process_state, s.status, paused_all=paused_all)
    return f"{c.id:<16} {state:<11} {s.process_state:<9} {','.join(c.markets):<16} {size:<18} {c.name}"


def print_slaves(io: Io, result: SlaveListResult, paused_all: bool = False) -> None:
    io.out(f"{'ID':<16} {'STATE':<11} {'PROCESS':<9} {'MARKETS':<16} {'SIZING':<18} NAME")
    for s in result.slaves:
        io.out(_slave_line(s, paused_all))


def print_status(io: Io, result: StatusResult) -> None:
    io.out(f"{'ACTOR':<24} {'STATE':<10} {'PID':>7} {'UPTIME':>8}  HEARTBEAT")
    for a in result.actors:
        hb = f"{a.heartbeat_age_ms} ms ago" if a.heartbeat_age_ms is not None else ""
        pid = str(a.pid) if a.pid else "-"
        io.out(f"{a.name:<24} {a.state:<10} {pid:>7} {a.uptime_s:>7}s  {hb}")
    io.out(
        f"slaves: {result.slaves_total} total, {result.slaves_running} running;"
        f" pause-all: {'ON' if result.paused_all else 'off'}; unacknowledged errors: {result.unacked_errors}"
    )


def print_tracking(io: Io, result: SlaveListResult, paused_all: bool = False) -> None:
    """Per slave: state, sizing, equity and k per market, whether its positions track k x master
    (each position within one step, as the slave judged it), and its last mirror latency."""
    io.out(
        f"{'SLAVE':<12} {'STATE':<11} {'MARKET':<7} {'K':>8} {'EQUITY':>12} {'POSITIONS':>9} {'TRACKING':<16} {'LATENCY':>9}  LAST ERROR"
    )
    for s in result.slaves:
        state = slave_state(s.config, s.process_state, s.status, paused_all=paused_all)
        st = s.status
        latency = f"{st.last_latency_ns / 1e6:.1f} ms" if st and st.last_latency_ns else "-"
        error = (st.errors[-1] if st and st.errors else "")[:40]
        markets = st.markets if st else ()
        if not markets:
            io.out(f"{s.config.id:<12} {state:<11} {'-':<7} {'-':>8} {'-':>12} {'-':>9} {'no report yet':<16} {latency:>9}  {error}")
        for m in markets:
            drifted = [p for p in m.positions if not p.in_sync]
            tracking = "refused" if m.refused else ("in sync" if not drifted else f"DRIFT {len(drifted)}/{len(m.positions)}")
            k = f"{m.k:.4f}" if m.k is not None else "-"
            equity = f"{m.equity:,.2f}" if m.equity is not None else "-"
            io.out(
                f"{s.config.id:<12} {state:<11} {m.market:<7} {k:>8} {equity:>12} {len(m.positions):>9} "
                f"{tracking:<16} {latency:>9}  {error}"
            )


def print_mirrored(io: Io, result: SlaveListResult) -> None:
    """Each slave's open copies of the master's orders (orders = "mirror"), beside the master's."""
    rows = [(s.config.id, m.market, o) for s in result.slaves if s.status for m in s.status.markets for o in m.mirrored]
    if not rows:
        return
    io.out("")
    io.out(f"{'SLAVE':<12} {'MARKET':<7} {'SYMBOL':<12} {'ORDER':<20} {'SIDE':<11} {'PRICE':>14} {'OURS':>12} {'MASTER':>12}  MASTER ID")
    for slave_id, market, o in rows:
        ours = "close-all" if o.close_position else f"{o.qty}"
        master = "close-all" if o.close_position else f"{o.master_qty}"
        kind = f"{o.order_type}{' (triggered)' if o.triggered else ''}"
        side = f"{o.side} {o.position_side}"
        io.out(f"{slave_id:<12} {market:<7} {o.symbol:<12} {kind:<20} {side:<11} {o.price:>14} {ours:>12} {master:>12}  {o.master_id}")


def _json(io: Io, obj: Any) -> None:
    io.out(msgspec.json.encode(obj).decode())


# ------------------------------------------------------------------------------------ commands


class Session:
    """Talks to the control actor if it runs, else works on the config file."""

    def __init__(self, config_path: Path, timeout: float) -> None:
        self.config_path = config_path
        self.config: AppConfig = load_config(config_path)
        self.endpoint = Endpoints(self.config.runtime_dir).control
        self.online = control_running(self.endpoint)
        self.timeout = timeout

    def request(self, msg: ControlRequest) -> ControlResult:
        with ControlClient(self.endpoint, timeout=self.timeout) as client:
            return client.request(msg)

    def edit(self, mutate: Callable[[AppConfig], AppConfig]) -> None:
        write_config_atomic(self.config_path, mutate(self.config))


def _status(s: Session, args: argparse.Namespace, io: Io) -> int:
    if s.online:
        result = s.request(GetStatus(id=0))
        assert isinstance(result, StatusResult)
        slaves = s.request(ListSlaves(id=0))
        assert isinstance(slaves, SlaveListResult)
        if args.json:
            _json(io, {"status": result, "slaves": slaves})
        else:
            print_status(io, result)
            io.out("")
            print_tracking(io, slaves, result.paused_all)
            print_mirrored(io, slaves)
        return EXIT_OK
    io.err(f"control actor not running ({s.endpoint}): showing the configuration only")
    listing = SlaveListResult(slaves=tuple(SlaveSummary(config=c) for c in s.config.slaves))
    _json(io, listing) if args.json else print_slaves(io, listing)
    return EXIT_OK


def _slave_list(s: Session, args: argparse.Namespace, io: Io) -> int:
    if s.online:
        result = s.request(ListSlaves(id=0))
        assert isinstance(result, SlaveListResult)
    else:
        result = SlaveListResult(slaves=tuple(SlaveSummary(config=c) for c in s.config.slaves))
    _json(io, result) if args.json else print_slaves(io, result)
    return EXIT_OK


def _key_exists(config: AppConfig, slave_id: str) -> bool:
    from keystore.store import record_path

    try:
        return record_path(config.keystore_dir, slave_id).exists()
    except ValueError:
        return False


def _slave_add(s: Session, args: argparse.Namespace, io: Io) -> int:
    slave = merge_slave(None, args.id, slave_changes(args))
    if s.online:
        return _done(io, s.request(AddSlave(id=0, config=slave)))
    new = edits.add_slave(s.config, slave)  # refuses a duplicate id first
    if not _key_exists(s.config, slave.id):
        raise CommandError(ErrorCode.NOT_FOUND, f"no API key for account {slave.id!r}: copytrader keys add {slave.id}")
    s.edit(lambda cfg: new)
    io.out(f"slave {slave.id} added to {s.config_path} (control actor not running: it starts the slave when it starts)")
    return EXIT_OK


def _slave_edit(s: Session, args: argparse.Namespace, io: Io) -> int:
    changes = slave_changes(args)
    if not changes:
        raise UsageError("slave edit: give at least one option to change")
    base = edits.find_slave(s.config, args.id)
    if s.online:  # edit the control actor's current version, not our possibly stale read
        current = s.request(ListSlaves(id=0))
        assert isinstance(current, SlaveListResult)
        base = next((x.config for x in current.slaves if x.config.id == args.id), base)
    slave = merge_slave(base, args.id, changes)
    if s.online:
        return _done(io, s.request(SetSlaveConfig(id=0, config=slave)))
    s.edit(lambda cfg: edits.set_slave(cfg, slave))
    io.out(f"slave {slave.id} updated in {s.config_path}")
    return EXIT_OK


def _slave_remove(s: Session, args: argparse.Namespace, io: Io) -> int:
    if not args.yes:
        raise UsageError(f"slave remove {args.id}: this stops the slave and forgets its settings; add --yes")
    if s.online:
        return _done(io, s.request(RemoveSlave(id=0, slave_id=args.id)))
    s.edit(lambda cfg: edits.remove_slave(cfg, args.id))
    io.out(f"slave {args.id} removed from {s.config_path}")
    return EXIT_OK


def _restart(s: Session, args: argparse.Namespace, io: Io) -> int:
    if not s.online:
        raise ControlUnavailable(f"control actor not running ({s.endpoint}): use supervisorctl")
    name = args.name
    if any(x.id == name for x in s.config.slaves):
        name = f"slave-{name}"
    return _done(io, s.request(RestartActor(id=0, name=name)))


def _pause(s: Session, args: argparse.Namespace, io: Io, paused: bool) -> int:
    verb = "pause" if paused else "resume"
    if args.all == bool(args.slave):
        raise UsageError(f"{verb}: give one slave id or --all")
    if args.all:
        if not s.online:
            raise ControlUnavailable(f"{verb} --all needs the control actor ({s.endpoint})")
        return _done(io, s.request(PauseAll(id=0) if paused else ResumeAll(id=0)))
    if s.online:
        msg = PauseSlave(id=0, slave_id=args.slave) if paused else ResumeSlave(id=0, slave_id=args.slave)
        return _done(io, s.request(msg))
    s.edit(lambda cfg: edits.set_paused(cfg, args.slave, paused)[0])
    io.out(f"slave {args.slave} {'paused' if paused else 'resumed'} in {s.config_path}")
    return EXIT_OK


def _done(io: Io, result: ControlResult) -> int:
    io.out(result.detail if isinstance(result, Done) else msgspec.json.encode(result).decode())
    return EXIT_OK


def main_control(argv: Sequence[str], io: Io | None = None) -> int:
    io = io or Io()
    parser = build_parser()
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        session = Session(Path(args.config), args.timeout)
        if args.command == "status":
            return _status(session, args, io)
        if args.command == "slave":
            handler = {"list": _slave_list, "add": _slave_add, "edit": _slave_edit, "remove": _slave_remove}[args.action]
            return handler(session, args, io)
        if args.command == "restart":
            return _restart(session, args, io)
        return _pause(session, args, io, args.command == "pause")
    except UsageError as exc:
        io.err(f"copytrader: {exc}")
        return EXIT_USAGE
    except ConfigError as exc:
        io.err(f"copytrader: {exc}")
        return EXIT_USAGE
    except (ControlUnavailable, ControlTimeout) as exc:
        io.err(f"copytrader: {exc}")
        return EXIT_UNAVAILABLE
    except ControlError as exc:
        io.err(f"copytrader: refused: {exc}")
        return EXIT_REFUSED
    except CommandError as exc:
        io.err(f"copytrader: {exc}")
        return EXIT_REFUSED
