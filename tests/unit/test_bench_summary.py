"""Medians of several runs as the Markdown table of docs/bench/README.md."""

from __future__ import annotations

import orjson

from bench import summary


def _run(n: int, fan: float, lost: int = 0) -> dict:
    return {
        "slaves": n,
        "fanout_last_p50_us": fan,
        "lost": lost,
        "speedup_vs_naive": None,
        "detail": {"isolated": {"internal_us": {"p50": fan / 2}}},
    }


def test_medians_per_group_skip_missing_figures():
    runs = [_run(20, 3000.0), _run(20, 5000.0), _run(20, 4000.0, lost=1)]

    m = summary.medians(runs, ["fanout_last_p50_us", "lost", "speedup_vs_naive", "detail.isolated.internal_us.p50"])

    assert m == {"fanout_last_p50_us": 4000.0, "lost": 0, "speedup_vs_naive": None, "detail.isolated.internal_us.p50": 2000.0}


def test_markdown_has_one_column_per_slave_count(tmp_path, capsys):
    files = []
    for i, (n, fan) in enumerate([(100, 20000.0), (1, 500.0), (100, 30000.0)]):
        f = tmp_path / f"r{i}.json"
        f.write_bytes(orjson.dumps(_run(n, fan)))
        files.append(str(f))

    assert summary.main(files + ["--out", str(tmp_path / "m.json")]) == 0

    table = capsys.readouterr().out
    assert "| figure | N = 1 | N = 100 |" in table
    assert "| fan-out to last, p50 (us) | 500 | 25000 |" in table
    assert orjson.loads((tmp_path / "m.json").read_bytes())["100"]["runs"] == 2
