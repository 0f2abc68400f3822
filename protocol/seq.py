"""Sequence tracking of one publisher's messages (pure, no I/O).

A publisher (master-<market>) draws a random `epoch` when it starts and numbers the events it
publishes 1, 2, 3 ... within that epoch (see messages.py). A subscriber feeds every event's
(epoch, seq) to a `SeqTracker` and acts on the verdict:

- FIRST      first message seen: join point (reconcile from a snapshot unless seq == 1)
- OK         the next number: apply the event
- GAP        numbers were lost (`expected`..`got - 1`): reconcile from a snapshot
- DUPLICATE  already seen (seq < expected): drop it
- RESTART    a new epoch: the publisher restarted; reconcile from a snapshot

Heartbeats consume no number: `check_heartbeat` reports GAP when the heartbeat says events exist
that were never received (the trailing event of a burst was lost), OK otherwise.
"""

from __future__ import annotations

import enum

import msgspec


class SeqVerdict(enum.Enum):
    FIRST = "first"
    OK = "ok"
    GAP = "gap"
    DUPLICATE = "duplicate"
    RESTART = "restart"


class SeqResult(msgspec.Struct, frozen=True):
    verdict: SeqVerdict
    expected: int  # the seq the tracker expected (0 when it had none)
    got: int

    @property
    def missed(self) -> int:
        """How many numbers were lost (GAP only)."""
        return self.got - self.expected if self.verdict is SeqVerdict.GAP else 0


class SeqTracker:
    """Tracks one publisher. Not thread-safe (one per subscriber loop)."""

    __slots__ = ("epoch", "last")

    def __init__(self) -> None:
        self.epoch: int | None = None
        self.last = 0  # last seq accepted in `epoch`

    def feed(self, epoch: int, seq: int) -> SeqResult:
        """Classify an event's (epoch, seq) and advance past it unless it is a duplicate."""
        if self.epoch is None:
            self.epoch, self.last = epoch, seq
            return SeqResult(SeqVerdict.FIRST, 0, seq)
        if epoch != self.epoch:
            self.epoch, self.last = epoch, seq
            return SeqResult(SeqVerdict.RESTART, 0, seq)
        expected = self.last + 1
        if seq == expected:
            self.last = seq
            return SeqResult(SeqVerdict.OK, expected, seq)
        if seq < expected:
            return SeqResult(SeqVerdict.DUPLICATE, expected, seq)
        self.last = seq
        return SeqResult(SeqVerdict.GAP, expected, seq)

    def check_heartbeat(self, epoch: int, last_seq: int) -> SeqResult:
        """A heartbeat announces the publisher's last seq; it does not advance the tracker."""
        if self.epoch is None:
            return SeqResult(SeqVerdict.FIRST, 0, last_seq)
        if epoch != self.epoch:
            return SeqResult(SeqVerdict.RESTART, 0, last_seq)
        expected = self.last + 1
        if last_seq > self.last:
            return SeqResult(SeqVerdict.GAP, expected, last_seq + 1)
        return SeqResult(SeqVerdict.OK, expected, last_seq)

    def reset(self, epoch: int, seq: int) -> None:
        """After applying a snapshot whose state includes every event <= `seq` of `epoch`:
        later events continue from seq + 1, earlier buffered ones become duplicates."""
        self.epoch, self.last = epoch, seq
