"""The slave's USD-M income for the ledger (issue 22): realized PnL, commissions and funding fees,
read from `GET /fapi/v1/income` (weight 30) every `COPYTRADER_INCOME_POLL_S` seconds (default
900: 100 slaves then take 200 of the IP's 2,400 weight a minute) and reported to control as an
`IncomeReport`, which journals it; `copytrader report` sums it per slave.

A cursor (`<state_dir>/slave-<id>-income.json`, written atomically after each report) holds the
time of the newest record read and the records of that millisecond, so a restart reads on from
there and nothing is reported twice by this slave (the ledger counts each (type, tranId) once in
any case). A slave without a cursor starts from the time it first ran: what the account earned
before copytrader is not in its ledger. Spot and margin trades are not read yet.
"""

from __future__ import annotations

import logging
import os
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import msgspec

from protocol.messages import IncomeItem, IncomeReport

from ..binance import usdm_api
from ..files import write_atomic
from .rules import now_ns

log = logging.getLogger("copytrader.slave")
POLL_ENV = "COPYTRADER_INCOME_POLL_S"
PAGE = 1000


class Cursor(msgspec.Struct, kw_only=True):
    since_ms: int
    seen: list[tuple[str, int]] = msgspec.field(default_factory=list)  # (type, tranId) read at since_ms


def poll_interval() -> float:
    raw = os.environ.get(POLL_ENV, "900")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{POLL_ENV}: {raw!r} is not a number of seconds") from None
    if value < 0.1:
        raise ValueError(f"{POLL_ENV}: must be at least 0.1 s, not {value}")
    return value


def cursor_path(state_dir: Path, slave_id: str) -> Path:
    return Path(state_dir) / f"slave-{slave_id}-income.json"


def load_cursor(path: Path, now_ms: int) -> Cursor:
    try:
        return msgspec.json.decode(path.read_bytes(), type=Cursor)
    except FileNotFoundError:
        return Cursor(since_ms=now_ms)
    except (OSError, msgspec.DecodeError) as exc:
        log.warning("income cursor %s unreadable (%s): reading on from now", path, exc)
        return Cursor(since_ms=now_ms)


def _item(row: dict[str, Any]) -> IncomeItem | None:
    try:
        return IncomeItem(
            tran_id=int(row["tranId"]),
            income_type=str(row["incomeType"])[:40],
            income=Decimal(str(row["income"])),
            asset=str(row.get("asset") or "USDT"),
            symbol=str(row.get("symbol") or ""),
            time_ms=int(row["time"]),
        )
    except (KeyError, TypeError, ValueError, InvalidOperation, msgspec.ValidationError):
        log.warning("income record without the fields we need: %s", sorted(row)[:10])
        return None


async def read_income(rest: Any, cursor: Cursor) -> tuple[list[IncomeItem], Cursor]:
    """The records after `cursor`, oldest first, and the cursor after them."""
    seen = set(cursor.seen)
    items: list[IncomeItem] = []
    page = 1
    while True:
        rows = await usdm_api.income(rest, cursor.since_ms, page=page, limit=PAGE)
        for row in rows:
            item = _item(row)
            if item is None or item.time_ms < cursor.since_ms:
                continue
            if item.time_ms == cursor.since_ms and (item.income_type, item.tran_id) in seen:
                continue  # read by the poll before
            items.append(item)
        if len(rows) < PAGE:
            break
        page += 1
    if not items:
        return [], cursor
    newest = max(i.time_ms for i in items)
    at_newest = {(i.income_type, i.tran_id) for i in items if i.time_ms == newest}
    if newest == cursor.since_ms:
        at_newest |= seen
    return items, Cursor(since_ms=newest, seen=sorted(at_newest))


class IncomePoller:
    """Polls one slave's USD-M income (process.py calls `due` once a second)."""

    def __init__(self, slave: Any, path: Path) -> None:
        self.slave = slave
        self.path = path
        self.interval = poll_interval()
        self.next_at = time.monotonic() + self.interval
        self.cursor = load_cursor(path, int(time.time() * 1000))
        self.running = False
        if not path.exists():  # the first run: what it earns from now on, whatever restarts come before the first record
            try:
                write_atomic(path, msgspec.json.encode(self.cursor))
            except OSError as exc:
                log.warning("income cursor %s not written: %s", path, exc)

    def due(self, now: float) -> bool:
        return not self.running and now >= self.next_at and "usdm" in getattr(self.slave, "mirrors", {})

    async def poll(self) -> None:
        self.running = True
        try:
            account = self.slave.mirrors["usdm"].account
            items, cursor = await read_income(account.rest, self.cursor)
            if items:
                self.slave.report(IncomeReport(slave_id=self.slave.slave_id, market="usdm", items=tuple(items), t_ns=now_ns()))
                write_atomic(self.path, msgspec.json.encode(cursor))
                self.cursor = cursor
        except Exception as exc:  # noqa: BLE001 - read again at the next poll; copying goes on
            log.warning("income not read: %s", exc)
        finally:
            self.running = False
            self.next_at = time.monotonic() + self.interval
