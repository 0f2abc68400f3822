"""Memory and CPU of a process from /proc: USS and PSS (smaps_rollup), CPU time (stat).

USS ("unique set size") = Private_Clean + Private_Dirty: what the process alone holds, freed when
it exits. Private_Dirty alone is what it wrote (heap, stacks): a leak grows it, while a clean page of a
shared library moves between Private_Clean and Shared_Clean as other processes map or drop it.
PSS = its private pages plus its share of pages shared with others (the sum of PSS over
processes is what they cost the machine together). RSS counts every shared page in full.
"""

from __future__ import annotations

import os

import msgspec

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


class Memory(msgspec.Struct, frozen=True, kw_only=True):
    rss_kib: int
    pss_kib: int
    uss_kib: int
    dirty_kib: int = 0


def parse_smaps_rollup(text: str) -> Memory:
    """`/proc/PID/smaps_rollup` text -> Memory. Raises ValueError naming a missing field."""
    fields: dict[str, int] = {}
    for line in text.splitlines():
        name, sep, rest = line.partition(":")
        if not sep:
            continue
        parts = rest.split()
        if len(parts) >= 2 and parts[1] == "kB" and parts[0].isdigit():
            fields[name.strip()] = int(parts[0])
    for need in ("Rss", "Pss", "Private_Clean", "Private_Dirty"):
        if need not in fields:
            raise ValueError(f"smaps_rollup has no {need} field")
    return Memory(
        rss_kib=fields["Rss"],
        pss_kib=fields["Pss"],
        uss_kib=fields["Private_Clean"] + fields["Private_Dirty"],
        dirty_kib=fields["Private_Dirty"],
    )


def read_memory(pid: int) -> Memory:
    with open(f"/proc/{pid}/smaps_rollup") as fh:
        return parse_smaps_rollup(fh.read())


def parse_stat_cpu_ticks(text: str) -> int:
    """utime + stime (clock ticks) from `/proc/PID/stat` text (the command name may hold spaces
    and parentheses: fields are counted after the last ')')."""
    tail = text.rpartition(")")[2].split()
    if len(tail) < 13:
        raise ValueError("/proc/PID/stat is too short")
    # after ")": state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt cmajflt utime(14) stime(15)
    return int(tail[11]) + int(tail[12])


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far, in seconds."""
    with open(f"/proc/{pid}/stat") as fh:
        return parse_stat_cpu_ticks(fh.read()) / _CLK_TCK


def parse_schedstat_ns(text: str) -> int:
    """Time on CPU in nanoseconds: the first field of `/proc/PID/schedstat`."""
    parts = text.split()
    if not parts or not parts[0].isdigit():
        raise ValueError("unreadable /proc/PID/schedstat")
    return int(parts[0])


def cpu_ns(pid: int) -> int:
    """CPU time of a process (all threads) in nanoseconds: schedstat (ns resolution) where the
    kernel has it, else utime + stime from stat (clock-tick resolution)."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                total += parse_schedstat_ns(fh.read())
        return total
    except (OSError, ValueError):
        return int(cpu_seconds(pid) * 1e9)


def thread_cpu(pid: int) -> dict[str, tuple[int, int]]:
    """Per thread name (`comm`; threads of one name summed): (ns on CPU, times scheduled in), from
    `/proc/PID/task/*/schedstat`. Each time a sleeping thread is woken it is scheduled in once, so the
    second figure counts wake-ups (plus preemptions). {} if the process is gone."""
    out: dict[str, tuple[int, int]] = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/comm") as fh:
                name = fh.read().strip()
            with open(f"/proc/{pid}/task/{tid}/schedstat") as fh:
                parts = fh.read().split()
            ns, slices = int(parts[0]), int(parts[2])
        except (OSError, ValueError, IndexError):
            continue
        prev = out.get(name, (0, 0))
        out[name] = (prev[0] + ns, prev[1] + slices)
    return out


def thread_delta(before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]], per: float) -> dict[str, dict[str, float]]:
    """CPU (us) and times scheduled in per `per` unit (an order, an event) for each thread name."""
    per = max(per, 1.0)
    return {
        name: {
            "cpu_us": round((a[0] - before.get(name, (0, 0))[0]) / 1000 / per, 1),
            "scheduled_in": round((a[1] - before.get(name, (0, 0))[1]) / per, 2),
        }
        for name, a in sorted(after.items())
    }


def parse_proc_stat_busy_ns(text: str) -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine in ns from the `cpu` line of /proc/stat
    (busy = everything but idle and iowait)."""
    for line in text.splitlines():
        parts = line.split()
        if parts and parts[0] == "cpu":
            ticks = [int(x) for x in parts[1:]]
            total = sum(ticks[:8])  # user nice system idle iowait irq softirq steal (guest is inside user)
            idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
            scale = 1_000_000_000 // _CLK_TCK
            return (total - idle) * scale, total * scale
    raise ValueError("/proc/stat has no cpu line")


def machine_busy_ns() -> int:
    """CPU time the whole machine has spent busy so far (ns, clock-tick resolution)."""
    with open("/proc/stat") as fh:
        return parse_proc_stat_busy_ns(fh.read())[0]


def theil_sen_slope(xs: list[float], ys: list[float]) -> float:
    """The median of the slopes between every pair of samples (Theil-Sen): a straight-line fit that
    a few outliers (a garbage collection, an arena freed, one slow sample on a loaded machine) cannot
    move, unlike least squares. ValueError for fewer than 2 distinct x values."""
    if len(xs) != len(ys):
        raise ValueError("xs and ys differ in length")
    slopes = sorted((ys[j] - ys[i]) / (xs[j] - xs[i]) for i in range(len(xs)) for j in range(i + 1, len(xs)) if xs[j] != xs[i])
    if not slopes:
        raise ValueError("need at least 2 samples at distinct times")
    mid = len(slopes) // 2
    return slopes[mid] if len(slopes) % 2 else (slopes[mid - 1] + slopes[mid]) / 2


class Growth(msgspec.Struct, frozen=True, kw_only=True):
    """USS of one process over a run: first and last sample, and the robust slope after warm-up."""

    start_kib: int  # first sample (before warm-up)
    measured_from_kib: int  # first sample after warm-up
    end_kib: int
    samples: int  # after warm-up
    slope_kib_per_min: float


def growth(samples: list[tuple[float, int]], warmup_s: float) -> Growth:
    """`samples`: (seconds since start, USS KiB). The slope is fitted on the samples taken
    `warmup_s` or more after the first one."""
    if not samples:
        raise ValueError("no samples")
    t0 = samples[0][0]
    after = [(t, kib) for t, kib in samples if t - t0 >= warmup_s]
    slope = theil_sen_slope([t for t, _ in after], [float(k) for _, k in after]) * 60 if len(after) >= 2 else 0.0
    return Growth(
        start_kib=samples[0][1],
        measured_from_kib=after[0][1] if after else samples[-1][1],
        end_kib=samples[-1][1],
        samples=len(after),
        slope_kib_per_min=round(slope, 1),
    )
