"""Memory and CPU figures read from /proc: parsing and a look at this very process."""

from __future__ import annotations

import os

import pytest

from bench.memory import cpu_ns, parse_schedstat_ns, parse_smaps_rollup, parse_stat_cpu_ticks, read_memory

ROLLUP = """55d0c0a8a000-7ffd8c5f9000 ---p 00000000 00:00 0                          [rollup]
Rss:               29140 kB
Pss:               21043 kB
Pss_Anon:          15800 kB
Shared_Clean:       9208 kB
Shared_Dirty:          0 kB
Private_Clean:      2100 kB
Private_Dirty:     17832 kB
Referenced:        29140 kB
Anonymous:         15800 kB
Swap:                  0 kB
"""


def test_smaps_rollup_uss_is_private_clean_plus_dirty():
    m = parse_smaps_rollup(ROLLUP)

    assert (m.rss_kib, m.pss_kib, m.uss_kib) == (29140, 21043, 2100 + 17832)
    assert m.dirty_kib == 17832


def test_smaps_rollup_without_a_field_names_it():
    with pytest.raises(ValueError, match="Private_Dirty"):
        parse_smaps_rollup("Rss: 1 kB\nPss: 1 kB\nPrivate_Clean: 1 kB\n")


def test_stat_cpu_ticks_survive_a_command_name_with_spaces_and_parens():
    text = "1234 (python (x) y) S 1 1234 1234 0 -1 4194304 100 0 0 0 57 13 0 0 20 0 3 0 99 1 1 1"

    assert parse_stat_cpu_ticks(text) == 57 + 13


def test_schedstat_first_field_is_ns_on_cpu():
    assert parse_schedstat_ns("466385859 152276345 199\n") == 466385859
    with pytest.raises(ValueError):
        parse_schedstat_ns("")


def test_this_process_has_memory_and_cpu():
    m = read_memory(os.getpid())
    before = cpu_ns(os.getpid())
    sum(i * i for i in range(200_000))

    assert 0 < m.uss_kib <= m.rss_kib and m.pss_kib > 0
    assert cpu_ns(os.getpid()) > before


def test_proc_stat_busy_excludes_idle_and_iowait():
    from bench.memory import _CLK_TCK, parse_proc_stat_busy_ns

    busy, total = parse_proc_stat_busy_ns("cpu  100 5 50 1000 10 1 2 3 0 0\ncpu0 1 1 1 1 1 1 1 1 0 0\n")

    tick = 1_000_000_000 // _CLK_TCK
    assert (busy, total) == ((100 + 5 + 50 + 1 + 2 + 3) * tick, 1171 * tick)
    with pytest.raises(ValueError):
        parse_proc_stat_busy_ns("intr 1 2 3\n")


def test_thread_cpu_names_each_thread_and_counts_its_runs():
    import threading

    from bench.memory import thread_cpu, thread_delta

    stop = threading.Event()
    worker = threading.Thread(target=stop.wait, name="bench-probe")
    worker.start()
    try:
        before = thread_cpu(os.getpid())
        sum(i * i for i in range(200_000))  # burn some CPU on the main thread
        after = thread_cpu(os.getpid())
        assert before and after
        assert sum(ns for ns, _ in after.values()) > sum(ns for ns, _ in before.values())
        assert all(runs >= 1 for _, runs in after.values())
        delta = thread_delta(before, after, per=2)
        for name, (ns, runs) in after.items():
            assert delta[name]["cpu_us"] == round((ns - before.get(name, (0, 0))[0]) / 1000 / 2, 1)
            assert delta[name]["scheduled_in"] == round((runs - before.get(name, (0, 0))[1]) / 2, 2)
    finally:
        stop.set()
        worker.join()
    assert thread_cpu(2**22 + 12345) == {}  # no such process


def test_theil_sen_slope_ignores_outliers_that_move_least_squares():
    from bench.memory import theil_sen_slope

    xs = [float(i) for i in range(60)]
    flat = [1000.0] * 60
    flat[10] = 9000.0  # one sample during a burst
    flat[40] = 0.0
    assert theil_sen_slope(xs, flat) == 0.0
    leak = [1000.0 + 2.5 * x for x in xs]
    leak[5] = 50_000.0
    assert theil_sen_slope(xs, leak) == pytest.approx(2.5)
    with pytest.raises(ValueError):
        theil_sen_slope([1.0, 1.0], [2.0, 3.0])


def test_growth_fits_after_the_warmup_only():
    from bench.memory import growth

    # 80 s of start-up growth (caches filling), then flat: no growth after warm-up
    samples = [(float(t), 10_000 + min(t, 80) * 100) for t in range(0, 120)]
    g = growth(samples, warmup_s=80)
    assert (g.start_kib, g.measured_from_kib, g.end_kib, g.samples) == (10_000, 18_000, 18_000, 40)
    assert g.slope_kib_per_min == 0.0
    assert growth(samples, warmup_s=0).slope_kib_per_min > 3000  # the start-up ramp (6000 KiB/min) shows
