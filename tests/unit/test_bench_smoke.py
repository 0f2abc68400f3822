"""One quick run of the benchmark harness (2 slaves, 20 events): it starts everything, measures,
compares with the naive copier and writes its files. Figures are printed, never asserted."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import orjson
import pytest

from bench.run import Options, run, table

REQUIRED = (
    "slaves",
    "events",
    "first_hop_p50_us",
    "fanout_last_p50_us",
    "fanout_last_p99_us",
    "end_to_end_p50_us",
    "cpu_per_order_us",
    "uss_mb_per_slave",
    "pss_mb_total",
    "lost",
    "doubled",
    "naive_fanout_last_p50_us",
    "speedup_vs_naive",
)


@pytest.mark.timeout(180)
def test_two_slaves_twenty_events_mirror_everything_once_and_write_the_report(tmp_path):
    out = tmp_path / "bench.json"

    fig = run(Options(slaves=2, events=20, warmup=4, naive_events=4, out=str(out), quiet=True))

    written = orjson.loads(out.read_bytes())
    assert set(REQUIRED) <= set(written)
    assert (written["slaves"], written["events"]) == (2, 20)
    assert written["lost"] == 0 and written["doubled"] == 0
    assert written["detail"]["accounting"]["copied"] == 2 * 20
    for key in (
        "first_hop_p50_us",
        "fanout_last_p50_us",
        "end_to_end_p50_us",
        "naive_fanout_last_p50_us",
        "cpu_per_order_us",
        "uss_mb_per_slave",
        "pss_mb_total",
        "speedup_vs_naive",
    ):
        assert written[key] is not None and written[key] > 0, key
    ET.parse(tmp_path / "bench.svg")
    threads = written["detail"]["threads"]
    assert threads["slave_per_order"]["python"]["cpu_us"] > 0  # the main thread's share, per order
    assert threads["slave_per_order"]["python"]["scheduled_in"] >= 1  # woken at least once per order
    assert threads["simulator_per_event"] and threads["master_per_event"]
    print(table(fig))


@pytest.mark.timeout(120)
def test_the_bare_pipeline_floor_reaches_every_subscriber_for_every_event():
    from bench.bare import run as bare

    fig = bare(slaves=2, events=10, warmup=3, gap_s=0.0)

    assert fig["complete_events"] == 10
    assert fig["fanout_last_p50_us"] > 0 and fig["cpu_per_event_us"] > 0
    print(fig)
