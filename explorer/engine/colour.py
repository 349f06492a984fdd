"""Colour limits of the heatmaps (pure numpy; used by the state, the views and the static report).

Three choices (``Appearance.color_range``):

- ``full``: the whole possible range, [-1, 1] for cosine similarities and [-2, 2] for the
  in-modal difference XXᵀ − YYᵀ. Colours mean the same thing for every model and setting, but a
  model whose similarities all lie in 0.5–0.8 shows as one colour.
- ``data``: robust limits from the values the zoomed-out heatmap actually shows: the pixels of
  the whole-matrix tile (explorer.engine.tiles, mean or max per pixel like the heatmap), the
  main-diagonal pixels left out (self-similarity 1 would flatten the scale), then the 1st and
  99th percentiles. For the difference heatmap the limits are
  symmetric, ±(99th percentile of |D|), so the diverging colour map stays centred at 0. The
  limits stay fixed while zooming, so a colour always means the same value; cells beyond them
  show the end colours.
- ``visible``: the same robust limits, recomputed from the pixels on screen after every zoom
  (:func:`visible_limits`). Zoomed out it looks like ``data``; zoomed in to single cells it
  spreads the colours over the cells shown (with max per pixel, the zoomed-out limits come from
  block maxima and would leave most single cells at the bottom colour). A colour then means
  different values at different zooms: the colour bar says which. Compared heatmaps share one
  scale, so on the Compare page it acts as ``data``.
- ``locked``: the limits in effect when the user chose it (``Appearance.locked_limits``, one
  range per kind), kept across α, filters, models and zooms until the user picks another range
  (or locks again): before and after a change are on one scale (:func:`locked_limits`).

Views shown together share one range: the compared heatmaps (Compare) take the union of
their ``data`` limits (:func:`union`; symmetric for the difference), or the locked range.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COLOR_RANGES = ("data", "visible", "full", "locked")
FULL_LIMITS = {"similarity": (-1.0, 1.0), "difference": (-2.0, 2.0)}
#: percentiles of the "data" range
DATA_PERCENTILES = (1.0, 99.0)
#: never narrower than this (a constant matrix still gets a usable colour bar)
MIN_SPAN = 1e-3


def offdiagonal_values(grid: np.ndarray, exclude_diagonal: bool = True) -> np.ndarray:
    """The finite values of a square grid without its main diagonal (as float64)."""
    g = np.asarray(grid, dtype=np.float64)
    if exclude_diagonal and g.ndim == 2 and g.shape[0] == g.shape[1] and g.shape[0] > 1:
        g = g[~np.eye(g.shape[0], dtype=bool)]
    v = g.ravel()
    return v[np.isfinite(v)]


def _widen(lo: float, hi: float) -> tuple[float, float]:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return -1.0, 1.0
    if hi - lo < MIN_SPAN:
        mid = (hi + lo) / 2.0
        return mid - MIN_SPAN / 2.0, mid + MIN_SPAN / 2.0
    return float(lo), float(hi)


def data_limits(grid: np.ndarray, q: tuple[float, float] = DATA_PERCENTILES, exclude_diagonal: bool = True) -> tuple[float, float]:
    """(q_lo-th, q_hi-th percentile) of the off-diagonal values of `grid`."""
    v = offdiagonal_values(grid, exclude_diagonal)
    if v.size == 0:
        return -1.0, 1.0
    lo, hi = np.percentile(v, q)
    return _widen(float(lo), float(hi))


def symmetric_data_limits(grid: np.ndarray, q: float = DATA_PERCENTILES[1], exclude_diagonal: bool = True) -> tuple[float, float]:
    """(−m, m) with m the q-th percentile of |values| off the diagonal (never 0)."""
    v = offdiagonal_values(grid, exclude_diagonal)
    if v.size == 0:
        return -1.0, 1.0
    m = float(np.percentile(np.abs(v), q))
    m = max(m, MIN_SPAN / 2.0)
    return -m, m


def union(limits: Sequence[tuple[float, float]]) -> tuple[float, float]:
    """The smallest range holding all the given ranges (shared colours across compared models)."""
    if not limits:
        return -1.0, 1.0
    return float(min(lo for lo, _ in limits)), float(max(hi for _, hi in limits))


def color_limits(overview: np.ndarray, color_range: str, kind: str = "similarity") -> tuple[float, float]:
    """The colour limits of a heatmap whose whole-matrix tile (pixels) is `overview`."""
    if color_range not in COLOR_RANGES:
        raise ValueError(f"color_range must be one of {COLOR_RANGES}, got {color_range!r}")
    if kind not in FULL_LIMITS:
        raise ValueError(f"kind must be one of {tuple(FULL_LIMITS)}, got {kind!r}")
    if color_range == "full":
        return FULL_LIMITS[kind]
    # 'locked' without a stored range: the data limits it locks (explorer.state: lock_colours)
    return symmetric_data_limits(overview) if kind == "difference" else data_limits(overview)


def visible_limits(values: np.ndarray, kind: str = "similarity") -> tuple[float, float] | None:
    """The ``visible`` limits of the pixels on screen (any shape; NaN outside the matrix), or
    None when there is nothing to go by. One cell alone gets a narrow range around its value
    (its colour is the middle of the map, the colour bar says the value)."""
    v = np.asarray(values, dtype=np.float64).ravel()
    v = v[np.isfinite(v)]
    if v.size == 0:
        return None
    if kind == "difference":
        m = max(float(np.percentile(np.abs(v), DATA_PERCENTILES[1])), MIN_SPAN / 2.0)
        return -m, m
    lo, hi = np.percentile(v, DATA_PERCENTILES)
    return _widen(float(lo), float(hi))


def locked_limits(stored: dict | None, kind: str) -> tuple[float, float] | None:
    """The locked (lo, hi) of `kind` in ``Appearance.locked_limits``, or None when there is none
    (or it is not a finite range, lo < hi)."""
    lim = (stored or {}).get(kind)
    try:
        lo, hi = (float(v) for v in lim)
    except (TypeError, ValueError):
        return None
    return (lo, hi) if (np.isfinite(lo) and np.isfinite(hi) and lo < hi) else None


def shown_range(color_range: str, shared: bool) -> str:
    """The colour range a heatmap actually uses: compared heatmaps share one scale, so there
    'visible' acts as 'data'."""
    return "data" if shared and color_range == "visible" else color_range


def describe(color_range: str, clim: tuple[float, float]) -> str:
    """A short label for the colour bar, e.g. 'data range p1–p99: −0.21 … 0.78'."""
    lo, hi = clim
    if color_range == "full":
        return f"full range {lo:g} … {hi:g}"
    if color_range == "locked":
        return f"locked {lo:.2f} … {hi:.2f}"
    p = f"p{DATA_PERCENTILES[0]:g}–p{DATA_PERCENTILES[1]:g}"
    if color_range == "visible":
        return f"{p} of the cells shown (zoomed out: {lo:.2f} … {hi:.2f})"
    return f"data {p}: {lo:.2f} … {hi:.2f}"


# -- quadrants -----------------------------------------------------------------------------------
#: (name, row block, column block) of the 2M×2M similarity matrix's quadrants
QUADRANTS = (("image–image", 0, 0), ("image–text", 0, 1), ("text–image", 1, 0), ("text–text", 1, 1))
#: a quadrant whose pixels (p1–p99) span less than this share of the colour range reads as one flat colour
FLAT_SHARE = 0.10


def _blocks(edges: np.ndarray, m: int) -> np.ndarray:
    """Block (0 first half, 1 second half, −1 straddling M) of each pixel between `edges`."""
    return np.where(edges[1:] <= m, 0, np.where(edges[:-1] >= m, 1, -1))


def quadrant_ranges(values: np.ndarray, x_edges: np.ndarray, y_edges: np.ndarray, m: int,
                    q: tuple[float, float] = DATA_PERCENTILES) -> dict[str, tuple[float, float, int]]:
    """{quadrant: (p_lo, p_hi, pixels)} of the finite pixels of a similarity tile lying wholly in
    each quadrant of the 2M×2M matrix, leaving out the pixels straddling row/column M and those
    holding a diagonal cell of their quadrant (self-similarity, or a matched pair: drawn apart).
    Quadrants without such pixels are absent."""
    v = np.asarray(values, dtype=np.float64)
    xe, ye = np.asarray(x_edges, dtype=np.int64), np.asarray(y_edges, dtype=np.int64)
    cb, rb = _blocks(xe, m), _blocks(ye, m)
    out: dict[str, tuple[float, float, int]] = {}
    for name, qr, qc in QUADRANTS:
        rows, cols = np.flatnonzero(rb == qr), np.flatnonzero(cb == qc)
        if rows.size == 0 or cols.size == 0:
            continue
        # cell ranges within the quadrant: a pixel holds a diagonal cell when its row and column ranges overlap
        r0, r1 = ye[rows] - qr * m, ye[rows + 1] - qr * m
        c0, c1 = xe[cols] - qc * m, xe[cols + 1] - qc * m
        diagonal = (r0[:, None] < c1[None, :]) & (c0[None, :] < r1[:, None])
        block = v[np.ix_(rows, cols)][~diagonal]
        block = block[np.isfinite(block)]
        if block.size:
            lo, hi = np.percentile(block, q)
            out[name] = (float(lo), float(hi), int(block.size))
    return out


def flat_quadrants_note(ranges: dict[str, tuple[float, float, int]], clim: tuple[float, float], cells_per_pixel: float = 1.0,
                        how: str = "mean", share: float = FLAT_SHARE) -> str:
    """One sentence naming the quadrants whose pixels span less than `share` of the colour range
    `clim` (they read as one flat colour; real data, not hidden): their p1–p99 values and share,
    and, when a pixel averages many cells, how to see the cells' spread. '' when none is flat."""
    span = float(clim[1]) - float(clim[0])
    if not ranges or not np.isfinite(span) or span <= 0:
        return ""
    flat = [(name, lo, hi) for name, (lo, hi, _) in ranges.items() if (hi - lo) < share * span]
    if not flat:
        return ""
    what = ", ".join(f"{name} {lo:.3f}…{hi:.3f} ({100 * (hi - lo) / span:.0f} %)" for name, lo, hi in flat)
    text = f"nearly one colour at this zoom (p1–p99 of the quadrant's pixels, share of the colour range): {what}"
    if cells_per_pixel > 1.0:
        text += (f"; each pixel is the {how} of about {cells_per_pixel:,.0f} cells: zoom in, or choose 'visible' colours, "
                 "to see the cells' spread")
    return text
