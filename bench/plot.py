"""A latency histogram as a standalone SVG, written by hand (no plotting library needed).

Log-spaced bins on the x axis (microseconds), share of samples per bin on the y axis, one step
line per series so several distributions (ours, the naive copier) read on one picture.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from xml.sax.saxutils import escape

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b")
WIDTH, HEIGHT = 900, 480
LEFT, RIGHT, TOP, BOTTOM = 70, 20, 50, 60


def log_bins(lo: float, hi: float, per_decade: int = 20) -> list[float]:
    """Bin edges from <= lo to >= hi, `per_decade` per factor of ten (lo, hi > 0)."""
    if lo <= 0 or hi <= 0:
        raise ValueError("log bins need positive bounds")
    if hi < lo:
        lo, hi = hi, lo
    start = math.floor(math.log10(lo) * per_decade)
    stop = math.ceil(math.log10(hi) * per_decade)
    if stop == start:
        stop += 1
    return [10 ** (i / per_decade) for i in range(start, stop + 1)]


def histogram(values: Sequence[float], edges: Sequence[float]) -> list[int]:
    """Counts per bin [edges[i], edges[i+1]); the last bin includes its upper edge; values outside
    are clamped into the first / last bin."""
    counts = [0] * (len(edges) - 1)
    if not counts:
        return counts
    import bisect

    for v in values:
        i = bisect.bisect_right(edges, v) - 1
        counts[min(max(i, 0), len(counts) - 1)] += 1
    return counts


def _fmt_us(v: float) -> str:
    if v >= 1000:
        ms = v / 1000
        return f"{ms:g} ms" if ms >= 1 else f"{v:g} us"
    return f"{v:g} us"


def render_svg(series: Sequence[tuple[str, Sequence[float]]], title: str, per_decade: int = 20) -> str:
    """SVG text: one step line per (label, values in us). Series without values are left out of the
    axes but keep their legend entry (marked "no data")."""
    present = [v for _, vals in series for v in vals if v > 0]
    lo, hi = (min(present), max(present)) if present else (1.0, 10.0)
    edges = log_bins(lo, hi, per_decade)
    x0, x1 = math.log10(edges[0]), math.log10(edges[-1])
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    shares = []
    for _, vals in series:
        counts = histogram([v for v in vals if v > 0], edges)
        total = sum(counts)
        shares.append([c / total for c in counts] if total else [])
    ymax = max((s for sh in shares for s in sh), default=1.0) or 1.0

    def sx(v: float) -> float:
        return LEFT + (math.log10(v) - x0) / (x1 - x0) * plot_w

    def sy(share: float) -> float:
        return TOP + plot_h - share / ymax * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
        f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="sans-serif" font-size="12">',
        f'<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/>',
        f'<text x="{WIDTH / 2}" y="24" text-anchor="middle" font-size="15">{escape(title)}</text>',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" y2="{TOP + plot_h}" stroke="black"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" stroke="black"/>',
    ]
    decade = math.floor(x0)
    while decade <= math.ceil(x1):
        for mult in (1, 2, 5):
            v = mult * 10**decade
            if edges[0] <= v <= edges[-1]:
                x = sx(v)
                out.append(f'<line x1="{x:.1f}" y1="{TOP}" x2="{x:.1f}" y2="{TOP + plot_h}" stroke="#ddd"/>')
                out.append(f'<text x="{x:.1f}" y="{TOP + plot_h + 16}" text-anchor="middle">{_fmt_us(v)}</text>')
        decade += 1
    for i in range(5):
        share = ymax * i / 4
        y = sy(share)
        out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{share * 100:.1f}%</text>')
    out.append(f'<text x="{LEFT + plot_w / 2}" y="{HEIGHT - 18}" text-anchor="middle">latency (log scale)</text>')
    out.append(
        f'<text x="16" y="{TOP + plot_h / 2}" text-anchor="middle" '
        f'transform="rotate(-90 16 {TOP + plot_h / 2})">share of samples per bin</text>'
    )
    for idx, ((label, vals), sh) in enumerate(zip(series, shares, strict=False)):
        color = COLORS[idx % len(COLORS)]
        if sh:
            pts = [f"{sx(edges[0]):.1f},{sy(0):.1f}"]
            for i, s in enumerate(sh):
                pts.append(f"{sx(edges[i]):.1f},{sy(s):.1f}")
                pts.append(f"{sx(edges[i + 1]):.1f},{sy(s):.1f}")
            pts.append(f"{sx(edges[-1]):.1f},{sy(0):.1f}")
            out.append(f'<polyline fill="none" stroke="{color}" stroke-width="1.8" points="{" ".join(pts)}"/>')
        ly = TOP + 14 + idx * 18
        n = len([v for v in vals if v > 0])
        text = f"{label} (n={n})" if n else f"{label} (no data)"
        out.append(
            f'<line x1="{LEFT + plot_w - 390}" y1="{ly - 4}" x2="{LEFT + plot_w - 366}" y2="{ly - 4}" stroke="{color}" stroke-width="3"/>'
        )
        out.append(f'<text x="{LEFT + plot_w - 360}" y="{ly}">{escape(text)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
