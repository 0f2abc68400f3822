"""`copytrader` console script.

copytrader keys ...                          manage the encrypted API keys (actors/cli/keys.py)
copytrader status                            actors, slaves, errors (actors/cli/control.py)
copytrader slave add|edit|remove|list ...    slaves (through the control actor when it runs)
copytrader restart NAME                      restart one actor (stop + start)
copytrader pause|resume SLAVE|--all
copytrader report [--slave ID] [--since 24h] [--format table|csv|json]   how every copy did (actors/cli/report.py)
copytrader tui [--config FILE]               the terminal UI (runs `python -m tui`)
copytrader init [--network live|testnet] ... a starter config, passphrase file and keystore
copytrader demo [start|stop|status]          the demo (scripts/demo)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

USAGE = (
    "usage: copytrader keys {init,add,list,verify,rotate,remove,change-passphrase} ...\n"
    "       copytrader [--config FILE] [--timeout S] status [--json]\n"
    "       copytrader [--config FILE] slave {list,add,edit,remove} ...\n"
    "       copytrader [--config FILE] restart NAME\n"
    "       copytrader [--config FILE] {pause,resume} SLAVE|--all\n"
    "       copytrader [--config FILE] report [--slave ID] [--since 24h|7d|DATE] [--format table|csv|json]\n"
    "       copytrader [--config FILE] tui\n"
    "       copytrader init [--root DIR] [--network live|testnet|simulator] [--url URL] [--markets usdm,spot]\n"
    "       copytrader demo [start|stop|status]\n"
)
CONTROL_COMMANDS = frozenset({"status", "slave", "restart", "pause", "resume"})


def _command(args: list[str]) -> str | None:
    """The first word that is not an option (or an option's value) of the control commands."""
    skip = False
    for arg in args:
        if skip:
            skip = False
            continue
        if arg in ("--config", "--timeout"):
            skip = True
            continue
        if arg.startswith("-"):
            continue
        return arg
    return None


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        sys.stdout.write(USAGE)
        return 0 if args else 2
    if args[0] == "init":
        from actors.deployment import main as deployment_main

        return deployment_main(["init", *args[1:]])
    if args[0] == "demo":
        from pathlib import Path

        script = Path(__file__).resolve().parents[2] / "scripts" / "demo"
        os.execv("/bin/bash", ["/bin/bash", str(script), *args[1:]])  # never returns
    if args[0] == "keys":
        from actors.cli.keys import main_keys

        return main_keys(args[1:])
    if _command(args) == "tui":
        rest = list(args)
        rest.remove("tui")  # the TUI takes the same --config/--timeout options
        os.execv(sys.executable, [sys.executable, "-m", "tui", *rest])  # never returns
    if _command(args) == "report":
        from actors.cli.report import main_report

        return main_report(args)
    if _command(args) in CONTROL_COMMANDS:
        from actors.cli.control import main_control

        return main_control(args)
    sys.stderr.write(f"copytrader: unknown command {args[0]!r}\n{USAGE}")
    return 2


if __name__ == "__main__":
    sys.exit(main())
