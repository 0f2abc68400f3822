"""The hand-written SVG histogram: bins, counts, and a well-formed picture."""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET

import pytest

from bench.plot import histogram, log_bins, render_svg

SVG = "{http://www.w3.org/2000/svg}"


def test_log_bins_cover_the_range_with_the_asked_density():
    edges = log_bins(120.0, 35_000.0, per_decade=10)

    assert edges[0] <= 120.0 and edges[-1] >= 35_000.0
    ratios = {round(b / a, 6) for a, b in zip(edges, edges[1:], strict=False)}
    assert ratios == {round(10**0.1, 6)}


def test_log_bins_refuse_non_positive_bounds():
    with pytest.raises(ValueError):
        log_bins(0.0, 10.0)


def test_histogram_counts_and_clamps_outliers_into_the_end_bins():
    edges = [1.0, 10.0, 100.0, 1000.0]

    assert histogram([0.5, 1.0, 5.0, 50.0, 999.0, 1000.0, 5000.0], edges) == [3, 1, 3]


def test_svg_is_well_formed_with_one_line_per_series_and_a_legend():
    svg = render_svg([("ours", [200.0, 300.0, 250.0, 4000.0]), ("naive", [9000.0, 12000.0]), ("empty", [])], "latency <N=20> & more")

    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert len(root.findall(f"{SVG}polyline")) == 2  # the empty series has no line
    texts = [t.text or "" for t in root.iter(f"{SVG}text")]
    assert "latency <N=20> & more" in texts
    assert any(t.startswith("ours (n=4)") for t in texts) and any("empty (no data)" in t for t in texts)
    for line in root.findall(f"{SVG}polyline"):
        points = [tuple(map(float, p.split(","))) for p in line.get("points", "").split()]
        assert all(math.isfinite(x) and math.isfinite(y) for x, y in points)
