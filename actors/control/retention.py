"""Journal retention (issue 22): per-copy rows are kept `[journal] retention_days` (default 90), the
daily per-slave aggregates for ever.

The control actor prunes in the background, one short step at a time on the journal's writer
thread (`Journal.prune`): a step takes the oldest UTC day whose rows are all older than the
retention (the cutoff rounded down to a day), writes that day's aggregates per slave (the
ledger's summary: copies, filled, failed, skipped by reason, slippage and latency p50 / p90) into
the `daily` table once, then deletes up to `batch` of that day's rows. Rows of an error nobody
acknowledged yet are kept whatever their age, and the alerts table is not touched. A step that
deleted a full batch is followed by the next one at once; otherwise the next runs an hour later.
The journal's writes queue behind a step for as long as it takes (one batch).
"""

from __future__ import annotations

import sqlite3
import time

import msgspec

from .journal import _decisions_query, _equity_query
from .ledger import SlaveLedger, summarize

DAY_MS = 86_400_000
PRUNE_BATCH = 20_000  # rows deleted per step
DAILY_SCHEMA = """
CREATE INDEX IF NOT EXISTS journal_ts ON journal(ts_ms);
CREATE TABLE IF NOT EXISTS daily (
    day TEXT NOT NULL,
    slave_id TEXT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (day, slave_id)
);
"""


def _day(ts_ms: int) -> str:
    return time.strftime("%Y-%m-%d", time.gmtime(ts_ms / 1000))


def prune_step(db: sqlite3.Connection, now_ms: int, retention_days: int, batch: int = PRUNE_BATCH) -> int:
    """One step (see the module's docstring); how many rows it deleted."""
    db.executescript(DAILY_SCHEMA)
    cutoff = (now_ms - retention_days * DAY_MS) // DAY_MS * DAY_MS
    row = db.execute("SELECT min(ts_ms) FROM journal WHERE ts_ms < ? AND acked = 1", (cutoff,)).fetchone()
    if row is None or row[0] is None:
        return 0
    start = int(row[0]) // DAY_MS * DAY_MS
    end = start + DAY_MS
    day = _day(start)
    if db.execute("SELECT 1 FROM daily WHERE day = ? LIMIT 1", (day,)).fetchone() is None:
        decisions = _decisions_query(db, start, None, end)
        rows = [(day, s.slave_id, msgspec.msgpack.encode(s)) for s in summarize(decisions, _equity_query(db, start, None, end))]
        rows = rows or [(day, "", msgspec.msgpack.encode(SlaveLedger(slave_id="", copies=0, filled=0, failed=0, skipped={},
                                                                     slippage_p50_bps=None, slippage_p90_bps=None,
                                                                     latency_p50_ms=None, latency_p90_ms=None)))]  # fmt: skip
        with db:
            db.executemany("INSERT OR IGNORE INTO daily (day, slave_id, body) VALUES (?, ?, ?)", rows)
    with db:
        cur = db.execute(
            "DELETE FROM journal WHERE id IN (SELECT id FROM journal WHERE ts_ms >= ? AND ts_ms < ? AND acked = 1 LIMIT ?)",
            (start, end, batch),
        )
    return cur.rowcount


def daily(db: sqlite3.Connection, since_day: str = "") -> list[tuple[str, SlaveLedger]]:
    """The kept daily aggregates (day, summary) from `since_day` on, oldest first; a day with no
    copies has one row with an empty slave id."""
    if db.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'daily'").fetchone() is None:
        return []  # nothing pruned yet (and the connection may be read-only)
    rows = db.execute("SELECT day, body FROM daily WHERE day >= ? AND slave_id != '' ORDER BY day, slave_id", (since_day,))
    return [(day, msgspec.msgpack.decode(body, type=SlaveLedger)) for day, body in rows]
