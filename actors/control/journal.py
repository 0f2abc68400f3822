"""The journal: every master event, slave decision and error, in SQLite (WAL), written by control.

Schema (one table; `body` keeps the whole message, msgpack, so nothing is lost to the columns):

    journal(id INTEGER PRIMARY KEY AUTOINCREMENT, ts_ms, kind, slave_id, market, symbol, summary,
            error (1: needs an operator), acked, master_order_id, master_trade_id, client_order_id,
            t_master_recv_ns, t_master_pub_ns, t_slave_recv_ns, t_order_sent_ns, t_order_acked_ns,
            latency_ns (master receipt -> order ack/failure), body BLOB)

A second table keeps the alerts the notifier accepted until they are delivered, so an alert still
waiting in its grouping window survives a control crash (re-offered by the next control start):

    alerts(alert_id TEXT PRIMARY KEY, ts_ms (accepted, wall clock), key (dedup key),
           state ('pending' | 'sent' | 'unsent': no channel | 'expired' | 'unreadable'),
           attempts (failed deliveries), done_ms, body BLOB (the alert, msgpack; notify.py decodes it))

`kind` is a SlaveReport tag ("mirrored", "skipped", "failed", "status", "desync", "reconciled",
"slaveerr"), a master event kind ("master.fill", "master.order", "master.algo", "master.cfg", "master.snap"), "notify" (a
notification sent) or "control" (an operator action). Errors ("failed", "desync", "slaveerr") are
journalled unacknowledged until `ack`.

`JournalStore` is the blocking SQLite layer (one connection, one thread). `Journal` is its asyncio
front: `append` only buffers; once per loop tick the buffer goes to the store as one
`executemany` transaction on a dedicated writer thread, so a burst of thousands of reports never
stalls the loop. Queries run on the same thread, after every write queued before them.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

import msgspec

from protocol.codec import decode_slave_report
from protocol.control_api import JournalEntry
from protocol.errors import ProtocolError
from protocol.messages import SlaveReport

from .records import (
    ERROR_KINDS as ERROR_KINDS,  # re-exported: callers import them from here
    REPORT_KINDS as REPORT_KINDS,
    CoveredBody as CoveredBody,
    JournalRecord as JournalRecord,
    _nz as _nz,
    now_ms as now_ms,
    record_for_covered as record_for_covered,
    record_for_equity as record_for_equity,
    record_for_event as record_for_event,
    record_for_master_event as record_for_master_event,
    record_for_report as record_for_report,
    summarize_report as summarize_report,
    tag_of as tag_of,
)

log = logging.getLogger("copytrader.journal")


_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    ts_ms INTEGER NOT NULL,
    kind TEXT NOT NULL,
    slave_id TEXT,
    market TEXT,
    symbol TEXT,
    summary TEXT NOT NULL DEFAULT '',
    error INTEGER NOT NULL DEFAULT 0,
    acked INTEGER NOT NULL DEFAULT 1,
    master_order_id INTEGER,
    master_trade_id INTEGER,
    client_order_id TEXT,
    t_master_recv_ns INTEGER,
    t_master_pub_ns INTEGER,
    t_slave_recv_ns INTEGER,
    t_order_sent_ns INTEGER,
    t_order_acked_ns INTEGER,
    latency_ns INTEGER,
    body BLOB
);
CREATE INDEX IF NOT EXISTS journal_slave ON journal(slave_id, id);
CREATE INDEX IF NOT EXISTS journal_symbol ON journal(symbol, id);
CREATE INDEX IF NOT EXISTS journal_kind ON journal(kind, id);
CREATE INDEX IF NOT EXISTS journal_unacked ON journal(acked) WHERE acked = 0;
CREATE TABLE IF NOT EXISTS alerts (
    alert_id TEXT PRIMARY KEY,
    ts_ms INTEGER NOT NULL,
    key TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'pending',
    attempts INTEGER NOT NULL DEFAULT 0,
    done_ms INTEGER,
    body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS alerts_pending ON alerts(ts_ms) WHERE state = 'pending';
CREATE INDEX IF NOT EXISTS alerts_ts ON alerts(ts_ms);
"""
ALERT_DONE_STATES: Final = frozenset({"sent", "unsent", "expired", "unreadable"})

_COLUMNS: Final = (
    "ts_ms",
    "kind",
    "slave_id",
    "market",
    "symbol",
    "summary",
    "error",
    "acked",
    "master_order_id",
    "master_trade_id",
    "client_order_id",
    "t_master_recv_ns",
    "t_master_pub_ns",
    "t_slave_recv_ns",
    "t_order_sent_ns",
    "t_order_acked_ns",
    "latency_ns",
    "body",
)
_INSERT: Final = f"INSERT INTO journal ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})"


class PendingAlert(msgspec.Struct, frozen=True, kw_only=True):
    """An accepted alert not delivered yet (a row of the `alerts` table)."""

    alert_id: str
    ts_ms: int  # accepted at (wall clock)
    key: str  # dedup key
    attempts: int  # failed deliveries so far
    body: bytes  # the alert, msgpack


class AlertRecovery(msgspec.Struct, frozen=True, kw_only=True):
    """What a starting notifier needs from the previous runs (`JournalStore.alerts_for_restart`)."""

    pending: list[PendingAlert]  # to re-offer, oldest first
    expired: int  # pending but older than the re-send bound: marked 'expired', not re-sent
    recent_keys: list[tuple[str, int]]  # (key, last accepted ts_ms) within the dedup interval


# An alert-table change queued with the journal rows: (sql, parameters). Built only by Journal.
AlertOp = tuple[str, tuple[Any, ...]]
_ALERT_NEW: Final = "INSERT OR IGNORE INTO alerts (alert_id, ts_ms, key, body) VALUES (?, ?, ?, ?)"


def _alert_done_op(alert_id: str, state: str, ts_ms: int) -> AlertOp:
    return ("UPDATE alerts SET state = ?, done_ms = ? WHERE alert_id = ? AND state = 'pending'", (state, ts_ms, alert_id))


def _alert_failed_op(alert_id: str) -> AlertOp:
    return ("UPDATE alerts SET attempts = attempts + 1 WHERE alert_id = ? AND state = 'pending'", (alert_id,))


# ------------------------------------------------------------------------------- the store


class JournalStore:
    """Blocking SQLite journal. Use from one thread at a time."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL: durable across app crashes, cheap
        self._db.execute("PRAGMA busy_timeout=5000")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        self._db.close()

    def journal_mode(self) -> str:
        return str(self._db.execute("PRAGMA journal_mode").fetchone()[0])

    def insert_many(self, records: Sequence[JournalRecord]) -> int:
        """Insert in one transaction; returns the number of rows written."""
        if not records:
            return 0
        with _transaction(self._db):
            self._db.executemany(_INSERT, [r.row() for r in records])
        return len(records)

    def write(self, records: Sequence[JournalRecord], alert_ops: Sequence[AlertOp]) -> int:
        """Journal rows and alert-table changes in one transaction; returns the journal rows written."""
        if not alert_ops:
            return self.insert_many(records)
        with _transaction(self._db):
            if records:
                self._db.executemany(_INSERT, [r.row() for r in records])
            for sql, params in alert_ops:
                self._db.execute(sql, params)
        return len(records)

    def alerts_for_restart(
        self, now_ms: int, resend_within_ms: int, dedup_within_ms: int, keep_done_ms: int = 7 * 86_400_000
    ) -> AlertRecovery:
        """Pending alerts accepted within `resend_within_ms` (oldest first); older pending ones are
        marked 'expired'; keys accepted within `dedup_within_ms`; finished rows older than
        `keep_done_ms` are deleted."""
        with _transaction(self._db):
            expired = self._db.execute(
                "UPDATE alerts SET state = 'expired', done_ms = ? WHERE state = 'pending' AND ts_ms < ?",
                (now_ms, now_ms - resend_within_ms),
            ).rowcount
            self._db.execute("DELETE FROM alerts WHERE state != 'pending' AND ts_ms < ?", (now_ms - keep_done_ms,))
        pending = [
            PendingAlert(alert_id=a, ts_ms=t, key=k, attempts=n, body=b)
            for a, t, k, n, b in self._db.execute(
                "SELECT alert_id, ts_ms, key, attempts, body FROM alerts WHERE state = 'pending' ORDER BY ts_ms, rowid"
            )
        ]
        keys = self._db.execute("SELECT key, max(ts_ms) FROM alerts WHERE ts_ms >= ? GROUP BY key", (now_ms - dedup_within_ms,)).fetchall()
        return AlertRecovery(pending=pending, expired=expired, recent_keys=[(k, int(t)) for k, t in keys])

    def alert_states(self) -> dict[str, tuple[str, int]]:
        """alert_id -> (state, attempts), every row (tests, diagnostics)."""
        return {a: (s, n) for a, s, n in self._db.execute("SELECT alert_id, state, attempts FROM alerts")}

    def query(
        self,
        limit: int = 100,
        *,
        slave_id: str | None = None,
        symbol: str | None = None,
        kind: str | None = None,
        before_id: int | None = None,
        errors_only: bool = False,
    ) -> list[JournalEntry]:
        """Most recent first."""
        where: list[str] = []
        args: list[Any] = []
        for column, value in (("slave_id", slave_id), ("symbol", symbol), ("kind", kind)):
            if value is not None:
                where.append(f"{column} = ?")
                args.append(value)
        if before_id is not None:
            where.append("id < ?")
            args.append(before_id)
        if errors_only:
            where.append("error = 1")
        sql = "SELECT id, ts_ms, kind, slave_id, market, symbol, summary, acked, body FROM journal"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY id DESC LIMIT ?"
        args.append(max(1, int(limit)))
        return [_entry(row) for row in self._db.execute(sql, args)]

    def ack(self, error_id: int | None = None) -> int:
        """Acknowledge one error (or all); returns how many rows changed."""
        with _transaction(self._db):
            if error_id is None:
                cur = self._db.execute("UPDATE journal SET acked = 1 WHERE acked = 0")
            else:
                cur = self._db.execute("UPDATE journal SET acked = 1 WHERE acked = 0 AND id = ?", (error_id,))
        return cur.rowcount

    def unacked_count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM journal WHERE acked = 0").fetchone()[0])

    def exists(self, entry_id: int) -> bool:
        return self._db.execute("SELECT 1 FROM journal WHERE id = ?", (entry_id,)).fetchone() is not None

    def count(self) -> int:
        return int(self._db.execute("SELECT count(*) FROM journal").fetchone()[0])

    def decisions_since(self, since_ms: int, slave_id: str | None = None) -> list[tuple[int, SlaveReport]]:
        """The slaves' decisions since `since_ms` (`_decisions_query`)."""
        return _decisions_query(self._db, since_ms, slave_id)

    def coverage_rows(self, limit: int = 500_000) -> list[tuple[str, str | None, str | None, bytes | None]]:
        """(kind, slave_id, market, body) of the latest master fills, decisions and covered rows,
        oldest first: what the control actor's coverage index is rebuilt from after a restart."""
        sql = (
            "SELECT kind, slave_id, market, body FROM journal WHERE kind IN "
            "('master.fill', 'mirrored', 'skipped', 'failed', 'covered') ORDER BY id DESC LIMIT ?"
        )
        rows = self._db.execute(sql, (limit,)).fetchall()
        rows.reverse()
        return rows


def _equity_query(
    db: sqlite3.Connection, since_ms: int, slave_id: str | None, until_ms: int | None = None
) -> list[tuple[int, str, Decimal]]:
    """(ts_ms, slave id, equity) of the journalled equity samples since `since_ms`, oldest first."""
    sql = "SELECT ts_ms, slave_id, body FROM journal WHERE kind = 'equity' AND ts_ms >= ?"
    args: list[Any] = [since_ms]
    if until_ms is not None:
        sql += " AND ts_ms < ?"
        args.append(until_ms)
    if slave_id is not None:
        sql += " AND slave_id = ?"
        args.append(slave_id)
    out: list[tuple[int, str, Decimal]] = []
    for ts_ms, sid, body in db.execute(sql + " ORDER BY id", args):
        try:
            out.append((ts_ms, sid, Decimal(bytes(body).decode())))
        except (ArithmeticError, UnicodeDecodeError, TypeError):
            continue
    return out


def _decisions_query(
    db: sqlite3.Connection, since_ms: int, slave_id: str | None, until_ms: int | None = None
) -> list[tuple[int, SlaveReport]]:
    """(ts_ms, report) of the slaves' decisions (mirrored, skipped, failed) and income since `since_ms`,
    oldest first (the ledger's input: actors/control/ledger.py); rows of an older protocol that
    no longer decode are left out. Also used on a read-only connection (copytrader report)."""
    sql = "SELECT ts_ms, body FROM journal WHERE kind IN ('mirrored', 'skipped', 'failed', 'income') AND ts_ms >= ?"
    args: list[Any] = [since_ms]
    if until_ms is not None:
        sql += " AND ts_ms < ?"
        args.append(until_ms)
    if slave_id is not None:
        sql += " AND slave_id = ?"
        args.append(slave_id)
    out: list[tuple[int, SlaveReport]] = []
    for ts_ms, body in db.execute(sql + " ORDER BY id", args):
        try:
            out.append((ts_ms, decode_slave_report(body)))
        except ProtocolError:
            continue
    return out


class _transaction:
    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN")

    def __exit__(self, exc_type: object, *_: object) -> None:
        self.db.execute("ROLLBACK" if exc_type else "COMMIT")


def _entry(row: tuple[Any, ...]) -> JournalEntry:
    entry_id, ts_ms, kind, slave_id, market, symbol, summary, acked, body = row
    report: SlaveReport | None = None
    if body is not None and kind in REPORT_KINDS:
        try:
            report = decode_slave_report(body)
        except ProtocolError:  # a row written by an older protocol: keep the summary
            report = None
    return JournalEntry(
        id=entry_id,
        ts_ms=ts_ms,
        slave_id=slave_id,
        market=market,
        symbol=symbol,
        kind=kind,
        summary=summary,
        report=report,
        acked=bool(acked),
    )


# ------------------------------------------------------------------------------- asyncio front


class Journal:
    """Batching asyncio front of a JournalStore: appends are buffered and written once per loop
    tick, on one writer thread that also serves queries (so a query sees every earlier append)."""

    def __init__(self, path: str | Path) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journal")
        self._store = JournalStore(path)
        self._buffer: list[JournalRecord] = []
        self._alert_ops: list[AlertOp] = []
        self._closed = False
        self._scheduled = False
        self._pending: set[asyncio.Future[Any]] = set()
        self.written = 0
        self.failed = 0

    @property
    def path(self) -> Path:
        return self._store.path

    def append(self, record: JournalRecord) -> None:
        """Never blocks: the record is written at the end of this loop tick."""
        self._buffer.append(record)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_now)

    def extend(self, records: Iterable[JournalRecord]) -> None:
        for record in records:
            self.append(record)

    # Alerts (actors/control/notify.py): buffered like `append`, written in the same transaction as the rows.
    def alert_accepted(self, alert_id: str, key: str, body: bytes, ts_ms: int | None = None) -> None:
        """An alert the notifier accepted: pending until `alerts_done`."""
        self._queue_alert_op((_ALERT_NEW, (alert_id, now_ms() if ts_ms is None else ts_ms, key, body)))

    def alerts_done(self, alert_ids: Iterable[str], state: str = "sent") -> None:
        """These alerts are finished ('sent', 'unsent' (no channel), 'expired', 'unreadable')."""
        if state not in ALERT_DONE_STATES:
            raise ValueError(f"alert state must be one of {sorted(ALERT_DONE_STATES)}, not {state!r}")
        ts = now_ms()
        for alert_id in alert_ids:
            self._queue_alert_op(_alert_done_op(alert_id, state, ts))

    def alerts_failed(self, alert_ids: Iterable[str]) -> None:
        """A delivery of these alerts failed: they stay pending (re-offered by the next start)."""
        for alert_id in alert_ids:
            self._queue_alert_op(_alert_failed_op(alert_id))

    def _queue_alert_op(self, op: AlertOp) -> None:
        self._alert_ops.append(op)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush_now)

    def _flush_now(self) -> None:
        self._scheduled = False
        batch, self._buffer = self._buffer, []
        ops, self._alert_ops = self._alert_ops, []
        if not batch and not ops:
            return
        fut = asyncio.get_running_loop().run_in_executor(self._pool, self._store.write, batch, ops)
        self._pending.add(fut)
        fut.add_done_callback(self._written)

    def _written(self, fut: asyncio.Future[int]) -> None:
        self._pending.discard(fut)
        if fut.cancelled():
            return
        exc = fut.exception()
        if exc is not None:
            self.failed += 1
            log.error("journal write failed: %s", exc)
        else:
            self.written += fut.result()

    async def _run(self, func: Any, *args: Any, **kwargs: Any) -> Any:
        self._flush_now()
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._pool, lambda: func(*args, **kwargs))

    async def flush(self) -> None:
        """Wait until everything appended so far is written."""
        await self._run(lambda: None)

    async def query(self, limit: int = 100, **filters: Any) -> list[JournalEntry]:
        return await self._run(self._store.query, limit, **filters)

    async def ack(self, error_id: int | None = None) -> int:
        return await self._run(self._store.ack, error_id)

    async def exists(self, entry_id: int) -> bool:
        return await self._run(self._store.exists, entry_id)

    async def unacked_count(self) -> int:
        return await self._run(self._store.unacked_count)

    async def coverage_rows(self, limit: int = 500_000) -> list[tuple[str, str | None, str | None, bytes | None]]:
        return await self._run(self._store.coverage_rows, limit)

    async def alerts_for_restart(self, now_ms: int, resend_within_ms: int, dedup_within_ms: int) -> AlertRecovery:
        return await self._run(self._store.alerts_for_restart, now_ms, resend_within_ms, dedup_within_ms)

    async def alert_states(self) -> dict[str, tuple[str, int]]:
        return await self._run(self._store.alert_states)

    async def ledger_input(
        self, since_ms: int, slave_id: str | None
    ) -> tuple[list[tuple[int, SlaveReport]], list[tuple[int, str, Decimal]]]:
        """The decisions, income and equity samples since `since_ms` (the ledger's input)."""
        db = self._store._db
        return await self._run(lambda: (_decisions_query(db, since_ms, slave_id), _equity_query(db, since_ms, slave_id)))  # type: ignore[no-any-return]

    async def prune(self, now_ms: int, retention_days: int) -> int:
        """One retention step on the writer thread (actors/control/retention.py); rows deleted."""
        from .retention import prune_step

        return int(await self._run(prune_step, self._store._db, now_ms, retention_days))

    async def close(self) -> None:
        """Write what is buffered, then close. A second call does nothing."""
        if self._closed:
            return
        self._closed = True
        await self.flush()
        await self._run(self._store.close)
        self._pool.shutdown(wait=True)
