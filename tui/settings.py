"""What the TUI needs from the deployment's TOML file, read with tomllib (never actors.config).

Only three things: where the control socket is (`[paths] runtime_dir`, relative to the file's
folder, default "run"), and, for the add-slave wizard's key handoff, the `[exchange]` the new key
is validated against (`network` live/testnet, or a simulator `url`). Everything else comes from
the control actor.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from protocol.endpoints import Endpoints


class SettingsError(ValueError):
    """The config file is missing or unreadable; the message names the file and the field."""


@dataclass(frozen=True)
class TuiSettings:
    config_path: Path
    runtime_dir: Path
    exchange: str = "live"  # the `--exchange` argument of `copytrader keys add`
    keys_command: tuple[str, ...] = ()  # how to run `copytrader` (default: found on PATH, see keys.py)

    @property
    def control_endpoint(self) -> str:
        try:
            return Endpoints(self.runtime_dir).control
        except ValueError:
            raise SettingsError(f"paths.runtime_dir: {self.runtime_dir} is too long for an ipc socket") from None


def load_settings(config_path: str | Path) -> TuiSettings:
    path = Path(config_path)
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"config file {path} does not exist") from None
    except OSError as exc:
        raise SettingsError(f"config file {path}: {exc.strerror}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise SettingsError(f"config file {path} is not valid TOML: {exc}") from None
    base = path.resolve().parent
    paths = doc.get("paths", {})
    runtime = paths.get("runtime_dir", "run") if isinstance(paths, dict) else None
    if not isinstance(runtime, str) or not runtime:
        raise SettingsError(f"{path}: paths.runtime_dir must be a non-empty string")
    return TuiSettings(config_path=path.resolve(), runtime_dir=base / runtime, exchange=_exchange_arg(doc))


def _exchange_arg(doc: dict[str, object]) -> str:
    """live | testnet | the simulator's URL ("" when the file names none: `keys add` says so)."""
    exchange = doc.get("exchange", {})
    if not isinstance(exchange, dict):
        return ""
    network = exchange.get("network", "simulator")
    if network in ("live", "testnet"):
        return str(network)
    url = exchange.get("url")
    return url if isinstance(url, str) else ""
