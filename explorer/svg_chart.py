"""A small self-contained SVG line chart (no plotting library needed): a row of panels, each one
y quantity against a shared x, for command output such as the temperature sweep's plot."""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

W, H = 260, 200
LEFT, RIGHT, TOP, BOTTOM = 60, 12, 28, 40


def _ticks(lo: float, hi: float, count: int = 4) -> list[float]:
    if hi <= lo:
        return [lo]
    return [lo + (hi - lo) * i / count for i in range(count + 1)]


def line_panels_svg(x: Sequence[float], panels: Sequence[tuple[str, Sequence[float]]], *, x_label: str, log_x: bool = False,
                    title: str = "", marks: Sequence[str] = ()) -> str:
    """SVG text: one panel per (title, ys), points joined in order of x; `marks` labels points
    (e.g. "learned"). NaN/None values are left out."""
    xs = [math.log10(v) if log_x else float(v) for v in x]
    order = sorted(range(len(xs)), key=lambda i: xs[i])
    x_lo, x_hi = min(xs), max(xs)
    if x_hi == x_lo:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    pad = 0.06 * (x_hi - x_lo)
    x_lo, x_hi = x_lo - pad, x_hi + pad
    width = W * len(panels)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{H + 24}" font-family="sans-serif" font-size="11">',
           '<rect width="100%" height="100%" fill="white"/>',
           f'<text x="{width / 2}" y="14" text-anchor="middle" font-size="13">{escape(title)}</text>']
    for p, (name, ys) in enumerate(panels):
        ox, oy = p * W, 24
        vals = [None if v is None or not math.isfinite(float(v)) else float(v) for v in ys]
        finite = [v for v in vals if v is not None]
        y_lo, y_hi = (min(finite), max(finite)) if finite else (0.0, 1.0)
        if y_hi == y_lo:
            half = max(abs(y_lo) * 0.1, 1e-3)
            y_lo, y_hi = y_lo - half, y_hi + half
        ypad = 0.08 * (y_hi - y_lo)
        y_lo, y_hi = y_lo - ypad, y_hi + ypad

        def px(v, ox=ox):
            return ox + LEFT + (v - x_lo) / (x_hi - x_lo) * (W - LEFT - RIGHT)

        def py(v, oy=oy, y_lo=y_lo, y_hi=y_hi):
            return oy + TOP + (1 - (v - y_lo) / (y_hi - y_lo)) * (H - TOP - BOTTOM)

        x0, x1, y0, y1 = ox + LEFT, ox + W - RIGHT, oy + TOP, oy + H - BOTTOM
        out.append(f'<text x="{(x0 + x1) / 2}" y="{oy + 16}" text-anchor="middle">{escape(name)}</text>')
        out.append(f'<rect x="{x0}" y="{y0}" width="{x1 - x0}" height="{y1 - y0}" fill="none" stroke="#999"/>')
        ticks = _ticks(y_lo + ypad, y_hi - ypad)
        step = (ticks[-1] - ticks[0]) / max(1, len(ticks) - 1)
        decimals = max(0, min(4, math.ceil(-math.log10(step)) + 1)) if step > 0 else 3
        for t in ticks:
            label = f"{t:.{decimals}f}"
            label = label.lstrip("-") if float(label) == 0 else label  # no "-0.00"
            out.append(f'<text x="{x0 - 4}" y="{py(t) + 4:.1f}" text-anchor="end">{label}</text>')
        for i in order:
            label = f"{10 ** xs[i]:.3g}" if log_x else f"{xs[i]:.3g}"
            out.append(f'<text x="{px(xs[i]):.1f}" y="{y1 + 14}" text-anchor="middle">{label}</text>')
        out.append(f'<text x="{(x0 + x1) / 2}" y="{y1 + 30}" text-anchor="middle">{escape(x_label)}</text>')
        pts = [(px(xs[i]), py(vals[i])) for i in order if vals[i] is not None]
        if len(pts) > 1:
            out.append('<polyline fill="none" stroke="#1f77b4" stroke-width="1.5" points="'
                       + " ".join(f"{a:.1f},{b:.1f}" for a, b in pts) + '"/>')
        for i in order:
            if vals[i] is None:
                continue
            mark = marks[i] if i < len(marks) else ""
            colour = "#d62728" if mark else "#1f77b4"
            out.append(f'<circle cx="{px(xs[i]):.1f}" cy="{py(vals[i]):.1f}" r="3.5" fill="{colour}"/>')
            if mark:
                out.append(f'<text x="{px(xs[i]) + 5:.1f}" y="{py(vals[i]) - 5:.1f}" fill="{colour}">{escape(mark)}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
