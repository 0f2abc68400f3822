"""The deployment's configuration: one TOML file, owned by the control actor, read by every actor.

```toml
[exchange]
network = "simulator"            # live | testnet | simulator
url = "http://127.0.0.1:8765"    # simulator (or any Binance-compatible host): one host serves all

[paths]                          # relative paths are taken from the config file's folder
runtime_dir = "run"              # ipc:// sockets, mode 0700
state_dir = "var"                # journal, slave state
log_dir = "logs"

[keystore]
dir = "var/keystore"
passphrase_file = "var/passphrase"   # mode 0400/0600; or leave out and set COPYTRADER_PASSPHRASE

[masters.usdm]                   # one table per market the master trades: usdm, spot, margin
account = "master"               # keystore record holding the master's (read-only) key

[notifications]
urls = ["json://127.0.0.1:9999/hook"]   # apprise URLs

[journal]
retention_days = 90              # per-copy rows pruned after this; the daily per-slave aggregates kept for ever

[[slaves]]                       # protocol.messages.SlaveConfig, one table per follower
id = "slave01"
markets = ["usdm"]
sizing = "fixed_ratio"            # fixed_ratio | balance_multiplier | fixed_amount | fixed_fraction
ratio = "0.5"
# amount = "100"                 # fixed_amount: each copied entry or increase is worth 100 USDT (notional, not margin)
# fraction = "0.05"              # fixed_fraction: ... 5 % of the slave's equity (notional, not margin)
min_notional_policy = "defer"    # defer | round_up | skip: a copy under the exchange minimum (actors/domain/target.py)
close_only = false               # guard: copy only reductions and closes, never an entry (actors/domain/sizing.py)
# max_open_positions = 5         # guard: open no position beyond this many (actors/slave/guards.py)
# max_total_exposure = "20000"   # guard: the notionals of all positions (USDT, every market) stay under this
# max_slippage_pct = "0.5"       # guard: entries as IOC LIMIT at the master's fill price +/- 0.5 % (exits: MARKET)
# equity_floor = "5000"          # equity stop: no entry once the equity (USDT, over the markets) is below this
# max_drawdown_pct = "20"        # equity stop: ... or this % under its high-water mark (actors/domain/equity_stop.py)
# on_stop = "pause"              # pause | flatten: the equity stop also closes the positions, once
# daily_loss_limit = "500"       # no entry once the equity lost this much (USDT) in the window, until it resets
# daily_loss_window = "utc_day"  # utc_day | rolling_24h
```

Decimals are given as strings ("0.5") or numbers; every error names the offending field.
"""

from __future__ import annotations

import os
import tomllib
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from protocol.messages import Market, SlaveConfig

from .binance.endpoints import Endpoints
from .files import write_atomic


class ConfigError(ValueError):
    """The configuration file is missing, unreadable or invalid; the message names the field."""


Network = Literal["live", "testnet", "simulator"]


class ExchangeConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    network: Network = "simulator"
    url: str | None = None  # base URL of a simulator (http://host:port); required for "simulator"
    recv_window: Annotated[int, msgspec.Meta(ge=1, le=60000)] = 5000

    def __post_init__(self) -> None:
        if self.network == "simulator" and not self.url:
            raise ValueError("exchange.url is required when exchange.network is 'simulator'")
        if self.url is not None and not self.url.startswith(("http://", "https://")):
            raise ValueError(f"exchange.url must start with http:// or https://, got {self.url!r}")

    def endpoints(self) -> Endpoints:
        if self.network == "live":
            return Endpoints.live()
        if self.network == "testnet":
            return Endpoints.testnet()
        assert self.url is not None
        return Endpoints.local(self.url)


class PathsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    runtime_dir: str = "run"
    state_dir: str = "var"
    log_dir: str = "logs"


class KeystoreConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    dir: str = "var/keystore"
    passphrase_file: str | None = None


class MasterConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    account: Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
    snapshot_interval_s: Annotated[float, msgspec.Meta(ge=1)] = 30.0  # periodic snapshot + REST check


class NotificationsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    urls: tuple[str, ...] = ()
    group_window_s: Annotated[float, msgspec.Meta(ge=0)] = 5.0  # failures within it go in one message
    min_interval_s: Annotated[float, msgspec.Meta(ge=0)] = 60.0  # same notification at most this often
    stream_lost_after_s: Annotated[float, msgspec.Meta(ge=0)] = 30.0


class JournalConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    retention_days: Annotated[int, msgspec.Meta(ge=1, le=36500)] = 90  # per-copy rows; daily aggregates for ever


class AppConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    exchange: ExchangeConfig
    paths: PathsConfig = PathsConfig()
    keystore: KeystoreConfig = KeystoreConfig()
    masters: dict[Market, MasterConfig] = msgspec.field(default_factory=dict)
    notifications: NotificationsConfig = NotificationsConfig()
    journal: JournalConfig = JournalConfig()
    slaves: tuple[SlaveConfig, ...] = ()
    # Where the file was read from: relative paths resolve against its folder. Not in the TOML.
    base_dir: str = ""

    def __post_init__(self) -> None:
        seen: set[str] = set()
        for slave in self.slaves:
            if slave.id in seen:
                raise ValueError(f"slaves: id {slave.id!r} appears twice")
            seen.add(slave.id)
            missing = [m for m in slave.markets if m not in self.masters]
            if missing:
                raise ValueError(f"slaves[{slave.id}].markets names {missing}, but no [masters.{missing[0]}] is configured")
            other = [m for m in slave.markets if m != "usdm"]
            if slave.reverse and other:  # spot cannot go short; margin shorts via borrow are not implemented
                raise ValueError(
                    f"slaves[{slave.id}].reverse is USD-M only, but the slave also copies {', '.join(other)}:"
                    " set reverse = false, or copy those markets with another slave"
                )

    # -- derived paths -------------------------------------------------------------------------
    def path(self, value: str) -> Path:
        p = Path(os.path.expanduser(value))
        return p if p.is_absolute() else Path(self.base_dir or ".") / p

    @property
    def runtime_dir(self) -> Path:
        return self.path(self.paths.runtime_dir)

    @property
    def state_dir(self) -> Path:
        return self.path(self.paths.state_dir)

    @property
    def log_dir(self) -> Path:
        return self.path(self.paths.log_dir)

    @property
    def keystore_dir(self) -> Path:
        return self.path(self.keystore.dir)

    @property
    def passphrase_file(self) -> Path | None:
        return self.path(self.keystore.passphrase_file) if self.keystore.passphrase_file else None

    def slave(self, slave_id: str) -> SlaveConfig:
        for s in self.slaves:
            if s.id == slave_id:
                return s
        raise ConfigError(f"no slave {slave_id!r} in the configuration")


def _dec_hook(type_: type, obj: object) -> object:
    if type_ is Decimal and isinstance(obj, (int, float)):
        # TOML numbers: take the shortest repr so 0.1 stays 0.1 (not a binary float expansion).
        return Decimal(repr(obj)) if isinstance(obj, float) else Decimal(obj)
    raise NotImplementedError


def parse_config(text: str | bytes, base_dir: str | Path = ".", source: str = "config") -> AppConfig:
    """Parse and validate TOML text; raises ConfigError naming the file and field."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ConfigError(f"{source}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    raw.pop("base_dir", None)
    raw["base_dir"] = str(Path(base_dir).resolve())
    try:
        return msgspec.convert(raw, AppConfig, dec_hook=_dec_hook, strict=False)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: {exc}") from None
    except ValueError as exc:  # __post_init__ checks outside msgspec's own
        raise ConfigError(f"{source}: {exc}") from None


def load_config(path: str | Path) -> AppConfig:
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot read config {path}: {exc.strerror}") from None
    return parse_config(data, base_dir=path.parent, source=str(path))


def to_toml(config: AppConfig) -> str:
    """The TOML text of a config (decimals as strings, defaults left out, base_dir dropped)."""
    import tomli_w

    raw = msgspec.to_builtins(config, enc_hook=_enc_hook)
    raw.pop("base_dir", None)
    return tomli_w.dumps(_drop_none(raw))


def _enc_hook(obj: object) -> object:
    if isinstance(obj, Decimal):
        return str(obj)
    raise NotImplementedError


def _drop_none(obj: object) -> object:
    if isinstance(obj, dict):
        return {k: _drop_none(v) for k, v in obj.items() if v is not None}
    if isinstance(obj, list):
        return [_drop_none(v) for v in obj]
    return obj


def write_config_atomic(path: str | Path, config: AppConfig, *, backup: bool = True) -> None:
    """Validate, then write `path` atomically (temp file, fsync, rename); keep the previous file as
    `<name>.bak`. A config that does not re-parse is never written."""
    path = Path(path)
    text = to_toml(config)
    parse_config(text, base_dir=path.parent, source=f"{path} (about to be written)")
    if backup and path.exists():
        write_atomic(path.with_name(path.name + ".bak"), path.read_bytes())
    write_atomic(path, text)
