"""Medians of several benchmark runs as a Markdown table (docs/bench/README.md).

    python -m bench.summary docs/bench/n1-run*.json docs/bench/n20-run*.json ... [--out FILE.json]

Runs are grouped by their number of slaves; each figure is the median over the group's runs.
"""

from __future__ import annotations

import argparse
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import orjson

from .stats import median

FIGURES = (
    ("first_hop_p50_us", "first hop p50 (us)"),
    ("fanout_last_p50_us", "fan-out to last, p50 (us)"),
    ("fanout_last_p99_us", "fan-out to last, p99 (us)"),
    ("detail.hops_us.fanout_last_by_slave_sent_stamp.p50", "... by the slaves' own sent stamps, p50 (us)"),
    ("end_to_end_p50_us", "end to end p50 (us)"),
    ("cpu_per_order_us", "CPU per order per slave (us)"),
    ("detail.cpu_per_order_us_by_phase.isolated", "... isolated events (us)"),
    ("detail.cpu_per_order_us_by_phase.burst", "... bursts of 10 (us)"),
    ("detail.threads.slave_per_order.python.scheduled_in", "slave main thread: runs per order"),
    ("detail.cpu_per_event_us.simulator", "simulator CPU per event (us)"),
    ("detail.cpu_per_event_us.master", "master CPU per event (us)"),
    ("uss_mb_per_slave", "USS per slave (MB)"),
    ("pss_mb_total", "PSS all slaves (MB)"),
    ("lost", "lost"),
    ("doubled", "doubled"),
    ("naive_fanout_last_p50_us", "naive fan-out to last, p50 (us)"),
    ("speedup_vs_naive", "speed-up vs naive (p50)"),
)


def _get(run: dict[str, Any], path: str) -> Any:
    value: Any = run
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def medians(runs: list[dict[str, Any]], paths: list[str]) -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for path in paths:
        values = [v for v in (_get(r, path) for r in runs) if isinstance(v, (int, float))]
        m = median(values)
        out[path] = None if m is None else round(m, 1)
    return out


def markdown(groups: dict[int, list[dict[str, Any]]]) -> str:
    ns = sorted(groups)
    head = "| figure | " + " | ".join(f"N = {n}" for n in ns) + " |"
    lines = [head, "|---" * (len(ns) + 1) + "|"]
    meds = {n: medians(groups[n], [k for k, _ in FIGURES]) for n in ns}
    for key, label in FIGURES:
        cells = []
        for n in ns:
            v = meds[n][key]
            cells.append("-" if v is None else (f"{v:g}" if isinstance(v, float) else str(v)))
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines.append("| runs | " + " | ".join(str(len(groups[n])) for n in ns) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.summary", description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, default=None, help="also write the medians as JSON")
    args = ap.parse_args(argv)
    groups: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for f in args.files:
        run = orjson.loads(f.read_bytes())
        groups[int(run["slaves"])].append(run)
    print(markdown(groups))
    if args.out is not None:
        data = {
            str(n): {
                "runs": len(rs),
                **medians(
                    rs,
                    [k for k, _ in FIGURES]
                    + [
                        "detail.isolated.internal_us.p50",
                        "detail.isolated.internal_us.p99",
                        "detail.isolated.fanout_last_us.p90",
                        "detail.isolated.fanout_last_us.max",
                        "detail.burst.fanout_last_us.p50",
                        "detail.burst.fanout_last_us.p99",
                        "detail.naive.fanout_last_us.p99",
                        "uss_mb_max",
                        "detail.foreign_cores_during_measurement",
                        "detail.load_avg_1m_at_start",
                        "detail.cpu_per_event_us.simulator",
                        "detail.cpu_per_event_us.master",
                    ],
                ),
            }
            for n, rs in sorted(groups.items())
        }
        args.out.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
