"""What a benchmark run is asked (Options, the burst size) and what it records of each master event."""

from __future__ import annotations

import msgspec

BURST = 10


class Options(msgspec.Struct, kw_only=True):
    slaves: int = 20
    events: int = 500  # measured master events: half isolated, half in bursts of 10
    warmup: int = 24
    naive_events: int = 100  # isolated master events for the naive copier (0: skip it)
    gap_s: float = 0.02  # pause after an isolated event's copies are all decided
    burst_gap_s: float = 0.1
    start_batch: int = 10  # slaves started at once
    out: str = "bench.json"
    svg: str | None = None
    keep: bool = False
    quiet: bool = False
    max_load: float = 0.0  # wait until the 1-minute load average is at most this (0: don't)
    code: str | None = None  # run the simulator and the actors from this source tree (A/B runs)
    sim_nice: int = 0  # scheduling priority of the simulator process (0: as ours)
    key_type: str = "ED25519"  # the slaves' keys (the naive copier signs HMAC, as such copiers do)


class Event(msgspec.Struct, frozen=True):
    index: int
    phase: str  # "isolated" | "burst"
    order_id: int
    trade_id: int
    symbol: str
    t_master_recv_ns: int
    t_master_pub_ns: int
