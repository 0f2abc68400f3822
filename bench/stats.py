"""Pure figures of the benchmark: percentiles, per-event fan-out, lost/doubled accounting.

No I/O here: the harness (run.py) collects rows, these functions turn them into numbers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

PERCENTILES = (50, 90, 99)


class Summary(msgspec.Struct, frozen=True, kw_only=True):
    """Distribution of one latency figure in microseconds."""

    count: int
    p50: float | None = None
    p90: float | None = None
    p99: float | None = None
    max: float | None = None
    mean: float | None = None


def percentile(sorted_values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) of already sorted values, linear between closest ranks
    (numpy's default). Raises ValueError on an empty sequence or q outside 0..100."""
    if not sorted_values:
        raise ValueError("percentile of no values")
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    pos = (len(sorted_values) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(sorted_values[lo])
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def summarize(values: Iterable[float]) -> Summary:
    """p50, p90, p99, max and mean (all None when there is no value)."""
    data = sorted(values)
    if not data:
        return Summary(count=0)
    return Summary(
        count=len(data),
        p50=round(percentile(data, 50), 1),
        p90=round(percentile(data, 90), 1),
        p99=round(percentile(data, 99), 1),
        max=round(float(data[-1]), 1),
        mean=round(sum(data) / len(data), 1),
    )


def median(values: Iterable[float]) -> float | None:
    data = sorted(values)
    return percentile(data, 50) if data else None


class Copy(msgspec.Struct, frozen=True, kw_only=True):
    """One slave's copy of one master event, as seen at the exchange and in the slave's report."""

    slave: str
    event: int  # index of the master event (its master trade, in placement order)
    t_master_recv_ns: int  # the master listener read the exchange event
    t_arrival_ns: int  # the slave's order request reached the exchange
    t_slave_fill_ns: int | None = None  # the slave's order filled at the exchange
    t_master_fill_ns: int | None = None  # the master's order filled at the exchange


def internal_us(copies: Iterable[Copy]) -> list[float]:
    """Master event received -> slave order at the exchange, per copy, in microseconds."""
    return [(c.t_arrival_ns - c.t_master_recv_ns) / 1000 for c in copies]


def end_to_end_us(copies: Iterable[Copy]) -> list[float]:
    """Master fill at the exchange -> slave fill at the exchange, per copy, in microseconds."""
    return [
        (c.t_slave_fill_ns - c.t_master_fill_ns) / 1000 for c in copies if c.t_slave_fill_ns is not None and c.t_master_fill_ns is not None
    ]


def fanout_last_us(copies: Iterable[Copy], slaves: int) -> list[float]:
    """Per master event: master event received -> the LAST of the slaves' orders at the exchange.
    Only events every one of `slaves` copied count (an incomplete event is counted as lost)."""
    by_event: dict[int, list[Copy]] = defaultdict(list)
    for c in copies:
        by_event[c.event].append(c)
    out = []
    for event in sorted(by_event):
        cs = by_event[event]
        if len({c.slave for c in cs}) < slaves:
            continue
        out.append((max(c.t_arrival_ns for c in cs) - cs[0].t_master_recv_ns) / 1000)
    return out


def per_slave_median_us(copies: Iterable[Copy]) -> list[float]:
    """For each slave, its median internal latency (us)."""
    by_slave: dict[str, list[float]] = defaultdict(list)
    for c in copies:
        by_slave[c.slave].append((c.t_arrival_ns - c.t_master_recv_ns) / 1000)
    return [percentile(sorted(v), 50) for v in by_slave.values()]


class Accounting(msgspec.Struct, frozen=True, kw_only=True):
    expected: int  # slave x master event pairs that should have been copied exactly once
    copied: int  # pairs with exactly one executed order
    lost: int  # pairs with no executed order
    doubled: int  # pairs with more than one executed order
    lost_pairs: list[tuple[str, int]] = msgspec.field(default_factory=list)  # first few, for the log
    doubled_pairs: list[tuple[str, int]] = msgspec.field(default_factory=list)


def account(expected: Mapping[tuple[str, int], str], executed_cids: Mapping[str, Iterable[str]], sample: int = 10) -> Accounting:
    """`expected[(slave, event)]` = the client order id the copy must carry; `executed_cids[slave]`
    = client order ids of that slave's orders that executed at the exchange (repeats count).
    Lost: an expected pair with no executed order; doubled: one with more than one."""
    counts = {slave: Counter(cids) for slave, cids in executed_cids.items()}
    lost: list[tuple[str, int]] = []
    doubled: list[tuple[str, int]] = []
    copied = 0
    for (slave, event), cid in sorted(expected.items()):
        n = counts.get(slave, Counter()).get(cid, 0)
        if n == 0:
            lost.append((slave, event))
        elif n > 1:
            doubled.append((slave, event))
        else:
            copied += 1
    return Accounting(
        expected=len(expected),
        copied=copied,
        lost=len(lost),
        doubled=len(doubled),
        lost_pairs=lost[:sample],
        doubled_pairs=doubled[:sample],
    )


def ratio(naive: float | None, ours: float | None) -> float | None:
    """naive / ours, rounded; None when either is missing or ours is zero."""
    if naive is None or ours is None or ours <= 0:
        return None
    return round(naive / ours, 2)


def as_dict(s: Summary) -> dict[str, Any]:
    return msgspec.structs.asdict(s)
