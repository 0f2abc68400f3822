"""The copies of the master's resting orders a slave has placed (`orders = "mirror"`), kept in
`<state_dir>/slaves/<id>/copies-<market>.json` so that a restarted slave cancels exactly those,
whatever its configuration is now, with no open-orders read (GET /fapi/v1/openOrders costs 40
weight: 100 slaves starting at once would spend more than an IP's minute).

[[symbol, client order id], ...]: written atomically before a copy is sent and when one ends, so a
copy that exists is always listed (a listed one that never reached the exchange is looked up and
found absent). A file that cannot be read is reported by name and treated as empty."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

from ..files import write_atomic

log = logging.getLogger("copytrader.slave")
_decoder = msgspec.json.Decoder(list[tuple[str, str]])


def copies_path(slave: Any, market: str) -> Path | None:
    app = getattr(slave, "app", None)
    return None if app is None else Path(app.state_dir) / "slaves" / slave.slave_id / f"copies-{market}.json"


def load_copies(path: Path | None) -> list[tuple[str, str]]:
    if path is None:
        return []
    try:
        return _decoder.decode(path.read_bytes())
    except FileNotFoundError:
        return []
    except OSError as exc:
        log.error("cannot read %s (%s): copies placed before this start are not canceled", path, exc.strerror)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        log.error("%s is not a valid record of copies (%s): ignored", path, exc)
    return []


def save_copies(path: Path | None, copies: Iterable[tuple[str, str]]) -> None:
    if path is None:
        return
    try:
        write_atomic(path, msgspec.json.encode(sorted(set(copies))))
    except OSError as exc:
        log.warning("could not save %s: %s (a restart may leave a copy open)", path, exc.strerror)


__all__ = ["copies_path", "load_copies", "save_copies"]
