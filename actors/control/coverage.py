"""Which master fills a slave's reconciliation covered (pure, no I/O; the control actor runs it).

Every master fill must have exactly one decision per slave in the journal: an order (mirrored or
failed) or a skip with its reason. A slave cannot decide a fill it never received: fills published
while it was dead (SIGKILL, crash, restart), fills lost in a sequence gap, fills it had queued when
it was killed. Its next synchronisation (`Reconciled` with the master snapshot's epoch and seq)
brings its positions to k x the master's as of that snapshot, so those fills are *covered by
reconciliation*: control journals one "covered" row per (slave, fill) for them.

The rule, per (slave, market): a fill of the snapshot's epoch with seq <= the snapshot's seq (or any
fill of an older epoch of that master, which the new epoch's snapshot subsumes) is covered when the
slave has no decision for it AND it comes after the slave's last own decision on the same symbol.
A live slave decides one symbol's fills strictly in seq order (one worker per symbol), so the fills
it missed form a suffix per symbol; an undecided fill *followed* by a decided one on its symbol was
dropped silently by a live slave, and stays uncovered: that is what the chaos run counts as lost.
Skips the slave itself reports as "covered by reconciliation" are decisions, but they do not move
the per-symbol mark (they are the fills of that same gap).
"""

from __future__ import annotations

import sys
from collections import OrderedDict, deque
from typing import Any, Final

import msgspec

from ..limits import LIMITS

RECENT_RECONCILIATIONS: Final = 4  # per (slave, market), for fills that reach control late
MAX_FILLS: Final = LIMITS.coverage_fills  # per market: older fills are forgotten (the journal keeps them)


class FillRef(msgspec.Struct, frozen=True):
    market: str
    epoch: int
    seq: int
    symbol: str
    order_id: int
    trade_id: int


def fill_ref(fill: Any) -> FillRef:
    """The FillRef of a master fill (protocol MasterFill); market and symbol interned, so the
    window of fills does not hold one copy of each string per fill."""
    return FillRef(sys.intern(fill.market), fill.epoch, fill.seq, sys.intern(fill.symbol), fill.order_id, fill.trade_id)


class _Market:
    __slots__ = ("epochs", "by_seq", "order", "decided")

    def __init__(self) -> None:
        self.epochs: OrderedDict[int, None] = OrderedDict()  # first seen first
        self.by_seq: dict[tuple[int, int], FillRef] = {}
        self.order: deque[FillRef] = deque()
        # (epoch, seq) -> the slaves that decided it, one bit each (Coverage._bit): one int per
        # fill instead of one (slave, market, epoch, seq) tuple per slave and fill, and forgotten
        # with the fill (a set of tuples kept every decision of the run: 3 kB per fill with 20 slaves)
        self.decided: dict[tuple[int, int], int] = {}


class _Rec:
    """One reconciliation: the snapshot it synced to, and the slave's per-symbol marks then."""

    __slots__ = ("epoch", "seq", "older", "marks")

    def __init__(self, epoch: int, seq: int, older: frozenset[int], marks: dict[tuple[int, str], int]) -> None:
        self.epoch, self.seq, self.older, self.marks = epoch, seq, older, marks


class Coverage:
    """Master fills seen, slave decisions seen, and what each reconciliation covers."""

    def __init__(self, max_fills: int = MAX_FILLS) -> None:
        self.max_fills = max_fills
        self._markets: dict[str, _Market] = {}
        self._bits: dict[str, int] = {}  # slave id -> its bit in _Market.decided
        self._mark: dict[tuple[str, str, int, str], int] = {}  # (slave, market, epoch, symbol) -> max own seq
        # the last reconciliations per (slave, market): a fill can reach control after the slave's
        # Reconciled that covers it (two sockets, no order between them)
        self._recs: dict[tuple[str, str], deque[_Rec]] = {}

    def add_fill(self, fill: FillRef) -> list[tuple[str, int]]:
        """Index a master fill. Returns the (slave, snapshot seq) of reconciliations seen *before*
        it that cover it (now counted as decided): the caller journals them."""
        m = self._markets.setdefault(fill.market, _Market())
        if (fill.epoch, fill.seq) in m.by_seq:
            return []
        m.epochs.setdefault(fill.epoch, None)
        m.by_seq[(fill.epoch, fill.seq)] = fill
        m.order.append(fill)
        while len(m.order) > self.max_fills:
            old = m.order.popleft()
            m.by_seq.pop((old.epoch, old.seq), None)
            m.decided.pop((old.epoch, old.seq), None)
        if len(m.decided) > 2 * self.max_fills:
            self._trim_decided(m)
        return self._covered_late(fill)

    def _trim_decided(self, m: _Market) -> None:
        """Decisions on fills control never indexed (lost on the way, or older than the journal rows
        it was rebuilt from) have nothing to cover: keep only the newest `max_fills // 2` of them
        (then at least `max_fills // 2` more come before the next trim)."""
        orphans = [key for key in m.decided if key not in m.by_seq]
        for key in orphans[: max(0, len(orphans) - self.max_fills // 2)]:
            del m.decided[key]

    def _bit(self, slave_id: str) -> int:
        bit = self._bits.get(slave_id)
        if bit is None:
            bit = self._bits[slave_id] = 1 << len(self._bits)
        return bit

    def _mark_decided(self, m: _Market, slave_id: str, epoch: int, seq: int) -> None:
        key = (epoch, seq)
        m.decided[key] = m.decided.get(key, 0) | self._bit(slave_id)

    def _covered_late(self, fill: FillRef) -> list[tuple[str, int]]:
        out: list[tuple[str, int]] = []
        m = self._markets[fill.market]
        for (slave_id, market), recs in self._recs.items():
            if market != fill.market or self.decided(slave_id, market, fill.epoch, fill.seq):
                continue
            for rec in reversed(recs):
                in_range = fill.seq <= rec.seq if fill.epoch == rec.epoch else fill.epoch in rec.older
                # judged with the slave's decisions as they were at that reconciliation
                if in_range and fill.seq > rec.marks.get((fill.epoch, fill.symbol), 0):
                    self._mark_decided(m, slave_id, fill.epoch, fill.seq)
                    out.append((slave_id, rec.seq))
                    break
        return out

    def add_decision(self, slave_id: str, market: str, epoch: int, seq: int, symbol: str, *, covering: bool = False) -> None:
        """A slave's decision on the fill (epoch, seq); `covering`: its own "covered by
        reconciliation" skip (counts as a decision, does not move the per-symbol mark)."""
        if seq <= 0:
            return  # a correction or a flatten: no master fill behind it
        m = self._markets.setdefault(market, _Market())
        self._mark_decided(m, slave_id, epoch, seq)
        if len(m.decided) > 2 * self.max_fills:
            self._trim_decided(m)
        if not covering:
            key = (slave_id, market, epoch, symbol)
            if seq > self._mark.get(key, 0):
                self._mark[key] = seq

    def decided(self, slave_id: str, market: str, epoch: int, seq: int) -> bool:
        m = self._markets.get(market)
        bit = self._bits.get(slave_id)
        return m is not None and bit is not None and bool(m.decided.get((epoch, seq), 0) & bit)

    def reconciled(self, slave_id: str, market: str, epoch: int, seq: int) -> list[FillRef]:
        """The fills this reconciliation covers (now counted as decided), oldest first."""
        m = self._markets.get(market)
        if m is None or epoch == 0:
            return []
        older = set()
        for e in m.epochs:
            if e == epoch:
                break
            older.add(e)
        marks = {(e, sym): v for (sl, mk, e, sym), v in self._mark.items() if sl == slave_id and mk == market}
        recs = self._recs.setdefault((slave_id, market), deque(maxlen=RECENT_RECONCILIATIONS))
        recs.append(_Rec(epoch, seq, frozenset(older), marks))
        out = []
        for fill in m.order:
            if fill.epoch == epoch:
                if fill.seq > seq:
                    continue
            elif fill.epoch not in older:
                continue
            if self.decided(slave_id, market, fill.epoch, fill.seq):
                continue
            if fill.seq <= self._mark.get((slave_id, market, fill.epoch, fill.symbol), 0):
                continue  # followed by a decision of the live slave on its symbol: lost, not covered
            self._mark_decided(m, slave_id, fill.epoch, fill.seq)
            out.append(fill)
        return out


COVERING_TEXT: Final = "covered by reconciliation"


def is_covering_skip(reason: str, text: str) -> bool:
    """The slave's own skip for a fill its reconciliation covered (actors/slave/sync.py resync)."""
    return reason == "not_copied" and text.startswith(COVERING_TEXT)
