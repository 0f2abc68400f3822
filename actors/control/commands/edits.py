"""Pure edits of the configuration (no I/O): shared by the control actor and the offline CLI.

Each returns a new AppConfig; `write_config_atomic` validates it as a whole before it is written.
"""

from __future__ import annotations

import msgspec

from actors.config import AppConfig
from protocol.errors import ErrorCode
from protocol.messages import SlaveConfig

from . import CommandError


def find_slave(config: AppConfig, slave_id: str) -> SlaveConfig:
    for slave in config.slaves:
        if slave.id == slave_id:
            return slave
    raise CommandError(ErrorCode.NOT_FOUND, f"no slave {slave_id!r}")


def check_markets(config: AppConfig, slave: SlaveConfig) -> None:
    """A slave may only follow markets that have a master."""
    missing = [market for market in slave.markets if market not in config.masters]
    if missing:
        raise CommandError(
            ErrorCode.INVALID_ARGUMENT, f"config.markets: {missing} not followed by any master (configured: {sorted(config.masters)})"
        )


def add_slave(config: AppConfig, slave: SlaveConfig) -> AppConfig:
    if any(s.id == slave.id for s in config.slaves):
        raise CommandError(ErrorCode.ALREADY_EXISTS, f"slave {slave.id!r} already exists")
    check_markets(config, slave)
    return msgspec.structs.replace(config, slaves=(*config.slaves, slave))


def set_slave(config: AppConfig, slave: SlaveConfig) -> AppConfig:
    find_slave(config, slave.id)
    check_markets(config, slave)
    return msgspec.structs.replace(config, slaves=tuple(slave if s.id == slave.id else s for s in config.slaves))


def remove_slave(config: AppConfig, slave_id: str) -> AppConfig:
    find_slave(config, slave_id)
    return msgspec.structs.replace(config, slaves=tuple(s for s in config.slaves if s.id != slave_id))


def set_paused(config: AppConfig, slave_id: str, paused: bool) -> tuple[AppConfig, SlaveConfig]:
    slave = msgspec.structs.replace(find_slave(config, slave_id), paused=paused)
    return set_slave(config, slave), slave
