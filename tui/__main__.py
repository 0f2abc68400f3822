"""`python -m tui --config copytrader.toml` (also `copytrader tui`): the terminal UI.

Reads only the runtime directory (and, for the add-slave wizard, the exchange) from the config
file; everything else comes from the control actor.
"""

from __future__ import annotations

import argparse
import os
import sys

from .settings import SettingsError, load_settings

CONFIG_ENV = "COPYTRADER_CONFIG"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="copytrader tui", description="copytrader terminal UI")
    parser.add_argument(
        "--config",
        default=os.environ.get(CONFIG_ENV, "copytrader.toml"),
        help=f"deployment TOML (default: ${CONFIG_ENV}, else ./copytrader.toml)",
    )
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds to wait for a control reply")
    parser.add_argument("--probe-interval", type=float, default=2.0, help="seconds between liveness probes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(args.config)
        endpoint = settings.control_endpoint
    except SettingsError as exc:
        sys.stderr.write(f"copytrader tui: {exc}\n")
        return 2
    from .app import CopyTraderApp

    CopyTraderApp(endpoint, settings=settings, timeout=args.timeout, probe_interval=args.probe_interval).run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
